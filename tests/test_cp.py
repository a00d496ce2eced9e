"""Tests of theorylab.structure.cp: CP factorization, its gradients and its component-norm dynamics."""

import numpy as np
import pytest
import torch

from theorylab.structure import cp

S, D, R = 2, 4, 3


def gens(*keys):
    out = []
    for k in keys:
        g = torch.Generator()
        g.manual_seed(k)
        out.append(g)
    return out


def problem(order=3, observed=30, scale=0.3):
    target = cp.random_target(order, D, (2.0, 1.0), gens(1, 2))
    mask = cp.observation_mask(order, D, observed, gens(3, 4))
    f = cp.balanced_init(order, R, D, scale, gens(5, 6))
    return f, target, mask


def test_reconstruct_matches_explicit_einsum():
    f, _, _ = problem()
    explicit = torch.einsum("sri,srj,srk->sijk", f[:, 0], f[:, 1], f[:, 2])
    assert torch.allclose(cp.reconstruct(f), explicit, atol=1e-14)
    f4, _, _ = problem(order=4, observed=100)
    explicit4 = torch.einsum("sri,srj,srk,srl->sijkl", *f4.unbind(1))
    assert torch.allclose(cp.reconstruct(f4), explicit4, atol=1e-14)


def test_target_has_the_requested_component_norms_and_rank():
    target = cp.random_target(3, D, (2.0,), gens(7))
    assert float(torch.linalg.norm(target)) == pytest.approx(2.0, rel=1e-12)
    unfold = target[0].reshape(D, -1)
    assert int(torch.linalg.matrix_rank(unfold)) == 1


def test_factor_grads_match_autograd():
    for order in (3, 4):
        f, target, mask = problem(order=order, observed=min(30, D**order))
        x = f.clone().requires_grad_(True)
        cp.loss(cp.reconstruct(x), target, mask).sum().backward()
        ours = cp.factor_grads(f, cp.loss_grad(cp.reconstruct(f), target, mask))
        assert torch.allclose(ours, x.grad, atol=1e-12)


def test_balanced_init_is_balanced_and_keeps_component_norms():
    g = gens(5, 6)
    f = cp.balanced_init(3, R, D, 0.3, g)
    norms = torch.linalg.norm(f, dim=-1)  # (S, N, R)
    assert torch.allclose(norms, norms[:, :1].expand_as(norms), rtol=1e-12)
    raw = torch.stack([0.3 * torch.randn(3, R, D, generator=gg, dtype=cp.DTYPE) for gg in gens(5, 6)])
    assert torch.allclose(cp.component_norms(f), cp.component_norms(raw), rtol=1e-12)


def flow_derivative(f, target, mask, h=1e-6):
    """d||W_r||/dt along the gradient flow direction, by a central finite difference."""
    v = -cp.factor_grads(f, cp.loss_grad(cp.reconstruct(f), target, mask))
    return (cp.component_norms(f + h * v) - cp.component_norms(f - h * v)) / (2 * h)


def test_norm_law_matches_finite_differences_for_balanced_factors():
    f, target, mask = problem()
    fd = flow_derivative(f, target, mask)
    grad = cp.loss_grad(cp.reconstruct(f), target, mask)
    assert torch.allclose(cp.norm_velocity(f, grad), fd, rtol=1e-6, atol=1e-10)
    # a rival exponent differs where norms are far from 1
    rival = cp.norm_velocity(f, grad, exponent=2 - 1 / 3)
    assert not torch.allclose(rival, fd, rtol=1e-2)


def test_exact_identity_holds_for_unbalanced_factors_and_balanced_law_does_not():
    f, target, mask = problem()
    f = f.clone()
    f[:, 0] *= 2.0
    f[:, 1] *= 0.5  # same component norms, unbalanced
    fd = flow_derivative(f, target, mask)
    grad = cp.loss_grad(cp.reconstruct(f), target, mask)
    assert torch.allclose(cp.norm_velocity_exact(f, grad), fd, rtol=1e-6, atol=1e-10)
    assert not torch.allclose(cp.norm_velocity(f, grad), fd, rtol=1e-2)


def test_loss_normalisation_full_observation_is_half_frobenius():
    f, target, _ = problem()
    full = torch.ones_like(target)
    w = cp.reconstruct(f)
    assert torch.allclose(cp.loss(w, target, full), 0.5 * ((w - target) ** 2).flatten(1).sum(1))


def test_reduced_blowup_time_scales_as_alpha_to_the_two_minus_n():
    f, target, mask = problem(scale=1e-2)
    g0 = -cp.loss_grad(torch.zeros_like(target), target, mask)
    t_a = cp.reduced_blowup_time(f, g0)
    t_2a = cp.reduced_blowup_time(2 * f, g0)
    finite = torch.isfinite(t_a)
    assert bool(finite.any())
    ratio = (t_a / t_2a)[finite]
    assert torch.allclose(ratio, torch.full_like(ratio, 2.0 ** -cp.blowup_time_scaling(3)), rtol=1e-3)


def test_reduced_blowup_time_of_a_scalar_ode():
    """One aligned rank-one component, G0 = s u⊗v⊗w: a' = s a^2, a(0)=a0, blows up at 1/(s a0)."""
    e = torch.zeros(1, 3, 1, D, dtype=cp.DTYPE)
    e[..., 0] = 1.0
    a0, s = 0.01, 2.0
    g0 = s * cp.reconstruct(e)
    t = cp.reduced_blowup_time(a0 * e, g0, growth=1e6)
    assert float(t[0, 0]) == pytest.approx(1 / (s * a0), rel=1e-4)


def test_training_small_init_gives_a_staircase_and_fits():
    target = cp.random_target(3, D, (2.0, 1.0), gens(11))
    mask = torch.ones_like(target)
    f = cp.balanced_init(3, R, D, 1e-2, gens(12))
    traj = cp.train(f, target, mask, lr=0.05, n_steps=6000, record_every=100)
    assert float(traj.loss[-1, 0]) < 1e-6
    act = cp.activation_times(traj, 0.5)
    assert act[0, 0] < act[0, 1]
    g0 = -cp.loss_grad(torch.zeros_like(target), target, mask)
    pred = float(cp.reduced_blowup_time(f, g0).min())
    assert act[0, 0] == pytest.approx(pred, rel=0.05)


def test_crossing_times_interpolates():
    t = np.array([0.0, 1.0, 2.0])
    v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], dtype=cp.DTYPE)
    out = cp.crossing_times(t, v, 2.0)
    assert out[0] == pytest.approx(1.5)
    assert np.isnan(out[1])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="norms"):
        cp.random_target(3, D, (), gens(1))
    with pytest.raises(ValueError, match="factors"):
        cp.reconstruct(torch.zeros(2, 3))
    f, target, mask = problem()
    with pytest.raises(ValueError, match="order"):
        cp.reduced_blowup_time(f[:, :2], target[..., 0])
    with pytest.raises(ValueError, match="lr"):
        cp.train(f, target, mask, lr=0.0, n_steps=1, record_every=1)
