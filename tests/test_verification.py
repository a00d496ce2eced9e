"""Tests of theorylab.data.verification: closed forms against Monte Carlo, the plane reduction against
explicit d-dimensional data, and the symmetries that locate the breakdown point."""
import numpy as np
import pytest
from scipy.special import ndtr

from theorylab.data import verification as V

M, TG = 1.0, np.radians(60)


def _gen(*keys):
    return np.random.default_rng(list(keys))


def _monte_carlo(rule, tv, n=2_000_000, seed=0, m=M, tg=TG):
    g = _gen(seed)
    y = np.where(g.random(n) < 0.5, -1.0, 1.0)
    x = g.standard_normal((n, 2))
    x[:, 0] += y * m
    w_g, w_v = np.array([np.cos(tg), np.sin(tg)]), np.array([np.cos(tv), np.sin(tv)])
    y_hat = np.sign(x @ w_g)
    keep = {"none": np.ones(n, bool), "oracle": y_hat == y, "verifier": y_hat * (x @ w_v) > 0}[rule]
    prod = y_hat[keep, None] * x[keep]
    return keep.mean(), (y_hat[keep] != y[keep]).mean(), prod.mean(0), prod.std(0) / np.sqrt(keep.sum())


# ---------------------------------------------------------------- 1. closed form vs Monte Carlo
@pytest.mark.parametrize("rule, tv", [("none", 0.0), ("oracle", 0.0), ("verifier", 0.0), ("verifier", np.radians(90)),
                                      ("verifier", np.radians(150)), ("verifier", np.radians(-60)),
                                      ("verifier", np.radians(-100))])
def test_selection_matches_monte_carlo(rule, tv):
    sel = V.selection(M, TG, rule, tv)
    keep, flip, g, se = _monte_carlo(rule, tv)
    assert abs(sel.keep_rate - keep) < 2e-3
    assert abs(sel.flip_rate - flip) < 2e-3
    assert np.all(np.abs(sel.g - g) < 5 * se + 1e-4)


@pytest.mark.parametrize("rule, tv", [("none", 0.0), ("oracle", 0.0), ("verifier", np.radians(90)),
                                      ("verifier", np.radians(150))])
def test_selection_matches_monte_carlo_at_another_separation(rule, tv):
    """At m = 1 a missing factor of m is invisible: check m = 2, theta_g = 45 degrees too."""
    m, tg = 2.0, np.radians(45)
    sel = V.selection(m, tg, rule, tv)
    keep, flip, g, se = _monte_carlo(rule, tv, seed=1, m=m, tg=tg)
    assert abs(sel.keep_rate - keep) < 2e-3
    assert abs(sel.flip_rate - flip) < 2e-3
    assert np.all(np.abs(sel.g - g) < 5 * se + 1e-4)
    assert np.isclose(V.breakdown_angle(m, tg), np.pi - tg, atol=1e-8)


# ---------------------------------------------------------------- 2. plane reduction vs explicit data
def test_simulation_matches_explicit_d_dimensional_training():
    d, n, reps, tv = 20, 400, 400, np.radians(30)
    g = _gen(2)
    mu = np.zeros(d)
    mu[0] = M
    w_g = np.zeros(d); w_g[:2] = np.cos(TG), np.sin(TG)
    w_v = np.zeros(d); w_v[:2] = np.cos(tv), np.sin(tv)
    acc = np.empty(reps)
    for r in range(reps):
        y = np.where(g.random(n) < 0.5, -1.0, 1.0)
        x = y[:, None] * mu + g.standard_normal((n, d))
        y_hat = np.sign(x @ w_g)
        keep = y_hat * (x @ w_v) > 0
        w = (y_hat[keep, None] * x[keep]).mean(0)
        acc[r] = ndtr(w @ mu / np.linalg.norm(w))
    fast = V.simulate_accuracy([n], M, d, TG, "verifier", [tv], g, reps=4000)[:, 0, 0]
    se = np.hypot(acc.std(ddof=1) / np.sqrt(reps), fast.std(ddof=1) / np.sqrt(fast.size))
    assert abs(acc.mean() - fast.mean()) <= 4 * se


# ---------------------------------------------------------------- 3. finite-n formula vs simulation
@pytest.mark.parametrize("rule, tv", [("none", 0.0), ("oracle", 0.0), ("verifier", np.radians(90)),
                                      ("verifier", np.radians(140))])
def test_accuracy_formula_matches_simulation(rule, tv):
    ns = [1_000, 10_000, 100_000]
    sims = V.simulate_accuracy(ns, M, 100, TG, rule, [tv], _gen(3), reps=40)[:, 0]
    assert np.all(np.abs(sims.mean(0) - V.accuracy(ns, M, 100, TG, rule, tv)) < 0.006)


# ---------------------------------------------------------------- 4. symmetries and limits
def test_symmetries_breakdown_and_rival():
    bayes = ndtr(M)
    assert np.isclose(V.breakdown_angle(M, TG), np.pi - TG, atol=1e-8)
    assert np.isclose(V.proxy_breakdown_angle(M, TG), np.pi - TG, atol=1e-8)
    assert np.isclose(V.limit_accuracy(M, TG, "verifier", -TG), bayes)          # mirror verifier: Bayes
    assert np.isclose(V.limit_accuracy(M, TG, "verifier", TG), V.limit_accuracy(M, TG, "none"))
    none = V.selection(M, TG, "none")
    assert np.isclose(none.flip_rate, ndtr(-M * np.cos(TG)))
    assert V.limit_accuracy(M, TG, "none") < bayes - 0.05                       # input-dependent errors: a plateau
    assert np.isclose(V.iid_flip_accuracy(1e12, M, 100, none.flip_rate), bayes)  # flips independent of x: none
    assert V.limit_accuracy(M, TG, "oracle") < bayes                             # correct labels, shifted inputs
    assert np.isclose(V.accuracy(1e15, M, 100, TG, "oracle"), V.limit_accuracy(M, TG, "oracle"))


# ---------------------------------------------------------------- 5. bad arguments
@pytest.mark.parametrize("call, name", [
    (lambda: V.selection(0.0, TG), "m"),
    (lambda: V.selection(M, np.pi / 2), "theta_gen"),
    (lambda: V.selection(M, TG, "vote"), "rule"),
    (lambda: V.selection(M, TG, "verifier", TG - np.pi), "keeps nothing"),
    (lambda: V.accuracy(-1, M, 10, TG), "n_generated"),
    (lambda: V.simulate_accuracy([10], M, 2, TG, "none", [0.0], _gen(0)), "d"),
])
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()
