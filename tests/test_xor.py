"""XOR cluster data: the Bayes accuracy closed form against Monte Carlo, the frame sampler against
explicit vectors in R^d (same law; same gradient-descent run after a rotation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theorylab.data import xor
from theorylab.nets import relu2


@pytest.mark.parametrize("r,eta", [(0.5, 0.0), (1.5, 0.0), (1.5, 0.2), (3.0, 0.1)])
def test_bayes_accuracy_closed_form_matches_monte_carlo(r, eta):
    n = 400_000
    mc = xor.bayes_accuracy_mc(r, eta, n, np.random.default_rng(1))
    exact = float(xor.bayes_accuracy(r, eta))
    assert abs(mc - exact) <= 4.5 * np.sqrt(exact * (1 - exact) / n)


def test_bayes_accuracy_limits():
    assert float(xor.bayes_accuracy(0.0)) == pytest.approx(0.5)          # no signal: chance
    assert float(xor.bayes_accuracy(40.0, 0.15)) == pytest.approx(0.85)   # separated clusters: 1 - eta
    with pytest.raises(ValueError, match="eta"):
        xor.bayes_accuracy(1.0, 0.7)


def test_balanced_sample_has_no_net_linear_signal():
    s = xor.frame(40, 6, 500, 3.0, 0.2, 1.0, [np.random.default_rng(i) for i in range(3)], balanced=True)
    assert np.array_equal(np.sort(np.bincount(s.cluster[0], minlength=4)), [10] * 4)
    assert s.flipped.sum(1).tolist() == [8, 8, 8]                        # round(0.2 * 10) = 2 per cluster
    assert np.all(xor.net_linear_signal(s) == 0)
    assert np.all((s.y == s.y_clean) != s.flipped)
    with pytest.raises(ValueError, match="multiple of 4"):
        xor.frame(42, 6, 500, 3.0, 0.2, 1.0, [np.random.default_rng(0)], balanced=True)


def test_bartlett_gram_has_wishart_mean_and_variance():
    g = np.random.default_rng(2)
    p, dof, reps = 5, 50, 4000
    grams = np.stack([(lambda low: low @ low.T)(xor.bartlett(p, dof, g)) for _ in range(reps)])
    mean, var = grams.mean(0), grams.var(0)
    expected_var = dof * (np.ones((p, p)) + np.eye(p))                   # Var W_ij = dof (1 + delta_ij)
    assert np.all(np.abs(mean - dof * np.eye(p)) <= 5 * np.sqrt(expected_var / reps))
    assert np.allclose(var, expected_var, rtol=0.15)


def test_frame_and_explicit_gram_have_the_same_law():
    """Noise norms and inner products of the frame sampler against explicit Gaussian vectors."""
    n, m, d, reps = 6, 4, 300, 600
    fr = xor.frame(n, m, d, 2.0, 0.0, 1.0, [np.random.default_rng(10 + i) for i in range(reps)])
    ex = xor.sample(n, d, 2.0, 0.0, [np.random.default_rng(5000 + i) for i in range(reps)])
    for s in (fr, ex):
        noise = s.x.copy()
        noise[..., :2] -= s.r * xor.SIGNS[s.cluster]
        gram = noise @ noise.transpose(0, 2, 1)
        diag, off = np.einsum("sii->si", gram).ravel(), gram[:, 0, 1:]
        assert abs(diag.mean() - d) <= 5 * np.sqrt(2 * d / diag.size)
        assert abs(off.var() / d - 1) <= 0.1


def test_gradient_descent_in_the_frame_equals_gradient_descent_in_rd():
    """Explicit vectors in R^d, rotated onto the frame of their span, train identically."""
    n, m, d, r = 12, 8, 400, 4.0
    g = np.random.default_rng(3)
    ex = xor.sample(n, d, r, 0.2, [g])
    w0 = 0.01 * g.standard_normal((1, m, d))
    xf, wf, q = xor.to_frame(ex.x[0], w0[0])
    assert np.allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-12) and np.allclose(xf[:, :2], ex.x[0, :, :2])
    t = lambda a: torch.tensor(a, dtype=relu2.DTYPE)
    a, lr = relu2.head(m), relu2.step_size(n, m, d)
    full = relu2.train(t(w0), a, t(ex.x), t(ex.y), lr, 20, [20])[0]
    small = relu2.train(t(wf[None]), a, t(xf[None]), t(ex.y), lr, 20, [20])[0]
    x_new = t(g.standard_normal((1, 50, d)))
    assert torch.allclose(relu2.forward(full, a, x_new), relu2.forward(small, a, x_new @ t(q)), atol=1e-10)
    assert torch.allclose(relu2.alignment(full), relu2.alignment(small), atol=1e-10)


def test_frame_checks_its_arguments():
    with pytest.raises(ValueError, match="d must be"):
        xor.frame(10, 10, 15, 1.0, 0.1, 1.0, [np.random.default_rng(0)])
    with pytest.raises(ValueError, match="eta"):
        xor.sample(10, 20, 1.0, 0.9, [np.random.default_rng(0)])
