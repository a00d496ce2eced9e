"""Tests of theorylab.linear.marchenko: quadrature against known moments, closed forms against
simulation at k standard errors, exact gradient flow against plain gradient descent."""

import numpy as np
import pytest

from theorylab.linear import marchenko as mp


@pytest.mark.parametrize("alpha", [0.3, 0.5, 1.0, 2.0, 4.0])
def test_quadrature_moments(alpha):
    # Moments of the Marchenko-Pastur law of X^T X / n (d x d, alpha = n/d), atom at 0 excluded:
    # mass min(1, alpha), mean 1, second moment 1 + 1/alpha.
    assert mp.mp_integral(lambda l: np.ones_like(l), alpha) == pytest.approx(min(1.0, alpha), rel=1e-10)
    assert mp.mp_integral(lambda l: l, alpha) == pytest.approx(1.0, rel=1e-10)
    assert mp.mp_integral(lambda l: l**2, alpha) == pytest.approx(1 + 1 / alpha, rel=1e-10)
    assert mp.mp_integral(lambda l: l**3, alpha) == pytest.approx(1 + 3 / alpha + 1 / alpha**2, rel=1e-10)


@pytest.mark.parametrize("alpha, expected", [(2.0, 2.0), (4.0, 4 / 3), (0.5, 0.5), (0.25, 1 / 12)])
def test_quadrature_inverse_moment(alpha, expected):
    # int rho / lambda = alpha / (alpha - 1) above the threshold, alpha^2 / (1 - alpha) below it.
    assert mp.mp_integral(lambda l: 1 / l, alpha) == pytest.approx(expected, rel=1e-9)


def test_density_matches_quadrature_and_eigenvalues():
    alpha = 2.0
    lo, hi = mp.mp_edges(alpha)
    grid = np.linspace(lo, hi, 200_001)
    assert np.trapezoid(mp.mp_density(grid, alpha), grid) == pytest.approx(1.0, abs=1e-3)
    x = np.random.default_rng(0).standard_normal((1600, 800))
    lam = np.linalg.eigvalsh(x.T @ x / 1600)
    inside = (lam > lo + 0.05) & (lam < (lo + hi) / 2)
    frac = inside.mean()
    sub = np.linspace(lo + 0.05, (lo + hi) / 2, 20_001)
    assert frac == pytest.approx(np.trapezoid(mp.mp_density(sub, alpha), sub), abs=0.015)


def test_gd_error_limits():
    # t = 0: the initial error; t = inf: the closed forms of the docstring.
    assert mp.gd_error(200, 100, [0.0], 1.0, 0.5, 0.3)[0] == pytest.approx(1 + 0.09 + 0.25, rel=1e-10)
    assert mp.gd_error(200, 100, [np.inf], 1.0, 0.5)[0] == pytest.approx(0.25 + 0.25 / (2 - 1), rel=1e-9)
    assert mp.gd_error(50, 100, [np.inf], 1.0, 0.5, 0.5)[0] == pytest.approx(0.25 + 0.5 * 1.25 + 0.25 * 0.5 / 0.5, rel=1e-9)
    assert np.isinf(mp.gd_error(100, 100, [np.inf])[0])
    # at alpha = 1 the error keeps growing like sqrt(t) late in training
    late = mp.gd_error(100, 100, [1e6, 4e6])
    assert late[1] - 0.25 == pytest.approx(2 * (late[0] - 0.25), rel=0.02)


@pytest.mark.parametrize("n, d", [(20, 10), (5, 10), (40, 12)])
def test_exact_limit_against_simulation(n, d):
    # Exact finite-size mean of E_g(inf), k = 4 standard errors; the MP value is far off at this d.
    gen = np.random.default_rng(n * 100 + d)
    sims = mp.simulate_gd_error(n, d, [np.inf], 1.0, 0.5, 0.3, gen=gen, reps=20_000)[:, 0]
    exact = mp.gd_error_limit(n, d, 1.0, 0.5, 0.3)
    se = sims.std() / np.sqrt(sims.size)
    assert abs(sims.mean() - exact) < 4 * se
    assert abs(mp.gd_error(n, d, [np.inf], 1.0, 0.5, 0.3)[0] - exact) > 8 * se


@pytest.mark.parametrize("n", [100, 400])
def test_trajectory_against_simulation(n):
    # MP average against simulation at d = 200 over the whole trajectory: k = 4 SE plus an O(1/d) allowance.
    d, t = 200, np.logspace(-1, 3, 9)
    sims = mp.simulate_gd_error(n, d, t, 1.0, 0.5, 0.2, gen=np.random.default_rng(n), reps=30)
    theory = mp.gd_error(n, d, t, 1.0, 0.5, 0.2)
    se = sims.std(0) / np.sqrt(sims.shape[0])
    assert np.all(np.abs(sims.mean(0) - theory) < 4 * se + 2.0 / d)


def test_gd_weights_match_plain_gradient_descent():
    # Second route: explicit Euler steps of gradient descent with a small step converge to the flow,
    # and the null-space component of w never moves (frozen subspace).
    gen = np.random.default_rng(3)
    n, d, lr, steps = 15, 30, 1e-3, 5000
    x, y, w0 = gen.standard_normal((n, d)), gen.standard_normal(n), gen.standard_normal(d)
    c, b = x.T @ x / n, np.sqrt(d) * x.T @ y / n
    w = w0.copy()
    for _ in range(steps):
        w -= lr * (c @ w - b)
    flow = mp.gd_weights(x, y, w0, [lr * steps])[0]
    assert np.abs(w - flow).max() < 5e-3 * np.abs(flow).max()
    _, _, vt = np.linalg.svd(x)
    null = vt[n:]                                                  # (d - n, d)
    assert np.abs(null @ (flow - w0)).max() < 1e-10
    assert np.abs(null @ (w - w0)).max() < 1e-10


def test_overtraining_and_shapes():
    gen = np.random.default_rng(0)
    out = mp.simulate_gd_error(8, 5, [0.0, 1.0, np.inf], gen=gen, reps=3)
    assert out.shape == (3, 3) and np.all(np.isfinite(out))
    assert mp.overtraining(np.array([[3.0, 1.0, 2.0]]))[0] == 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        mp.mp_edges(0.0)
    with pytest.raises(ValueError, match="t must"):
        mp.gd_error(10, 10, [-1.0])
    with pytest.raises(ValueError, match="sigma_eps"):
        mp.gd_error(10, 10, [1.0], sigma_eps=-1.0)
    with pytest.raises(ValueError, match="reps"):
        mp.simulate_gd_error(10, 10, [1.0], gen=np.random.default_rng(0), reps=0)
    with pytest.raises(ValueError, match="shapes"):
        mp.gd_weights(np.zeros((3, 2)), np.zeros(2), np.zeros(2), [1.0])
