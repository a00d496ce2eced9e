"""Tests of theorylab.structure.htf: the contraction by two routes, the norm dynamics against finite
differences, matricization ranks and the trainer."""

import numpy as np
import pytest
import torch

from theorylab.structure import htf


def _gens(n, base=0):
    return [torch.Generator().manual_seed(base + i) for i in range(n)]


def test_contract_matches_explicit_einsum_order4():
    p = htf.init(4, 3, [2, 3], 1.0, _gens(3))
    u = [p[0][:, n] for n in range(4)]
    explicit = torch.einsum("sir,sjr,srp,skq,slq,sqp,sp->sijkl", u[0], u[1], p[1][:, 0], u[2], u[3], p[1][:, 1], p[2])
    assert torch.allclose(htf.contract(p), explicit, atol=1e-13)
    assert torch.allclose(htf.contract_einsum(p), explicit, atol=1e-13)


def test_contract_two_routes_order8():
    p = htf.init(8, 2, [2, 3, 2], 1.0, _gens(2, 5))
    assert torch.allclose(htf.contract(p), htf.contract_einsum(p), atol=1e-12)


def test_components_sum_to_tensor():
    p = htf.init(4, 3, [4, 3], 1.0, _gens(2))
    for lev, i in htf.nodes(p):
        r_count = p[-1].shape[-1] if lev == len(p) - 1 else p[lev].shape[-2]
        total = sum(htf.component_tensor(p, lev, i, r) for r in range(r_count))
        assert torch.allclose(total, htf.contract(p), atol=1e-12)


@pytest.mark.parametrize("node", [(2, 0), (1, 0), (1, 1)])
def test_norm_velocity_matches_finite_difference(node):
    gens = _gens(2, 11)
    p = htf.init(4, 3, [3, 3], 0.7, gens)
    tgt = htf.separable_target(4, 3, [1.0, 0.5], _gens(2, 20))
    mask = htf.completion_mask((3,) * 4, 40, _gens(2, 30))
    q = [x.clone().requires_grad_(True) for x in p]
    grads = torch.autograd.grad(htf.loss(htf.contract(q), tgt, mask).sum(), q)
    h = 1e-6
    plus = htf.component_norms([x - h * g for x, g in zip(p, grads)])
    minus = htf.component_norms([x + h * g for x, g in zip(p, grads)])
    k = htf.nodes(p).index(node)
    fd = (plus - minus)[:, k, 1] / (2 * h)
    grad_w = htf.loss_grad(htf.contract(p), tgt, mask)
    formula = htf.norm_velocity(p, grad_w, *node, r=1)
    assert torch.allclose(fd, formula, rtol=1e-6, atol=1e-12)
    # the balanced formula differs when the component is unbalanced (random init)
    assert not torch.allclose(fd, htf.norm_velocity(p, grad_w, *node, r=1, balanced=True), rtol=1e-3)


def test_balanced_formula_exact_when_balanced():
    p = htf.init(4, 3, [2, 2], 1.0, _gens(1, 3))
    # balance root component 0: scale the root scalar and the two columns to equal norms
    v = [x[:, 0] for x in htf._component_vectors(p, 2, 0)]
    target_norm = (v[0] * v[1] * v[2]) ** (1 / 3)
    p[2][:, 0] *= target_norm / v[0]
    p[1][:, 0, :, 0] *= (target_norm / v[1])[:, None]
    p[1][:, 1, :, 0] *= (target_norm / v[2])[:, None]
    grad_w = torch.randn(htf.contract(p).shape, generator=_gens(1, 9)[0], dtype=torch.float64)
    a = htf.norm_velocity(p, grad_w, 2, 0, 0)
    b = htf.norm_velocity(p, grad_w, 2, 0, 0, balanced=True)
    assert torch.allclose(a, b, rtol=1e-12)


def test_eranks_and_root_svs_of_separable_target():
    tgt = htf.separable_target(4, 5, [1.0, 1e-9], _gens(2))
    er = htf.matricization_eranks(tgt)
    assert set(er) == {(0, 1), (0,), (1,), (2,), (3,)}
    for v in er.values():
        assert torch.allclose(v, torch.ones_like(v), atol=1e-6)
    sv = htf.root_singular_values(tgt, 4)
    assert sv.shape == (2, 25) and bool((sv[:, 1] < 1e-8).all())


def test_train_reduces_loss_and_records():
    gens = _gens(2)
    tgt = htf.separable_target(4, 3, [1.0], gens)
    mask = htf.completion_mask((3,) * 4, 60, _gens(2, 7))
    run = htf.train(htf.init(4, 3, [3, 3], 0.3, _gens(2, 4)), tgt, mask, lr=0.2, n_steps=300,
                    snapshot_steps=[0, 100], every=50)
    assert run.norms.shape == (301, 2, 3, 3) and run.t.shape == (301, 2)
    assert bool((run.loss[-1] < run.loss[0]).all())
    assert sorted(run.snapshots) == [0, 100] and run.w.shape[0] == len(run.w_steps) == 7


def test_bad_arguments():
    with pytest.raises(ValueError):
        htf.init(6, 3, [2, 2], 1.0, _gens(1))
    with pytest.raises(ValueError):
        htf.init(4, 3, [2], 1.0, _gens(1))
    with pytest.raises(ValueError):
        htf.completion_mask((3, 3), 0, _gens(1))


def test_activation_times_sorted_and_nan():
    t = np.tile(np.arange(5.0)[:, None], (1, 1))
    norms = torch.tensor([[[0.01, 0.01]], [[0.5, 0.01]], [[1.0, 0.01]], [[1.0, 0.3]], [[1.0, 0.5]]])
    at = htf.activation_times(t, norms)
    assert at[0, 0] == 1.0 and at[0, 1] == 3.0


def test_random_ht_target_has_bounded_eranks():
    tgt = htf.target(4, 4, [2, 2], _gens(2, 40), 3.0)
    assert torch.allclose(torch.linalg.norm(tgt.flatten(1), dim=1), torch.full((2,), 3.0, dtype=torch.float64))
    for v in htf.matricization_eranks(tgt).values():
        assert bool((v <= 2 + 1e-9).all())
