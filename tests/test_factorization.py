"""Tests of theorylab.linear.factorization: deep matrix factorization and its end-to-end dynamics."""

import math

import numpy as np
import pytest
import torch

from theorylab.linear import factorization as fz

D, S = 6, 2


def gens(*keys):
    out = []
    for k in keys:
        g = torch.Generator()
        g.manual_seed(k)
        out.append(g)
    return out


def chain_rule_velocity(factors, target, mask):
    """dW/dt under gradient flow on the factors, by autograd and the product rule (no end-to-end formula)."""
    fs = [f.clone().requires_grad_(True) for f in factors]
    fz.loss(fz.end_to_end(fs), target, mask).sum().backward()
    w_dot = torch.zeros_like(target)
    for j, f in enumerate(fs):
        left = fz.end_to_end([g.detach() for g in fs[j + 1:]]) if j + 1 < len(fs) else None
        right = fz.end_to_end([g.detach() for g in fs[:j]]) if j > 0 else None
        term = -f.grad
        term = term if right is None else term @ right
        w_dot += term if left is None else left @ term
    return w_dot


def aligned_factors(target_u, target_v, depth, scale):
    """Balanced factors whose product alpha**N U V^T shares the target's singular vectors."""
    eye = torch.eye(D, dtype=fz.DTYPE).expand(S, D, D)
    if depth == 1:
        return [scale * target_u @ target_v.transpose(-2, -1)]
    return [scale * target_v.transpose(-2, -1)] + [scale * eye] * (depth - 2) + [scale * target_u]


# ----------------------------------------------------------------------------- closed form vs simulation
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_aligned_gradient_descent_follows_the_singular_value_ode(depth):
    """All entries observed, W(0) aligned with M: each sigma_r solves the scalar ODE (aligned_flow)."""
    s = [4.0, 2.0, 1.0]
    u = torch.stack([fz.random_orthogonal(D, g) for g in gens(1, 2)])
    v = torch.stack([fz.random_orthogonal(D, g) for g in gens(3, 4)])
    target = (u[..., :3] * torch.tensor(s, dtype=fz.DTYPE)) @ v[..., :3].transpose(-2, -1)
    mask = torch.ones_like(target)
    scale = 0.3
    lr, t_end = 5e-4, 2.5
    traj = fz.train(aligned_factors(u, v, depth, scale), target, mask, lr=lr, n_steps=int(t_end / lr),
                    record_every=500)
    measured = traj.singular_values()[:, :, :3].numpy()
    theory = fz.aligned_flow(traj.t, s, scale**depth, depth)
    # Euler with step lr is O(lr) away from the flow: relative gap ~ lr * rate * t ~ 3e-3 here
    np.testing.assert_allclose(measured, np.broadcast_to(theory[:, None, :], measured.shape), rtol=5e-3, atol=1e-4)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_aligned_learning_time_closed_forms(depth):
    s, sigma0 = 3.0, 1e-3
    t = fz.aligned_learning_time(s, sigma0, depth)
    if depth == 1:  # sigma = s - (s - sigma0) e^{-t}
        expected = math.log((s - sigma0) / (s / 2))
    elif depth == 2:  # logistic: sigma = s / (1 + (s/sigma0 - 1) e^{-2 s t})
        expected = math.log(s / sigma0 - 1) / (2 * s)
    else:  # second route: integrate the ODE and read off the crossing
        sol = fz.aligned_flow(np.array([0.0, t]), [s], sigma0, depth)
        np.testing.assert_allclose(sol[-1, 0], s / 2, rtol=1e-6)
        return
    assert t == pytest.approx(expected, rel=1e-8)


# ----------------------------------------------------------------------------- second route
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_end_to_end_equation_matches_chain_rule_at_balanced_point(depth):
    target = fz.low_rank_target(D, [3.0, 1.0], gens(5, 6))
    mask = fz.observation_mask(D, 20, gens(7, 8))
    factors = fz.balanced_init(D, depth, 0.8, gens(9, 10))
    w = fz.end_to_end(factors)
    formula = fz.end_to_end_velocity(w, fz.loss_grad(w, target, mask), depth)
    torch.testing.assert_close(formula, chain_rule_velocity(factors, target, mask), rtol=1e-9, atol=1e-10)


def test_end_to_end_equation_is_only_approximate_when_unbalanced():
    target = fz.low_rank_target(D, [3.0, 1.0], gens(5, 6))
    mask = torch.ones_like(target)
    factors = fz.gaussian_init(D, 3, 1.5, gens(9, 10))
    w = fz.end_to_end(factors)
    formula = fz.end_to_end_velocity(w, fz.loss_grad(w, target, mask), 3)
    exact = chain_rule_velocity(factors, target, mask)
    assert torch.linalg.norm(formula - exact) > 1e-3 * torch.linalg.norm(exact)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_singular_value_velocity_is_the_diagonal_of_the_end_to_end_velocity(depth):
    target = fz.low_rank_target(D, [3.0, 2.0, 1.0], gens(11, 12))
    mask = fz.observation_mask(D, 25, gens(13, 14))
    w = fz.end_to_end(fz.balanced_init(D, depth, 0.9, gens(15, 16))) + 0.3 * target  # distinct singular values
    grad = fz.loss_grad(w, target, mask)
    u, _, vh = torch.linalg.svd(w)
    diag = torch.diagonal(u.transpose(-2, -1) @ fz.end_to_end_velocity(w, grad, depth) @ vh.transpose(-2, -1),
                          dim1=-2, dim2=-1)
    torch.testing.assert_close(fz.singular_value_velocity(w, grad, depth, D), diag, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("depth", [1, 3])
def test_train_step_matches_autograd(depth):
    target = fz.low_rank_target(D, [2.0], gens(1, 2))
    mask = fz.observation_mask(D, 18, gens(3, 4))
    factors = fz.gaussian_init(D, depth, 1.0, gens(5, 6))
    lr = 0.01
    traj = fz.train(factors, target, mask, lr=lr, n_steps=1, record_every=1)
    fs = [f.clone().requires_grad_(True) for f in factors]
    fz.loss(fz.end_to_end(fs), target, mask).sum().backward()
    stepped = fz.end_to_end([f.detach() - lr * f.grad for f in fs])
    torch.testing.assert_close(traj.w[-1], stepped, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(traj.w[0], fz.end_to_end(factors))  # inputs left untouched


# ----------------------------------------------------------------------------- invariants
def test_balanced_init_is_balanced_and_has_flat_spectrum():
    factors = fz.balanced_init(D, 3, 0.2, gens(1, 2))
    for a, b in zip(factors, factors[1:]):
        torch.testing.assert_close(b.transpose(-2, -1) @ b, a @ a.transpose(-2, -1))
    sv = torch.linalg.svdvals(fz.end_to_end(factors))
    torch.testing.assert_close(sv, torch.full_like(sv, 0.2**3))


def test_full_mask_loss_is_half_squared_frobenius_and_gradient_is_residual():
    target = fz.low_rank_target(D, [2.0, 1.0], gens(1, 2))
    w = torch.randn(S, D, D, dtype=fz.DTYPE, generator=gens(3)[0])
    mask = torch.ones_like(w)
    torch.testing.assert_close(fz.loss(w, target, mask), 0.5 * ((w - target) ** 2).sum(dim=(-2, -1)))
    torch.testing.assert_close(fz.loss_grad(w, target, mask), w - target)


def test_target_has_requested_spectrum_and_mask_has_requested_size():
    target = fz.low_rank_target(D, [5.0, 2.0], gens(1, 2))
    sv = torch.linalg.svdvals(target)
    torch.testing.assert_close(sv[:, :2], torch.tensor([[5.0, 2.0]] * S, dtype=fz.DTYPE))
    assert float(sv[:, 2:].abs().max()) < 1e-12
    mask = fz.observation_mask(D, 11, gens(3, 4))
    assert mask.sum(dim=(-2, -1)).tolist() == [11.0, 11.0]


def test_depth_one_never_moves_unobserved_entries():
    """Depth-1 GD only changes observed entries: W ends at the minimum-distance interpolant of W(0)."""
    target = fz.low_rank_target(D, [3.0], gens(1, 2))
    mask = fz.observation_mask(D, 15, gens(3, 4))
    traj = fz.train(fz.balanced_init(D, 1, 0.1, gens(5, 6)), target, mask, lr=0.05, n_steps=400, record_every=400)
    hidden = 1 - mask
    torch.testing.assert_close(hidden * traj.w[-1], hidden * traj.w[0], rtol=0, atol=1e-14)
    assert float(traj.loss[-1].max()) < 1e-10
    torch.testing.assert_close(fz.test_error(traj.w[-1], target, mask), fz.test_error(traj.w[0], target, mask))


def test_effective_rank_values_and_bounds():
    eye = torch.eye(D, dtype=fz.DTYPE)
    for r in (1, 3, D):
        assert float(fz.effective_rank(torch.diag(torch.cat([torch.ones(r), torch.zeros(D - r)]).double()))) \
            == pytest.approx(r)
    w = torch.randn(5, D, D, dtype=fz.DTYPE, generator=gens(1)[0])
    er = fz.effective_rank(w)
    assert bool(((er >= 1) & (er <= D)).all())
    torch.testing.assert_close(fz.effective_rank(7.0 * w), er)  # scale invariant
    q = fz.random_orthogonal(D, gens(2)[0])
    torch.testing.assert_close(fz.effective_rank(q @ w @ q.T), er)  # unitarily invariant
    assert float(fz.effective_rank(eye)) == pytest.approx(D)


def test_learning_times_interpolate_first_crossing():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    sv = torch.tensor([[[0.0, 0.0]], [[2.0, 0.5]], [[6.0, 1.0]], [[9.0, 4.0]]], dtype=fz.DTYPE)  # (R, S=1, 2)
    lt = fz.learning_times(t, sv, [8.0, 10.0])
    assert lt[0, 0] == pytest.approx(1.5)  # 4 reached halfway between t=1 (2) and t=2 (6)
    assert np.isnan(lt[0, 1])  # 5 never reached


def test_velocity_table_measures_depth_one_flow():
    """Depth 1 in a fully observed problem: sigma_r = s_r - (s_r - sigma_r(0)) e^{-t}, velocity known exactly."""
    target = fz.low_rank_target(D, [3.0, 1.0], gens(1, 2))
    mask = torch.ones_like(target)
    traj = fz.train([torch.zeros_like(target)], target, mask, lr=1e-4, n_steps=4000, record_every=10)
    table = fz.velocity_table(traj, target, mask, k=2, at=[100, 200])
    assert table.rel_error.max() < 1e-3
    assert set(table.columns) >= {"t", "r", "seed", "measured", "predicted", "rel_error"}


def test_end_to_end_table_small_for_balanced_and_large_for_gaussian_factors():
    """The end-to-end equation holds along GD from a balanced start (up to O(lr)), not from a Gaussian one."""
    target = fz.low_rank_target(D, [3.0, 1.0], gens(1, 2))
    mask = torch.ones_like(target)
    errs = {}
    for init in ("balanced", "gaussian"):
        traj = fz.simulate(target, mask, depth=3, scale=0.2, lr=1e-3, t_end=0.2, init=init,
                           gens=gens(3, 4), record_every=5)
        table = fz.end_to_end_table(traj, target, mask, at=[2, 10])
        assert set(table.columns) == {"t", "seed", "rel_error"} and len(table) == 4
        errs[init] = table.rel_error
    assert errs["balanced"].max() < 0.01
    assert errs["gaussian"].min() > 0.1


# ----------------------------------------------------------------------------- failure paths
@pytest.mark.parametrize("call, name", [
    (lambda: fz.low_rank_target(4, [1.0, 2.0], gens(1)), "singular_values"),
    (lambda: fz.low_rank_target(4, [1.0] * 5, gens(1)), "singular_values"),
    (lambda: fz.low_rank_target(4, [1.0], []), "gens"),
    (lambda: fz.observation_mask(4, 17, gens(1)), "n_observed"),
    (lambda: fz.balanced_init(4, 0, 0.1, gens(1)), "depth"),
    (lambda: fz.balanced_init(4, 2, -0.1, gens(1)), "scale"),
    (lambda: fz.gaussian_init(4, 2, 0.0, gens(1)), "scale"),
    (lambda: fz.end_to_end([]), "factors"),
    (lambda: fz.aligned_learning_time(1.0, 0.7, 2), "sigma0"),
    (lambda: fz.aligned_learning_time(1.0, 0.1, 2, level=1.0), "level"),
    (lambda: fz.singular_value_velocity(torch.eye(3)[None], torch.eye(3)[None], 2, 4), "k"),
    (lambda: fz.aligned_flow(np.array([0.0, 1.0]), [1.0, 0.05], 0.1, 3), "s"),
    (lambda: fz.aligned_flow(np.array([0.0, -1.0]), [1.0], 0.1, 3), "t"),
    (lambda: fz.learning_times(np.arange(3.0), torch.ones(3, 1, 2), [1.0], level=0.0), "level"),
    (lambda: fz.learning_times(np.arange(2.0), torch.ones(3, 1, 2), [1.0]), "sv"),
])
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_train_rejects_bad_arguments():
    target = torch.zeros(1, 3, 3, dtype=fz.DTYPE)
    mask = torch.ones_like(target)
    with pytest.raises(ValueError, match="lr"):
        fz.train([target], target, mask, lr=0.0, n_steps=1, record_every=1)
    with pytest.raises(ValueError, match="n_steps"):
        fz.train([target], target, mask, lr=0.1, n_steps=0, record_every=1)
    with pytest.raises(ValueError, match="shape"):
        fz.train([torch.zeros(1, 2, 2, dtype=fz.DTYPE)], target, mask, lr=0.1, n_steps=1, record_every=1)


def test_simulate_is_init_then_train():
    target = fz.low_rank_target(D, [2.0], gens(1, 2))
    mask = fz.observation_mask(D, 20, gens(3, 4))
    traj = fz.simulate(target, mask, depth=2, scale=0.3, gens=gens(5, 6), lr=0.01, t_end=0.5)
    again = fz.train(fz.balanced_init(D, 2, 0.3, gens(5, 6)), target, mask, lr=0.01, n_steps=50, record_every=50)
    assert len(traj.t) == 2 and traj.t[-1] == pytest.approx(0.5)
    torch.testing.assert_close(traj.w, again.w)
    with pytest.raises(ValueError, match="init"):
        fz.simulate(target, mask, depth=2, scale=0.3, gens=gens(5, 6), lr=0.01, t_end=0.5, init="zeros")


def test_trajectory_frame_is_tidy_view_of_singular_values():
    target = fz.low_rank_target(D, [2.0, 1.0], gens(1, 2))
    traj = fz.train(fz.balanced_init(D, 2, 0.3, gens(3, 4)), target, torch.ones_like(target), lr=0.01,
                    n_steps=40, record_every=10)
    frame = fz.trajectory_frame(traj, k=2, stride=2)
    sv = traj.singular_values()[::2, :, :2]
    assert len(frame) == sv.numel()
    row = frame[(frame.t == traj.t[2]) & (frame.seed == 1) & (frame.r == 2)]
    assert float(row.sigma.iloc[0]) == pytest.approx(float(sv[1, 1, 1]))
