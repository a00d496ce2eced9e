"""Tests of theorylab.linear.tuning: ridge closed form by two routes, exact dual utilities, extrema counting."""

import numpy as np
import pytest
import torch

from theorylab.linear import tuning


def _tasks(t=6, seed=0):
    return tuning.draw_tasks(t, 3, 12, 20, 16, np.random.default_rng(seed))


def test_ridge_readout_matches_lstsq_on_augmented_system():
    g = np.random.default_rng(1)
    phi, y, lam = g.standard_normal((4, 15, 9)), g.standard_normal((4, 15)), 0.03
    v = tuning.ridge_readout(phi, y, lam)
    aug = np.concatenate([phi, np.sqrt(15 * lam) * np.broadcast_to(np.eye(9), (4, 9, 9))], 1)
    rhs = np.concatenate([y, np.zeros((4, 9))], 1)
    ref = torch.linalg.lstsq(torch.from_numpy(aug), torch.from_numpy(rhs)[..., None]).solution[..., 0].numpy()
    np.testing.assert_allclose(v, ref, rtol=1e-9, atol=1e-10)


def test_ridge_readout_matches_gradient_descent():
    g = np.random.default_rng(2)
    phi, y, lam = g.standard_normal((20, 5)), g.standard_normal(20), 0.1
    v = np.zeros(5)
    for _ in range(5000):                       # gradient descent on (1/n)|phi v - y|^2 + lam |v|^2
        v -= 0.1 * (2 * phi.T @ (phi @ v - y) / 20 + 2 * lam * v)
    np.testing.assert_allclose(tuning.ridge_readout(phi, y, lam), v, atol=1e-8)


def test_dual_utility_kernel_form_matches_primal_ridge():
    tasks, lam = _tasks(), 1e-2
    alphas = np.array([0.0, 0.3, 1.0])
    u = tuning.dual_utility(tasks, alphas, lam)
    for j, a in enumerate(alphas):
        tr, dr = tuning.feature_parts(tasks.x, tasks.w, tasks.b)
        tv, dv = tuning.feature_parts(tasks.x_val, tasks.w, tasks.b)
        v = tuning.ridge_readout(tr + a * dr, tasks.y, lam)
        pred = ((tv + a * dv) @ v[..., None])[..., 0]
        np.testing.assert_allclose(u[:, j], ((pred - tasks.y_val) ** 2).mean(1), rtol=1e-9)
        # and the features are sigma_alpha itself
        z = tasks.x @ tasks.w + tasks.b[:, None, :]
        np.testing.assert_allclose(tr + a * dr, tuning.activation(z, a) / 4.0, atol=1e-12)


def test_derivative_matches_finite_differences():
    tasks, h = _tasks(), 1e-5
    alphas = np.array([0.2, 0.55, 0.9])
    _, du = tuning.dual_utility(tasks, alphas, 1e-2, derivative=True)
    fd = (tuning.dual_utility(tasks, alphas + h, 1e-2) - tuning.dual_utility(tasks, alphas - h, 1e-2)) / (2 * h)
    np.testing.assert_allclose(du, fd, rtol=1e-5, atol=1e-8)


def test_count_extrema_on_known_functions():
    a = np.linspace(0, 1, 2001)
    assert tuning.count_extrema((a - 0.3) ** 2) == 1
    assert tuning.count_extrema(np.sin(2 * np.pi * 3 * a)) == 6          # 3 periods: 3 maxima, 3 minima
    assert tuning.count_extrema(a ** 3) == 0                              # flat point, no extremum
    assert tuning.count_extrema(np.cos(np.pi * a)) == 0                   # extrema only at the ends
    np.testing.assert_array_equal(tuning.count_extrema(np.stack([a, np.sin(5 * np.pi * a)])), [0, 5])
    assert tuning.count_crossings(np.sin(2 * np.pi * a), 0.5) == 2


def test_utilities_respect_the_degree_bound():
    tasks = _tasks(3)
    alphas = np.linspace(0, 1, 4001)
    u, du = tuning.dual_utility(tasks, alphas, 1e-2, derivative=True)
    assert (tuning.count_extrema(u, derivative=du) <= tuning.extrema_bound(12, 16)).all()
    assert (tuning.count_crossings(u, np.median(u, 1)) <= tuning.oscillation_bound(12, 16)).all()


def test_pdim_from_oscillations():
    assert tuning.pdim_from_oscillations(1) == 1        # thresholds on a line: 2^N <= N + 1
    assert tuning.pdim_from_oscillations(2) == 2        # intervals: 2^N <= 2N + 1
    assert tuning.pdim_from_oscillations(120) == 10
    for b in (3, 17, 500):
        d = tuning.pdim_from_oscillations(b)
        assert 2 ** d <= d * b + 1 and 2 ** (d + 1) > (d + 1) * b + 1


def test_erm_gaps_are_nonnegative_and_shrink():
    g = np.random.default_rng(3)
    alphas = np.linspace(0, 1, 51)
    u = (alphas - 0.4) ** 2 + 0.3 * g.standard_normal((4000, 1)) * (alphas - 0.5)
    gap4, dev4 = tuning.erm_gaps(u[:2000], u[2000:], 4, 300, g)
    gap64, dev64 = tuning.erm_gaps(u[:2000], u[2000:], 64, 300, g)
    assert (gap4 >= 0).all() and gap64.mean() < gap4.mean() / 4 and dev64.mean() < dev4.mean() / 2
    # linear-in-task noise: u' (alpha*) has variance 0.09, U'' = 2, so c = 0.09 / 4
    c = tuning.asymptotic_gap(u[2000:], 0.3 * g.standard_normal(2000), alphas)
    assert c == pytest.approx(0.0225, rel=0.15)


def test_bad_arguments():
    with pytest.raises(ValueError, match="ridge"):
        tuning.dual_utility(_tasks(2), np.array([0.5]), 0.0)
    with pytest.raises(ValueError, match="n_tasks"):
        tuning.erm_gaps(np.zeros((5, 3)), np.zeros((5, 3)), 6, 2, np.random.default_rng(0))


def test_sup_deviation_matches_simulation():
    g = np.random.default_rng(4)
    u = g.standard_normal((3000, 1)) * np.linspace(0.5, 1.0, 11) + 0.2 * g.standard_normal((3000, 11))
    pred = tuning.sup_deviation(u, 10, 10**9, 4000, g)
    sim = np.abs(u[g.integers(0, 3000, (4000, 10))].mean(1) - u.mean(0)).max(1).mean()
    assert pred == pytest.approx(sim, rel=0.06)
    np.testing.assert_allclose(tuning.gap_curve(2.0, [1, 4], 4), [2.5, 1.0])


@pytest.mark.parametrize("n, m", [(3, 5), (5, 3)])
def test_utility_times_det_squared_is_a_polynomial_of_degree_oscillation_bound(n, m):
    """thm-hp-rational: u_x det(K + n lambda I)^2 is a polynomial of degree exactly 4 min(n, m) (generic task)."""
    from numpy.polynomial import chebyshev
    tasks, lam = tuning.draw_tasks(2, 4, n, 6, m, np.random.default_rng(5)), 1e-3
    nodes = 4 * np.cos(np.pi * (np.arange(200) + 0.5) / 200)
    tr, dr = tuning.feature_parts(tasks.x, tasks.w, tasks.b)
    q = np.stack([np.linalg.det((tr + a * dr) @ np.swapaxes(tr + a * dr, -1, -2) + n * lam * np.eye(n)) for a in nodes], 1)
    p = tuning.dual_utility(tasks, nodes, lam) * q ** 2
    deg = tuning.oscillation_bound(n, m)
    for row in p:
        rel = [np.abs(chebyshev.chebval(nodes / 4, chebyshev.chebfit(nodes / 4, row, k)) - row).max() / np.abs(row).max()
               for k in (deg - 1, deg)]
        assert rel[1] < 1e-9 < rel[0]
