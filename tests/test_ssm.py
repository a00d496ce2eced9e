"""Tests for theorylab.nets.ssm: impulse response, loss gradient, flow Jacobian, closed-form limits."""

import numpy as np
import pytest
import torch

from theorylab.nets import ssm

D, K = 6, 5


def _problem(special=(0.7,), seed=0):
    gen = np.random.default_rng(seed)
    a = gen.uniform(-0.9, 0.9, D)
    b, c = gen.normal(size=D), gen.normal(size=D)
    X = np.vstack([ssm.sequences(K, 2, special), gen.normal(size=(3, K))])
    y = ssm.labels(X, *ssm.teacher(D))
    return a, b, c, X, y


def test_impulse_response_matches_recurrence():
    a, b, c, X, _ = _problem()
    h = ssm.impulse_response(a, b, c, K)
    assert np.allclose(ssm.run_recurrence(a, b, c, X), X[:, ::-1] @ h, rtol=1e-12, atol=1e-12)
    # a unit input at time k - l reads off h_l
    for ell in range(K):
        x = np.zeros((1, K))
        x[0, K - 1 - ell] = 1.0
        assert np.isclose(ssm.run_recurrence(a, b, c, x)[0], h[ell])


def test_impulse_response_batched():
    a = np.random.default_rng(1).uniform(-1, 1, (3, 4, D))
    b = c = np.ones(D)
    h = ssm.impulse_response(a, b, c, K)
    assert h.shape == (3, 4, K)
    assert np.allclose(h[2, 1], ssm.impulse_response(a[2, 1], b, c, K))


def test_teacher_impulse_response():
    h = ssm.impulse_response(*ssm.teacher(10), 8)
    assert np.allclose(h, [10.0] + [1.0] * 7)


def test_sequences_layout():
    X = ssm.sequences(7, 2, (0.5, 2.0))
    assert X.shape == (4, 7)
    assert np.all(X[:2, 0] == 1) and X[:2, 1:].sum() == 0
    assert X[2, 5] == 0.5 and X[3, 5] == 2.0 and np.abs(X[2:]).sum() == 2.5
    with pytest.raises(ValueError, match="k"):
        ssm.sequences(2)


def test_loss_grad_matches_autograd():
    a, b, c, X, y = _problem()
    at = torch.tensor(a, requires_grad=True)
    M = torch.tensor(X[:, ::-1].copy())
    powers = at[None, :] ** torch.arange(K, dtype=torch.float64)[:, None]
    h = powers @ torch.tensor(c * b)
    lt = torch.mean((M @ h - torch.tensor(y)) ** 2)
    lt.backward()
    assert np.isclose(lt.item(), ssm.loss(a, b, c, X, y), rtol=1e-12)
    assert np.allclose(at.grad.numpy(), ssm.loss_grad(a, b, c, X, y), rtol=1e-10, atol=1e-12)


def test_loss_grad_batched():
    a, b, c, X, y = _problem()
    batch = np.stack([a, 0.5 * a])
    g = ssm.loss_grad(batch, b, c, X, y)
    assert np.allclose(g[1], ssm.loss_grad(0.5 * a, b, c, X, y))


def test_flow_jac_matches_finite_differences():
    a, b, c, X, y = _problem()
    J = ssm.flow_jac(0.0, a, b, c, X, y)
    eps = 1e-6
    fd = np.stack([(ssm.flow_rhs(0, a + eps * e, b, c, X, y) - ssm.flow_rhs(0, a - eps * e, b, c, X, y)) / (2 * eps)
                   for e in np.eye(D)], axis=1)
    assert np.allclose(J, fd, rtol=1e-6, atol=1e-7)


def _init(seed, d=10, scale=1e-3):
    return np.sort(scale * np.random.default_rng(seed).random(d))[::-1] + 1e-6


def test_baseline_limit_matches_integrated_flow():
    d, k = 10, 7
    a0 = _init(0, d)
    teach, b = ssm.teacher(d), np.ones(d)
    X = ssm.sequences(k, 1)
    for analytic in (False, True):
        flow = ssm.integrate_flow(a0, b, b, X, ssm.labels(X, *teach), 1e12, analytic_jac=analytic)
        assert flow.loss[-1] < 1e-20
        assert np.allclose(flow.a[-1], ssm.baseline_limit(a0, k), atol=1e-8)
    with pytest.raises(ValueError, match="positive"):
        ssm.baseline_limit(-a0, k)


def test_shift_phase_and_gradient_descent_agree_with_flow():
    d, k = 10, 7
    a0 = _init(1, d)
    teach, b = ssm.teacher(d), np.ones(d)
    X = ssm.sequences(k, 1, (1.0,))
    y = ssm.labels(X, *teach)
    flow = ssm.integrate_flow(a0, b, b, X, y, 3.0, n_eval=20)
    assert np.allclose(flow.a[-1], ssm.shift_phase(a0), atol=1e-4)
    gd = ssm.gradient_descent(a0, b, b, X, y, lr=1e-3, n_steps=3000)
    assert np.allclose(gd, flow.a[-1], atol=1e-5)


def test_extrapolation_error_and_second_largest():
    d = 10
    teach, b = ssm.teacher(d), np.ones(d)
    exact = np.zeros(d)
    exact[0] = 1.0
    assert ssm.extrapolation_error(exact, b, b, teach) == 0.0
    assert ssm.second_largest(np.array([0.1, -0.7, 1.0])) == pytest.approx(0.7)
