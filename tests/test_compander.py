"""Tests of theorylab.nets.compander: each formula against a second route."""

import math

import pytest
import torch

from theorylab.nets import compander

KINDS = compander.KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_derivatives_match_autograd(kind):
    c = compander.Compander(0.7, 2.5, kind)
    v = torch.linspace(-3, 3, 101, dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(c(v).sum(), v, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), v)
    assert torch.allclose(d1, c.derivative(v.detach()), atol=1e-13)
    assert torch.allclose(d2, c.second_derivative(v.detach()), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_inverse_round_trip_and_bound(kind):
    c = compander.Compander(0.5, 3.0, kind)
    w = torch.linspace(-0.49, 0.49, 201, dtype=torch.float64)
    assert torch.allclose(c(c.inverse(w)), w, atol=1e-12)
    v = torch.linspace(-2, 2, 1001, dtype=torch.float64)
    assert bool((c(v).abs() < c.bound).all())                # strictly inside (in floating point: |kv/a| moderate)
    assert bool((c(50 * v).abs() <= c.bound).all())
    assert float(c.derivative(torch.zeros(1, dtype=torch.float64))) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="w"):
        c.inverse(torch.tensor([0.5], dtype=torch.float64))


@pytest.mark.parametrize("kind", KINDS)
def test_rate_is_derivative_squared_at_inverse(kind):
    c = compander.Compander(1.3, 1.7, kind)
    w = torch.linspace(-1.29, 1.29, 99, dtype=torch.float64)
    assert torch.allclose(c.rate(w), c.derivative(c.inverse(w)) ** 2, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_penalty_gradient_is_derivative_of_half_inverse_squared(kind):
    c = compander.Compander(0.8, 2.0, kind)
    w = torch.linspace(-0.75, 0.75, 61, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad((0.5 * c.inverse(w) ** 2).sum(), w)
    assert torch.allclose(g, c.penalty_gradient(w.detach()), rtol=1e-10, atol=1e-12)
    small = torch.tensor([1e-4], dtype=torch.float64)
    assert float(c.penalty_gradient(small)) == pytest.approx(1e-4 / 4.0, rel=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_equivalence_and_second_order(kind):
    gen = torch.Generator().manual_seed(0)
    c = compander.Compander(0.6, 2.0, kind)
    v = torch.randn(500, generator=gen, dtype=torch.float64) * 0.2
    g = torch.randn(500, generator=gen, dtype=torch.float64)
    gaps = []
    for eta in (1e-4, 2e-4):
        exact = compander.step_via_v(c, v, g, eta)
        first = compander.step_preconditioned(c, v, g, eta)
        second = compander.step_second_order(c, v, g, eta)
        assert float((exact - first - second).abs().sum()) < 1e-2 * float(second.abs().sum())
        gaps.append(float((exact - first).abs().sum()))
    assert math.log2(gaps[1] / gaps[0]) == pytest.approx(2.0, abs=1e-2)


def test_mlp_gradient_chain_rule_and_identical_start():
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    w0 = compander.uniform_weights([5, 4, 3], gens, dtype=torch.float64)
    arms = compander.Arms(torch.tensor([False, True, True]), torch.zeros(3))
    w0 = [w[:1].repeat(3, 1, 1) for w in w0]
    model = compander.CompandedMLP(w0, arms, slope=2.0, bound_mult=4.0)
    for w, w_start in zip(model.weights(), w0):
        assert torch.allclose(w, w_start, atol=1e-14)
    x = torch.randn(1, 7, 5, dtype=torch.float64, generator=gens[0]).repeat(3, 1, 1)
    y = torch.randint(0, 3, (1, 7), generator=gens[0]).repeat(3, 1)
    gv = torch.autograd.grad(compander.cross_entropy(model.forward(x), y), model.v)
    for l, comp in enumerate(model.companders):
        assert torch.allclose(gv[l][1], comp.derivative(model.v[l][1].detach()) * gv[l][0], atol=1e-14)


def test_train_dead_input_decays_in_closed_form():
    gens = [torch.Generator().manual_seed(1)]
    w0 = [w.repeat(2, 1, 1) for w in compander.uniform_weights([4, 3, 2], gens, dtype=torch.float64)]
    arms = compander.Arms(torch.tensor([False, True]), torch.tensor([0.1, 0.1], dtype=torch.float64))
    model = compander.CompandedMLP(w0, arms, slope=2.0, bound_mult=4.0)
    x = torch.rand(2, 6, 4, dtype=torch.float64, generator=gens[0])
    x[..., 0] = 0.0                                         # pixel 0 blank: no gradient to row 0 of W_1
    y = torch.randint(0, 2, (2, 6), generator=gens[0])
    compander.train(model, x, y, lr=0.5, steps=20)
    shrink = (1 - 0.5 * 0.1) ** 20
    w = model.weights()[0].detach()
    comp = model.companders[0]
    assert torch.allclose(w[0, 0], shrink * w0[0][0, 0], atol=1e-12)
    assert torch.allclose(w[1, 0], comp(shrink * comp.inverse(w0[0][1, 0])), atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="bound"):
        compander.Compander(0.0, 1.0)
    with pytest.raises(ValueError, match="kind"):
        compander.Compander(1.0, 1.0, "sigmoid")
    with pytest.raises(ValueError, match="bound_mult"):
        compander.CompandedMLP([torch.zeros(1, 2, 2)], compander.Arms(torch.tensor([True]), torch.zeros(1)),
                               slope=1.0, bound_mult=0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_max_curvature_is_sup_of_second_derivative(kind):
    c = compander.Compander(0.9, 2.2, kind)
    v = torch.linspace(-5, 5, 200_001, dtype=torch.float64)
    assert float(c.second_derivative(v).abs().max()) == pytest.approx(c.max_curvature, rel=1e-8)
