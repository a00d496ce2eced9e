"""Tests of theorylab.optim.steepest: steepest directions, log-domain losses, direction convergence."""

import numpy as np
import pytest
import torch

from theorylab.optim import margin as mg
from theorylab.optim import steepest as sd


@pytest.mark.parametrize("norm", mg.NORMS)
def test_direction_is_the_steepest_unit_vector(norm):
    """<u, g> = ||g||_* with ||u|| = 1, and no random unit vector does better."""
    gen = np.random.default_rng(0)
    g = gen.standard_normal((4, 7))
    u = sd.direction(g, norm)
    assert np.allclose(mg.norm_of(u, norm), 1.0)
    assert np.allclose((u * g).sum(-1), mg.norm_of(g, mg.DUAL[norm]))
    v = gen.standard_normal((5000, 7))
    v /= mg.norm_of(v, norm)[:, None]
    assert (v @ g.T).max(0).max() <= (u * g).sum(-1).max() + 1e-12


def test_linear_log_loss_and_gradient_match_autograd():
    gen = np.random.default_rng(1)
    x, y, w = gen.standard_normal((2, 9, 4)), np.sign(gen.standard_normal((2, 9))), gen.standard_normal((2, 4))
    log_l, g = sd.log_loss_linear(w, x, y)
    wt = torch.tensor(w, requires_grad=True)
    ref = torch.logsumexp(-torch.tensor(y) * torch.einsum("snd,sd->sn", torch.tensor(x), wt), dim=-1)
    ref.sum().backward()
    assert np.allclose(log_l, ref.detach().numpy()) and np.allclose(g, wt.grad.numpy())
    # log domain: finite where exp(-margin) underflows in float64
    log_l, g = sd.log_loss_linear(1e4 * w, x, np.sign(x @ w[:, :, None])[..., 0])
    assert np.isfinite(log_l).all() and np.isfinite(g).all() and (np.abs(g).sum(-1) > 0).all()


def test_relu_net_gradient_matches_autograd():
    gen = np.random.default_rng(2)
    s, n, d, width = 2, 11, 3, 5
    x, y = gen.standard_normal((s, n, d)), np.sign(gen.standard_normal((s, n)))
    theta = gen.standard_normal((s, width * (d + 1)))
    log_l, g = sd.relu_net_log_loss(theta, x, y, width)
    th = torch.tensor(theta, requires_grad=True)
    w, a = th[:, : width * d].reshape(s, width, d), th[:, width * d:]
    f = torch.einsum("snm,sm->sn", torch.relu(torch.einsum("snd,smd->snm", torch.tensor(x), w)), a)
    torch.logsumexp(-torch.tensor(y) * f, dim=-1).sum().backward()
    assert np.allclose(g, th.grad.numpy())
    assert np.allclose(np.exp(log_l), np.exp(-y * sd.relu_net(theta, x, width)).sum(-1))
    # 2-homogeneity: f(c theta) = c^2 f(theta)
    assert np.allclose(sd.relu_net(3 * theta, x, width), 9 * sd.relu_net(theta, x, width))


def test_normalized_gd_direction_matches_two_point_closed_form():
    """Two positive points, both support vectors: w_t/|w_t| -> X^T (X X^T)^{-1} 1 / |.|, at rate O(1/t)."""
    x1, x2 = np.array([1.0, 0.2]), np.array([0.3, 1.0])
    target = sd.two_point_l2_direction(x1, x2)
    x, y = np.stack([x1, x2])[None], np.ones((1, 2))
    run = sd.train_linear(x, y, "l2", lr=0.05, steps=20_000, record_every=10_000)["l2"]
    errs = [1 - mg.cosine(w[0], target) for w in run.theta[1:]]
    assert errs[-1] < 1e-5 and errs[-1] < errs[0] / 2  # converges, and keeps converging
    with pytest.raises(ValueError):
        sd.two_point_l2_direction(np.array([1.0, 0.0]), np.array([2.0, 0.1]))


@pytest.mark.parametrize("norm", mg.NORMS)
def test_each_algorithm_reaches_its_own_max_margin(norm):
    gen = np.random.default_rng(3)
    x = gen.standard_normal((1, 30, 6))
    y = np.sign(x[..., 0] + 0.5 * x[..., 1])
    run = sd.train_linear(x, y, norm, lr=0.01, steps=20_000, record_every=20_000)[norm]
    best = mg.max_margin(x[0], y[0], norm)
    ratio = mg.margin(run.theta[-1, 0], x[0], y[0], norm) / best.gamma
    assert 0.95 < ratio <= 1 + 1e-9
    # step length lr in the algorithm's norm
    assert mg.norm_of(run.theta[-1, 0], norm) <= 0.01 * 20_000 + 1e-9
    # smoothed margin never exceeds the true normalized margin
    assert (run.smoothed_margin(norm)[-1] <= mg.margin(run.theta[-1], x[0], y[0], norm) + 1e-12).all()


def test_adam_with_zero_eps_first_step_is_sign_descent():
    gen = np.random.default_rng(4)
    x, y = gen.standard_normal((2, 10, 5)), np.sign(gen.standard_normal((2, 10)))
    runs = sd.train_linear(x, y, ["linf", "adam"], lr=0.1, steps=1, record_every=1)
    assert np.allclose(runs["linf"].theta[1], runs["adam"].theta[1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="algorithm"):
        sd.train_linear(np.ones((1, 2, 2)), np.ones((1, 2)), "sgd", 0.1, 10)
    with pytest.raises(ValueError, match="lr"):
        sd.train_linear(np.ones((1, 2, 2)), np.ones((1, 2)), "l2", 0.0, 10)
    with pytest.raises(ValueError, match="norm"):
        sd.direction(np.ones(3), "l3")


def _naive_adam(x, y, lr, steps, betas, eps):
    """Adam on grad L = L * grad log L formed explicitly (float64): the reference implementation."""
    b1, b2 = betas
    w = np.zeros((x.shape[0], x.shape[2]))
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        log_l, g = sd.log_loss_linear(w, x, y)
        g = g * np.exp(log_l)[:, None]
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        with np.errstate(invalid="ignore", divide="ignore"):
            w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_adam_matches_the_textbook_update_before_underflow(eps):
    gen = np.random.default_rng(5)
    x, y = gen.standard_normal((2, 12, 4)), np.sign(gen.standard_normal((2, 12)))
    run = sd.train_linear(x, y, "adam", lr=0.05, steps=300, record_every=300, betas=(0.9, 0.95), eps=eps)
    assert np.allclose(run["adam"].theta[-1], _naive_adam(x, y, 0.05, 300, (0.9, 0.95), eps), rtol=1e-9, atol=1e-12)


def test_adam_keeps_moving_after_the_loss_underflows():
    """Far past L = 1e-308 the textbook update is frozen (0/0 or 0); the library's keeps its sign-like steps."""
    gen = np.random.default_rng(6)
    x = gen.standard_normal((1, 20, 5))
    y = np.sign(x[..., 0])
    x = 50.0 * x  # large margins per step; beta2 = 0.01 lets -log L grow by up to -ln(0.01)/2 = 2.3 per step
    run = sd.train_linear(x, y, "adam", lr=0.1, steps=1500, record_every=100, betas=(0.0, 0.01))["adam"]
    assert -run.log_loss[-1, 0] > 1000 and np.isfinite(run.theta).all()
    late_steps = mg.norm_of(np.diff(run.theta[-3:], axis=0)[:, 0], "linf") / 100
    assert (late_steps > 0.02).all() and (late_steps <= 0.1 + 1e-12).all()  # net drift: sign-like steps
    naive = _naive_adam(x, y, 0.1, 1500, (0.0, 0.01), 0.0)
    assert not np.isfinite(naive).all() or mg.norm_of(naive - run.theta[-1], "linf").max() > 1.0
