"""Tests of theorylab.linear.mixtures: the verified-accuracy formula against simulation and brute force."""
import numpy as np
import pytest
from scipy.special import ndtr

from theorylab.linear import mixtures


def _gen(*keys):
    return np.random.default_rng(list(keys))


# ---------------------------------------------------------------- 1. closed form vs simulation
@pytest.mark.parametrize("p_eff", [0.0, 0.2, 0.45, 0.6])
def test_verified_accuracy_matches_simulation(p_eff):
    """The formula replaces ratios of random variables by their means: exact up to O(1/sqrt(d))."""
    m, d = 1.5, 200
    for t in (100, 1_000, 10_000):
        sims = mixtures.simulate_verified_accuracy(t, p_eff, m, d, _gen(1, t), reps=4000)
        assert abs(sims.mean() - mixtures.verified_accuracy(t, p_eff, m, d)) <= 0.01


# ---------------------------------------------------------------- 2. second route: explicit data
def test_sufficient_statistics_match_explicit_data():
    m, d, t, p_eff, reps = 1.2, 50, 300, 0.3, 600
    gen = _gen(2)
    mu = np.zeros(d)
    mu[0] = m
    acc = np.empty(reps)
    for r in range(reps):
        y = gen.choice([-1.0, 1.0], t)
        x = y[:, None] * mu + gen.standard_normal((t, d))
        y_kept = np.where(gen.random(t) < p_eff, -y, y)
        w = (y_kept[:, None] * x).mean(0)
        acc[r] = ndtr(w @ mu / np.linalg.norm(w))
    fast = mixtures.simulate_verified_accuracy(t, p_eff, m, d, gen, reps=20_000)
    se = np.hypot(acc.std(ddof=1) / np.sqrt(reps), fast.std(ddof=1) / np.sqrt(fast.size))
    assert abs(acc.mean() - fast.mean()) <= 4 * se


# ---------------------------------------------------------------- 3. invariants and limits
def test_breakdown_point_and_limits():
    m, d = 1.0, 100
    assert np.isclose(mixtures.verified_accuracy(1e12, 0.1, m, d), mixtures.bayes_accuracy(m))
    assert np.isclose(mixtures.verified_accuracy(1e12, 0.9, m, d), 1 - mixtures.bayes_accuracy(m))
    assert np.isclose(mixtures.verified_accuracy(1e3, 0.5, m, d), 0.5)
    # effective flip rate: a perfect verifier removes every flip, an indifferent one changes nothing
    assert mixtures.effective_flip_rate(0.4, 1.0, 0.0) == 0.0
    assert np.isclose(mixtures.effective_flip_rate(0.4, 0.7, 0.7), 0.4)


# ---------------------------------------------------------------- 4. bad arguments
@pytest.mark.parametrize("call, name", [
    (lambda: mixtures.effective_flip_rate(1.2, 1.0, 0.5), "p"),
    (lambda: mixtures.effective_flip_rate(0.2, 1.0, -0.1), "psi_wrong"),
    (lambda: mixtures.effective_flip_rate(0.2, 0.0, 0.0), "keeps nothing"),
    (lambda: mixtures.verified_accuracy(-5, 0.1, 1.0, 10), "t"),
    (lambda: mixtures.verified_accuracy(5, 0.1, 0.0, 10), "m"),
    (lambda: mixtures.verified_accuracy(5, 0.1, 1.0, 0), "d"),
    (lambda: mixtures.simulate_verified_accuracy(5, 0.1, 1.0, 1, _gen(0)), "d"),
    (lambda: mixtures.bayes_accuracy(-1.0), "m"),
])
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()
