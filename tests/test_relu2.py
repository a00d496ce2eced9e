"""Two-layer ReLU network with a fixed head: the hand-written gradient against autograd, the
one-step formulas against simulation, and the symmetry that pins the first step's test accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theorylab.data import xor
from theorylab.nets import relu2


def _batch(s=3, n=10, m=6, k=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(s, n, k, generator=g, dtype=relu2.DTYPE)
    y = torch.where(torch.rand(s, n, generator=g) < 0.5, 1.0, -1.0).to(relu2.DTYPE)
    w = torch.randn(s, m, k, generator=g, dtype=relu2.DTYPE)
    return w, relu2.head(m), x, y


def test_gradient_matches_autograd():
    w, a, x, y = _batch()
    w.requires_grad_(True)
    relu2.loss(w, a, x, y).sum().backward()
    assert torch.allclose(relu2.gradient(w.detach(), a, x, y), w.grad, atol=1e-12)


def test_gradient_matches_autograd_with_a_per_replica_head():
    w, _, x, y = _batch(m=4)
    a = torch.tensor([[0.5, -0.5, 0.5, -0.5], [-0.5, 0.5, 0.5, -0.5], [0.5, 0.5, -0.5, -0.5]], dtype=relu2.DTYPE)
    w.requires_grad_(True)
    relu2.loss(w, a, x, y).sum().backward()
    assert torch.allclose(relu2.gradient(w.detach(), a, x, y), w.grad, atol=1e-12)


def test_small_steps_decrease_the_loss_and_train_logs_snapshots():
    w, a, x, y = _batch()
    snaps = relu2.train(w, a, x, y, 1e-2, 30, [0, 10, 30])
    assert snaps.shape == (3, *w.shape) and torch.equal(snaps[0], w)
    losses = torch.stack([relu2.loss(s, a, x, y) for s in snaps])
    assert torch.all(losses[1:] < losses[:-1])
    with pytest.raises(ValueError, match="log_steps"):
        relu2.train(w, a, x, y, 1e-2, 5, [6])


def test_head_is_balanced_and_checked():
    a = relu2.head(8)
    assert torch.allclose(a.abs(), torch.full((8,), 8**-0.5, dtype=relu2.DTYPE)) and a.sum() == 0
    with pytest.raises(ValueError, match="even"):
        relu2.head(7)


def _one_step(n, m, d, r, reps, seed=0):
    s = xor.frame(n, m, d, r, 0.15, 1e-8, [np.random.default_rng(seed + i) for i in range(reps)], balanced=True)
    t = lambda v: torch.tensor(v, dtype=relu2.DTYPE)
    a, lr = relu2.head(m), relu2.step_size(n, m, d)
    w1 = relu2.gd_step(t(s.w0), a, t(s.x), t(s.y), lr)
    return s, t, a, lr, w1


def test_one_step_margin_formula_matches_simulation():
    n, m, d, r = 40, 200, 200_000, 10.0
    s, t, a, lr, w1 = _one_step(n, m, d, r, 6)
    margin = (t(s.y) * relu2.forward(w1, a, t(s.x))).mean().item()
    assert margin / relu2.one_step_margin(n, d, r, lr) == pytest.approx(1.0, abs=3 * (n / d) ** 0.5)
    assert relu2.accuracy(w1, a, t(s.x), t(s.y)).min().item() == 1.0      # every label fitted, flips included


def test_one_step_mean_margin_has_no_r2_term_on_a_balanced_sample():
    """Rival formulas alpha d/8n (right) and alpha (d + r^2)/8n (each point alone) differ by r^2/d = 10% here."""
    n, m, d, r = 80, 100, 20_000, float(np.sqrt(2000.0))
    s, t, a, lr, w1 = _one_step(n, m, d, r, 16)
    margin = (t(s.y) * relu2.forward(w1, a, t(s.x))).mean().item()
    assert margin / relu2.one_step_margin(n, d, r, lr) == pytest.approx(1.0, abs=0.04)
    assert margin / (lr * (d + r**2) / (8 * n)) < 0.96
    # the general form: the mean of the linear limit over the training points, alpha |sum_i y_i x_i|^2 / 8 n^2
    v2 = (t(s.y)[:, :, None] * t(s.x)).sum(1).pow(2).sum(-1)
    lin = relu2.linear_limit(t(s.x), t(s.y), t(s.x), lr)
    assert (t(s.y) * lin).mean(-1).numpy() == pytest.approx((lr * v2 / (8 * n**2)).numpy(), rel=1e-10)


def test_wide_network_after_one_step_is_the_linear_classifier():
    n, m, d, r = 40, 2000, 50_000, 10.0
    s, t, a, lr, w1 = _one_step(n, m, d, r, 2)
    xt, _, _ = xor.test_points(400, s.x.shape[-1], r, [np.random.default_rng(99), np.random.default_rng(98)])
    f, lin = relu2.forward(w1, a, t(xt)), relu2.linear_limit(t(s.x), t(s.y), t(xt), lr)
    for i in range(2):
        assert torch.corrcoef(torch.stack([f[i], lin[i]]))[0, 1] > 0.98
        assert (f[i] @ lin[i] / (lin[i] @ lin[i])).item() == pytest.approx(1.0, abs=0.05)


def test_first_step_accuracies_with_opposite_heads_sum_to_one():
    """From W(0) = 0 the step-1 output obeys f(-x; a) = -f(x; -a): on a symmetric test set the
    accuracies of the heads a and -a add up to exactly one."""
    n, m, d, r = 24, 10, 5000, 6.0
    s = xor.frame(n, m, d, r, 0.2, 0.0, [np.random.default_rng(4)])
    t = lambda v: torch.tensor(v, dtype=relu2.DTYPE)
    xt, yt, _ = xor.test_points(300, s.x.shape[-1], r, [np.random.default_rng(5)])
    xs, ys = torch.cat([t(xt), -t(xt)], 1), torch.cat([t(yt), t(yt)], 1)
    pre = t(s.x) @ torch.randn(1, m, s.x.shape[-1], generator=torch.Generator().manual_seed(0), dtype=relu2.DTYPE).transpose(1, 2)
    a, lr = relu2.head(m), relu2.step_size(n, m, d)
    def step_from_pattern(head):                                         # W(1) from a fixed activation pattern
        coef = 0.5 * (t(s.y)[:, :, None] * (pre > 0) * head[None, None, :]) / n
        return lr * coef.transpose(1, 2) @ t(s.x)
    acc = relu2.accuracy(step_from_pattern(a), a, xs, ys) + relu2.accuracy(step_from_pattern(-a), -a, xs, ys)
    assert acc.item() == pytest.approx(1.0, abs=1e-12)


def test_history_matches_direct_measurements():
    n, m, d, r = 24, 10, 5000, 20.0
    s = xor.frame(n, m, d, r, 0.2, 1e-6, [np.random.default_rng(6), np.random.default_rng(7)], balanced=True)
    t = lambda v: torch.tensor(v, dtype=relu2.DTYPE)
    xt, yt, _ = xor.test_points(200, s.x.shape[-1], r, [np.random.default_rng(8), np.random.default_rng(9)])
    a, lr = relu2.head(m), relu2.step_size(n, m, d)
    snaps = relu2.train(t(s.w0), a, t(s.x), t(s.y), lr, 5, [1, 5])
    h = relu2.history(snaps, a, t(s.x), t(s.y), torch.as_tensor(s.flipped), t(xt), t(yt))
    assert all(v.shape == (2, 2) for v in h.values())
    assert torch.allclose(h["test"][1], relu2.accuracy(snaps[1], a, t(xt), t(yt)))
    cos = relu2.alignment(snaps[1]).abs()
    assert torch.allclose(h["matched"][1], torch.cat([cos[:, :m // 2, 0], cos[:, m // 2:, 1]], 1).mean(-1))
    fl = torch.as_tensor(s.flipped)
    right = t(s.y) * relu2.forward(snaps[0], a, t(s.x)) > 0
    assert torch.allclose(h["flipped"][0], (right & fl).sum(-1).to(relu2.DTYPE) / fl.sum(-1))
