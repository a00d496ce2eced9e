"""Tests of theorylab.optim.margin: max-margin LP/QP solvers against brute force and optimality."""

import numpy as np
import pytest

from theorylab.optim import margin as mg


def separable(seed, n=12, d=2, gap=0.1):
    gen = np.random.default_rng(seed)
    teacher = gen.standard_normal(d)
    x = gen.standard_normal((n, d))
    x = x[np.abs(x @ teacher) / np.linalg.norm(teacher) > gap]
    return x, np.sign(x @ teacher)


@pytest.mark.parametrize("norm", mg.NORMS)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_solver_matches_brute_force_in_2d(norm, seed):
    """LP/QP optimum == the best of 200k directions on the unit sphere of the norm (second route)."""
    x, y = separable(seed)
    exact, brute = mg.max_margin(x, y, norm), mg.brute_force_2d(x, y, norm)
    assert exact.gamma >= brute.gamma - 1e-10  # nothing on the grid beats the solver
    # the optimum is usually a kink (two tight constraints): the grid error is O(step) = O(3e-5)
    assert exact.gamma == pytest.approx(brute.gamma, rel=2e-4)
    assert mg.cosine(exact.w, brute.w) > 1 - 1e-6
    assert mg.norm_of(exact.w, norm) == pytest.approx(1.0)


@pytest.mark.parametrize("norm", mg.NORMS)
def test_no_random_direction_beats_the_solver_in_high_dimension(norm):
    x, y = separable(5, n=30, d=8)
    best = mg.max_margin(x, y, norm)
    w = np.random.default_rng(0).standard_normal((20_000, 8))
    assert mg.margin(w, x, y, norm).max() <= best.gamma + 1e-10
    # small perturbations of the optimum do not improve it either (local optimality)
    near = best.w + 1e-3 * np.random.default_rng(1).standard_normal((5_000, 8))
    assert mg.margin(near, x, y, norm).max() <= best.gamma + 1e-10


def test_l2_solution_satisfies_kkt():
    """w = sum_i alpha_i y_i x_i with alpha >= 0 supported on the points that attain the margin."""
    x, y = separable(7, n=25, d=5)
    sol = mg.max_margin(x, y, "l2")
    m = y * (x @ sol.w)
    support = m <= sol.gamma * (1 + 1e-7)
    alpha, *_ = np.linalg.lstsq((y[support, None] * x[support]).T, sol.w, rcond=None)
    assert (alpha >= -1e-9).all()
    assert np.allclose((y[support, None] * x[support]).T @ alpha, sol.w, atol=1e-8)


def test_one_dimensional_closed_form():
    """d = 1: every norm gives gamma = min_i |x_i| when all y_i x_i > 0."""
    x, y = np.array([[2.0], [-3.0], [0.5]]), np.array([1.0, -1.0, 1.0])
    for norm in mg.NORMS:
        assert mg.max_margin(x, y, norm).gamma == pytest.approx(0.5)


def test_rejects_non_separable_and_bad_arguments():
    x, y = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0])
    for norm in mg.NORMS:
        with pytest.raises(ValueError):
            mg.max_margin(x, y, norm)
    with pytest.raises(ValueError, match="norm"):
        mg.max_margin(np.eye(2), np.ones(2), "l3")
    with pytest.raises(ValueError, match="labels"):
        mg.margin(np.ones(2), np.eye(2), np.array([1.0, 0.0]), "l2")
