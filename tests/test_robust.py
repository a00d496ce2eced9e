"""Tests of theorylab.optim.robust: each routine against a second route."""

import numpy as np
import pytest

from theorylab.optim import margin as mg
from theorylab.optim import robust as rb


def separable(seed, n=12, d=2, gap=0.3):
    gen = np.random.default_rng(seed)
    teacher = gen.standard_normal(d)
    x = gen.standard_normal((n, d))
    x = x[np.abs(x @ teacher) / np.abs(teacher).sum() > gap]
    return x, np.sign(x @ teacher)


@pytest.mark.parametrize("seed", range(5))
def test_dual_norm_robust_margin_equals_worst_vertex_in_3d(seed):
    """y<w,x> - eps ||w||_1 == min over the 8 vertices of the l_inf ball of y<w, x + delta>."""
    gen = np.random.default_rng(seed)
    w, x = gen.standard_normal(3), gen.standard_normal((7, 3))
    y = np.sign(gen.standard_normal(7))
    for eps in (0.0, 0.1, 0.7):
        assert rb.robust_margins(w, x, y, eps) == pytest.approx(rb.worst_case_brute_force(w, x, y, eps), abs=1e-12)
    # and no random point inside the ball does worse than the formula
    delta = 0.7 * gen.uniform(-1, 1, (5000, 3))
    inner = (y[:, None] * ((x[:, None, :] + delta[None]) @ w)).min(1)
    assert (inner >= rb.robust_margins(w, x, y, 0.7) - 1e-12).all()


@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_robust_max_margin_matches_brute_force_in_2d(norm, seed):
    x, y = separable(seed)
    eps = 0.1
    exact, brute = rb.robust_max_margin(x, y, eps, norm), rb.brute_force_2d(x, y, eps, norm)
    assert exact.gamma >= brute.gamma - 1e-10
    assert exact.gamma == pytest.approx(brute.gamma, rel=2e-4)
    assert mg.cosine(exact.w, brute.w) > 1 - 1e-6


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_eps_zero_is_the_ordinary_max_margin(norm):
    x, y = separable(4, n=30, d=6, gap=0.1)
    a, b = rb.robust_max_margin(x, y, 0.0, norm), mg.max_margin(x, y, norm)
    assert a.gamma == pytest.approx(b.gamma, rel=1e-7)
    assert mg.cosine(a.w, b.w) > 1 - 1e-8


def test_l1_robust_direction_does_not_depend_on_eps():
    """On the l1 sphere ||w||_1 = 1, so the robust l1 problem is the plain one shifted by eps."""
    x, y = separable(5, n=30, d=6, gap=0.2)
    plain = rb.robust_max_margin(x, y, 0.0, "l1")
    for eps in (0.02, 0.05):
        rob = rb.robust_max_margin(x, y, eps, "l1")
        assert rob.gamma == pytest.approx(plain.gamma - eps, abs=1e-9)
        assert mg.cosine(rob.w, plain.w) > 1 - 1e-8


def test_robust_l2_solution_is_optimal_in_high_dimension():
    """No random or nearby direction has a larger robust l2 margin; KKT: w = S_tau(Z'a) holds."""
    x, y = rb.rademacher_teacher_data(40, 30, 3, np.random.default_rng(0))
    best = rb.robust_max_margin(x, y, 0.05, "l2")
    near = best.w + 1e-3 * np.random.default_rng(1).standard_normal((5000, 30))
    assert rb.robust_margin(near, x, y, 0.05, "l2").max() <= best.gamma + 1e-10
    w = np.random.default_rng(2).standard_normal((5000, 30))
    assert rb.robust_margin(w, x, y, 0.05, "l2").max() <= best.gamma + 1e-10
    # primal route: SLSQP on the constrained problem in (a, b), w = a - b
    from scipy.optimize import minimize
    z = y[:, None] * x
    d = 30
    cons = {"type": "ineq", "fun": lambda ab: z @ (ab[:d] - ab[d:]) - 0.05 * ab.sum() - 1,
            "jac": lambda ab: np.c_[z - 0.05, -z - 0.05]}
    res = minimize(lambda ab: 0.5 * ((ab[:d] - ab[d:]) ** 2).sum(), np.r_[np.maximum(best.w, 0), np.maximum(-best.w, 0)] * 3 / best.gamma,
                   jac=lambda ab: np.r_[ab[:d] - ab[d:], ab[d:] - ab[:d]], bounds=[(0, None)] * (2 * d),
                   constraints=[cons], method="SLSQP", options=dict(maxiter=500, ftol=1e-14))
    wp = res.x[:d] - res.x[d:]
    assert mg.cosine(wp, best.w) > 1 - 1e-6
    assert 1 / np.linalg.norm(wp) == pytest.approx(best.gamma, rel=1e-5)


def test_not_robustly_separable_raises():
    x, y = rb.rademacher_teacher_data(60, 20, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="robustly separable"):
        rb.robust_max_margin(x, y, 0.5, "l1")


def test_robust_log_loss_gradient_matches_finite_differences():
    gen = np.random.default_rng(3)
    x, y = gen.standard_normal((2, 9, 5)), np.sign(gen.standard_normal((2, 9)))
    w, eps = gen.standard_normal((3, 2, 5)), np.full((3, 2), 0.2)
    log_l, g = rb.robust_log_loss(w, x, y, eps)
    direct = np.log(np.exp(-np.stack([[rb.robust_margins(w[k, s], x[s], y[s], 0.2) for s in range(2)]
                                      for k in range(3)])).sum(-1))
    assert log_l == pytest.approx(direct, rel=1e-12)
    h, e = 1e-6, np.zeros((3, 2, 5))
    e[1, 0, 2] = h
    fd = (rb.robust_log_loss(w + e, x, y, eps)[0] - rb.robust_log_loss(w - e, x, y, eps)[0])[1, 0] / (2 * h)
    assert fd == pytest.approx(g[1, 0, 2], rel=1e-6)


def test_exact_robust_error_matches_monte_carlo():
    d, k = 12, 3
    w = rb.teacher(d, k) + np.r_[np.zeros(3), 0.08 * np.random.default_rng(0).standard_normal(5), np.zeros(4)]
    x, y = rb.rademacher_teacher_data(400_000, d, k, np.random.default_rng(1))
    for eps in (0.0, 0.05, 0.1, 0.2):
        exact, mc = rb.robust_error_exact(w, k, eps), float(rb.robust_error(w, x, y, eps))
        se = np.sqrt(max(exact * (1 - exact), 1e-6) / len(y))
        assert abs(exact - mc) < 5 * se
    assert rb.robust_error_exact(rb.teacher(d, k), k, 0.3) == 0.0
    assert rb.robust_error_exact(rb.teacher(d, k), k, 1 / 3) == pytest.approx(0.75)  # |sum| = 1 has prob 3/4


def test_rademacher_bound_is_above_the_monte_carlo_complexity():
    x, y = rb.rademacher_teacher_data(80, 50, 3, np.random.default_rng(0))
    for norm in ("l2", "l1"):
        for eps in (0.0, 0.1):
            mc, se = rb.rademacher_monte_carlo(x, y, eps, norm, 4000, np.random.default_rng(1))
            assert mc <= rb.rademacher_bound(norm, 80, 50, eps) + 3 * se
            assert 0 < se < 0.05 * mc
    # the l1-ball supremum is exact: compare with the best vertex +-e_j of the ball
    gen = np.random.default_rng(2)
    sig = gen.choice([-1.0, 1.0], size=80)
    a, c = (sig * y) @ x / 80, sig.mean()
    vert = np.concatenate([np.eye(50), -np.eye(50), np.zeros((1, 50))])
    brute = (vert @ a - 0.1 * c * np.abs(vert).sum(1)).max()
    assert max(np.abs(a).max() - 0.1 * c, 0.0) == pytest.approx(brute)


def test_steepest_and_diagonal_training_reach_their_max_margins():
    x, y = rb.rademacher_teacher_data(30, 40, 3, np.random.default_rng(0))
    eps = [0.0, 0.05]
    gd = rb.train_steepest(x[None], y[None], eps, "l2", 0.01, 2000, record_every=1000)
    cd = rb.train_steepest(x[None], y[None], eps, "l1", 0.01, 2000, record_every=1000)
    dn = rb.train_diagonal(x[None], y[None], eps, 1e-3, 0.01, 1500, record_every=500)
    for j, e in enumerate(eps):
        assert mg.cosine(gd.w[-1, j, 0], rb.robust_max_margin(x, y, e, "l2").w) > 0.98
        assert mg.cosine(cd.w[-1, j, 0], rb.robust_max_margin(x, y, e, "l1").w) > 0.98
        assert mg.cosine(dn.w[-1, j, 0], rb.robust_max_margin(x, y, e, "l1").w) > 0.98


def test_soft_threshold_minimizes_its_objective():
    gen = np.random.default_rng(0)
    g, tau = gen.standard_normal(6), 0.4
    w = rb.soft_threshold(g, tau)
    obj = lambda v: 0.5 * (v * v).sum(-1) - v @ g + tau * np.abs(v).sum(-1)  # noqa: E731
    assert (obj(w + 0.05 * gen.standard_normal((3000, 6))) >= obj(w) - 1e-12).all()


def test_rademacher_bound_attack_term_is_eps_times_the_largest_l1_norm_over_sqrt_n():
    # second route to b_r = sup_{||w||_r <= 1} ||w||_1: the maximizers (flat vector, vertex, sign vector)
    n, d, eps = 80, 50, 0.1
    maximizers = {"l2": np.ones(d) / np.sqrt(d), "l1": np.eye(d)[0], "linf": np.ones(d)}
    gen = np.random.default_rng(3)
    for norm, w in maximizers.items():
        assert mg.norm_of(w, norm) == pytest.approx(1.0)
        others = gen.standard_normal((200, d))
        assert (np.abs(others).sum(1) / mg.norm_of(others, norm) <= np.abs(w).sum() + 1e-12).all()
        slope = (rb.rademacher_bound(norm, n, d, eps) - rb.rademacher_bound(norm, n, d, 0.0)) * np.sqrt(n) / eps
        assert slope == pytest.approx(np.abs(w).sum())
    # E|sum_i sigma_i| / n <= 1/sqrt(n) (Jensen), computed exactly from the binomial law
    from math import comb
    mean_abs = sum(comb(n, j) * abs(2 * j - n) for j in range(n + 1)) / 2 ** n / n
    assert mean_abs <= 1 / np.sqrt(n)
