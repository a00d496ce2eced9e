"""Tests for theorylab.optim.lqr: each quantity by a second route."""

import numpy as np
import pytest
import torch

from theorylab import rng
from theorylab.optim import lqr


def _problem(seed=0, d=4, m=3, n=2):
    g = rng.numpy(seed, "lqr-test")
    A = g.standard_normal((d, d)) / np.sqrt(d)
    B = g.standard_normal((d, m)) / np.sqrt(d)
    K = 0.3 * g.standard_normal((m, d))
    X0 = g.standard_normal((n, d))
    q, r = g.standard_normal((d, d)), g.standard_normal((m, m))
    return K, A, B, X0, q @ q.T, r @ r.T


def _torch_cost(K, A, B, X0, H, Q, R):
    """Second route: a plain loop over time steps and initial states, in torch."""
    total = 0.0
    for x0 in X0:
        x = x0
        for _ in range(H + 1):
            u = K @ x
            total = total + x @ Q @ x + u @ R @ u
            x = A @ x + B @ u
    return total / len(X0)


@pytest.mark.parametrize("H", [1, 3, 6])
def test_cost_and_gradient_match_autograd(H):
    K, A, B, X0, Q, R = _problem(H)
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in dict(A=A, B=B, X0=X0, Q=Q, R=R).items()}
    Kt = torch.tensor(K, dtype=torch.float64, requires_grad=True)
    c = _torch_cost(Kt, t["A"], t["B"], t["X0"], H, t["Q"], t["R"])
    c.backward()
    assert lqr.lqr_cost(K, A, B, X0, H, Q, R) == pytest.approx(c.item(), rel=1e-12)
    np.testing.assert_allclose(lqr.policy_gradient(K, A, B, X0, H, Q, R), Kt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_matches_finite_differences_batched():
    K, A, B, X0, Q, _ = _problem(1)
    Ks = np.stack([K, 0.5 * K])
    g = lqr.policy_gradient(Ks, A, B, X0, 4, Q)
    eps, E = 1e-6, np.zeros_like(K)
    E[1, 2] = 1.0
    fd = (lqr.lqr_cost(Ks + eps * E, A, B, X0, 4, Q) - lqr.lqr_cost(Ks - eps * E, A, B, X0, 4, Q)) / (2 * eps)
    np.testing.assert_allclose(g[:, 1, 2], fd, rtol=1e-6)


def test_zero_controller_leaves_unvisited_directions_alone():
    """On a system that maps the training span into itself, K never acts on its complement."""
    A = lqr.block_system(5, 2, rng.numpy(0, "block"), n=3)
    X, I = np.eye(5)[:2], np.eye(5)
    K, costs = lqr.train(A, I, X, 5, 1e-2, 3000)
    np.testing.assert_allclose(K[:, :, 2:], 0.0, atol=1e-14)
    np.testing.assert_allclose(lqr.extrapolation_measure(K, A, I, np.eye(5)[2:]), 1.0, atol=1e-12)
    assert np.all(costs[-1] - 1 < 1e-6)


def test_min_norm_controller_is_least_norm_and_does_not_extrapolate():
    g = rng.numpy(2, "minnorm")
    A, X = g.standard_normal((5, 5)), g.standard_normal((2, 5))
    K = lqr.min_norm_controller(A, np.eye(5), X)
    np.testing.assert_allclose((A + K) @ X.T, 0.0, atol=1e-12)
    # any other solution K + Z with Z X' = 0 has a larger norm
    Z = g.standard_normal((5, 5)) @ (np.eye(5) - X.T @ np.linalg.pinv(X.T))
    assert np.linalg.norm(K + Z) > np.linalg.norm(K)
    null = np.linalg.svd(X)[2][2:]
    assert lqr.extrapolation_measure(K, A, np.eye(5), null) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("k,H,max_step", [(1, 5, None), (2, 3, None), (1, 8, None), (1, 8, 0.05)])
def test_shift_training_is_the_chain_recursion(k, H, max_step):
    """Full-matrix policy gradient on the shift equals gradient descent on the d chain weights (clipped or not)."""
    d, lr, steps = 5, 1e-2, 400
    S = lqr.shift_matrix(d)
    K, _ = lqr.train(S, np.eye(d), np.eye(d)[:k], H, lr, steps, max_step=max_step)
    a = lqr.chain_gd(d, H, k, lr, steps, max_step)
    np.testing.assert_allclose(K, lqr.chain_controller(a), atol=1e-12)
    assert lqr.lqr_cost(K, S, np.eye(d), np.eye(d)[:k], H) == pytest.approx(
        lqr.chain_cost(a, lqr.chain_exponents(d, H, k), k), rel=1e-12)


def test_chain_flow_is_the_small_step_limit_of_gd():
    d, H = 5, 5
    flow = lqr.chain_flow(d, H, 1, t_end=4.0)
    errs = [np.abs(lqr.chain_gd(d, H, 1, lr, int(round(4.0 / lr))) - flow).max() for lr in (4e-2, 2e-2, 1e-2)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.15)          # first-order in the step


def test_chain_flow_conservation_and_order():
    """d(a_j^2 - a_{j+1}^2)/dt = -4 P_{j+1} <= 0 (one start): the weights end ordered, a_0 -> 0."""
    a = lqr.chain_flow(6, 6, 1)
    assert abs(a[0]) < 1e-8
    assert np.all(np.diff(a**2) > 0) and a[-1] < 1
    assert lqr.shift_measure_theory(6, 6, 1) == pytest.approx(np.mean(a[1:] ** 2))


def test_shift_horizon_one_learns_nothing_off_the_training_edge():
    assert lqr.shift_measure_theory(5, 1, 1) == pytest.approx(1.0, abs=1e-12)


def test_systems_and_validation():
    S = lqr.shift_matrix(4)
    np.testing.assert_array_equal(S @ np.eye(4)[3], np.eye(4)[0])
    np.testing.assert_allclose(lqr.mixed_system(4, 0.0), np.eye(4))
    np.testing.assert_allclose(lqr.mixed_system(4, [0.0, 1.0])[1], S)
    with pytest.raises(ValueError, match="theta"):
        lqr.mixed_system(4, 1.5)
    with pytest.raises(ValueError, match="lr"):
        lqr.train(S, np.eye(4), np.eye(4)[:1], 3, -1.0, 10)
    with pytest.raises(ValueError, match="H"):
        lqr.rollout(np.zeros((4, 4)), S, np.eye(4), np.eye(4)[:1], 0)


def test_max_step_keeps_the_flow_limit_and_tames_large_systems():
    """Clipping the step length changes the speed along the flow path, not its end."""
    d, H = 5, 5
    a_clip = lqr.chain_gd(d, H, 1, 2e-3, 20000, max_step=0.01)
    assert np.abs(a_clip - lqr.chain_flow(d, H, 1)).max() < 5e-3
    A = 2.5 * lqr.shift_matrix(d)[None] @ np.diag([1.0, 1.2, 0.9, 1.1, 1.0])    # ||A|| ~ 3: diverges unclipped
    with np.errstate(all="ignore"):
        _, c_plain = lqr.train(A, np.eye(d), np.eye(d)[:1], H, 1e-2, 300)
    _, c_clip = lqr.train(A, np.eye(d), np.eye(d)[:1], H, 1e-2, 3000, max_step=0.2)
    assert not np.isfinite(c_plain[-1]).all() or c_plain[-1].max() > 1e3
    assert c_clip[-1].max() - 1 < 1e-6


def test_training_is_equivariant_under_a_change_of_orthonormal_basis():
    """With B = Q = I, R = 0: training on (P A P', rows of P') gives P K P', and the same measure."""
    d, H, k = 5, 5, 2
    P = np.linalg.qr(rng.numpy(3, "lqr-basis").standard_normal((d, d)))[0]
    A = np.stack([lqr.shift_matrix(d), lqr.random_system(d, rng.numpy(4, "lqr-sys"))[0]])
    K, _ = lqr.train(A, np.eye(d), np.eye(d)[:k], H, 1e-2, 300)
    K_P, _ = lqr.train(P @ A @ P.T, np.eye(d), P.T[:k], H, 1e-2, 300)
    np.testing.assert_allclose(P.T @ K_P @ P, K, atol=1e-12)
    np.testing.assert_allclose(lqr.extrapolation_measure(K_P, P @ A @ P.T, np.eye(d), P.T[k:]),
                               lqr.extrapolation_measure(K, A, np.eye(d), np.eye(d)[k:]), rtol=1e-12)


def test_shift_weights_follow_the_flow_in_time_to_first_order():
    """The chapter's shift_trajectory_vs_flow claim: |a_GD(t)^2 - a_flow(t)^2| / lr -> about 2 at t = 0.1."""
    d, H, tau, S, I = 5, 5, 0.1, lqr.shift_matrix(5), np.eye(5)
    flow = lqr.chain_flow(d, H, 1, times=np.array([0.0, tau]))[-1] ** 2
    consts = []
    for lr in (1e-2, 1e-3):
        K, _ = lqr.train(S, I, I[:1], H, lr, int(round(tau / lr)))
        consts.append(np.abs(np.diag(np.roll(S + K, -1, axis=0)) ** 2 - flow).max() / lr)
    assert 1.5 < consts[1] < consts[0] < 2.5
