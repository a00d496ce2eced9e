"""Tests of theorylab.nets.parametrizations: the abc tables, their exponents, and the MLP that uses them."""

import numpy as np
import pytest
import torch

from theorylab import fit
from theorylab.nets import parametrizations as par

torch.set_num_threads(1)

# Effective per-layer exponents (no multipliers): W ~ n^init, SGD learning rate on W ~ n^lr, for
# layers (input, hidden, output) with L = 2. Typed here from TP4 Sec. 3 / TP5 Table 3 as the
# independent reference the library's table must reproduce.
EFFECTIVE = {
    "SP": dict(init=(0.0, -0.5, -0.5), lr=(0.0, 0.0, 0.0)),
    "SP_LR": dict(init=(0.0, -0.5, -0.5), lr=(-1.0, -1.0, -1.0)),
    "NTK": dict(init=(0.0, -0.5, -0.5), lr=(0.0, -1.0, -1.0)),
    "MUP": dict(init=(0.0, -0.5, -1.0), lr=(1.0, 0.0, -1.0)),
}


@pytest.mark.parametrize("name", par.NAMES)
def test_width_doubling_gives_each_exponent(name):
    """Doubling the width multiplies every initial scale and learning rate by 2^(its exponent)."""
    p = par.named(name, 2)
    s1, s2 = (par.effective_scales(p, n, 16, 32) for n in (256, 512))
    np.testing.assert_allclose(np.log2(s2.init_std / s1.init_std), EFFECTIVE[name]["init"], atol=1e-12)
    np.testing.assert_allclose(np.log2(s2.lr_factor / s1.lr_factor), EFFECTIVE[name]["lr"], atol=1e-12)
    m1, m2 = (par.layer_scales(p, n, 16, 32) for n in (256, 512))
    np.testing.assert_allclose(np.log2(m2.multiplier / m1.multiplier), -np.array(p.a), atol=1e-12)
    np.testing.assert_allclose(np.log2(m2.init_std / m1.init_std), -np.array(p.b), atol=1e-12)
    np.testing.assert_allclose(np.log2(m2.lr_factor / m1.lr_factor), -p.c, atol=1e-12)


def test_all_coincide_at_base_width():
    ref = par.effective_scales(par.named("SP", 2), 32, 16, 32)
    for name in par.NAMES:
        s = par.effective_scales(par.named(name, 2), 32, 16, 32)
        np.testing.assert_allclose(s.init_std, ref.init_std)
        np.testing.assert_allclose(s.lr_factor, ref.lr_factor)


def test_named_exponents_and_regimes():
    expect = {"SP": ([-0.5, 0.5, 1.0], -1.0, "unstable", 1.0), "SP_LR": ([-1.5, -0.5, 0.0], 0.5, "kernel", 0.0),
              "NTK": ([-0.5, -0.5, 0.0], 0.5, "kernel", 0.0), "MUP": ([0.0, 0.0, 0.0], 0.0, "feature learning", 0.0)}
    for name, (e, r, reg, delta) in expect.items():
        p = par.named(name, 2)
        np.testing.assert_allclose(par.update_exponents(p), e)
        assert par.feature_exponent(p) == pytest.approx(r)
        assert par.regime(p) == reg
        assert par.stable_lr_shift(p) == pytest.approx(delta)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_mup_is_maximal_at_every_depth(depth):
    p = par.named("MUP", depth)
    np.testing.assert_allclose(par.update_exponents(p), 0.0)
    assert par.feature_exponent(p) == 0.0 and par.regime(p) == "feature learning"


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_named_mup_is_the_derived_maximal_update(depth):
    derived, typed = par.maximal_update(depth), par.named("MUP", depth)
    assert derived.a == typed.a and derived.b == typed.b and derived.c == typed.c
    shifted = par.maximal_update(depth, c=1.0)                  # the same network by the symmetry
    np.testing.assert_allclose(par.update_exponents(shifted), 0.0)


def test_symmetry_leaves_exponents_unchanged():
    """(a, b, c) -> (a + t, b - t, c - 2t): the same network, the same exponents."""
    p = par.named("NTK", 3)
    t = 0.25
    q = par.Abc("shifted", tuple(x + t for x in p.a), tuple(x - t for x in p.b), p.c - 2 * t)
    np.testing.assert_allclose(par.update_exponents(q), par.update_exponents(p))
    assert par.feature_exponent(q) == pytest.approx(par.feature_exponent(p))


def test_unstable_init_is_rejected():
    with pytest.raises(ValueError, match="stable"):
        par.update_exponents(par.Abc("bad", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0))
    with pytest.raises(ValueError, match="name"):
        par.named("XYZ", 2)


def _data(replicas=3, batch=32, d=16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(replicas, batch, d, generator=g, dtype=torch.float64)
    y = torch.tanh(x[..., 0]) + 0.5 * x[..., 1]
    return x, y


def test_multiplier_and_effective_forms_train_identically():
    x, y = _data()
    outs = []
    for eff in (False, True):
        net = par.AbcMLP(par.named("MUP", 2), 96, 16, replicas=3, gen=torch.Generator().manual_seed(1), base_width=32,
                         effective=eff, dtype=torch.float64)
        par.train_sgd(net, x, y, 0.1, 4)
        outs.append(net.features(x)[1])
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)


def test_replicas_are_independent_and_lr_per_replica():
    x, y = _data(replicas=2)
    net = par.AbcMLP(par.named("SP", 2), 64, 16, replicas=2, gen=torch.Generator().manual_seed(2), dtype=torch.float64)
    w_before = [w.detach().clone() for w in net.w]
    par.train_sgd(net, x, y, torch.tensor([0.1, 0.0], dtype=torch.float64), 2)
    assert all((w[1] == b[1]).all() for w, b in zip(net.w, w_before))      # lr 0: replica 1 untouched
    assert any((w[0] != b[0]).any() for w, b in zip(net.w, w_before))


@pytest.mark.parametrize("name", ["SP", "NTK", "MUP"])
def test_coordinate_check_slopes_match_theory(name):
    """Measured first-step slopes agree with update_exponents (a closed form against a simulation)."""
    x, y = _data(replicas=4)
    widths = [32, 64, 128, 256, 512]
    p = par.named(name, 2)
    upd = par.first_step_updates(p, widths, x.float(), y.float(), 0.05, gen=torch.Generator().manual_seed(3), base_width=32)
    slopes = [np.mean([fit.loglog_slope(widths, upd[:, q, r]).slope for r in range(4)]) for q in range(3)]
    np.testing.assert_allclose(slopes, par.update_exponents(p), atol=0.15)
