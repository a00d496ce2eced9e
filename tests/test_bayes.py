"""Tests for theorylab.nets.bayes: each quantity against a second route (brute force on a tiny class)."""

import itertools

import numpy as np

from theorylab.nets import bayes


def _tiny():
    k = 2
    tabs = np.array(list(itertools.product([0, 1], repeat=4)), dtype=np.uint8)   # all 16 functions on 4 inputs
    w = np.random.default_rng(0).dirichlet(np.ones(16))
    return k, tabs, w


def test_codes_roundtrip_and_cube():
    tabs = np.random.default_rng(1).integers(0, 2, (50, 32)).astype(np.uint8)
    assert np.array_equal(bayes.tables(bayes.encode(tabs), 5), tabs)
    x = bayes.cube(3)
    assert x.shape == (8, 3) and len({tuple(r) for r in x}) == 8


def test_net_codes_match_a_direct_evaluation():
    gen = np.random.default_rng(2)
    codes = bayes.sample_net_codes(3, 7, 4, np.random.default_rng(2))
    x = bayes.cube(3)
    w1 = gen.standard_normal((3, 28), dtype=np.float32) / np.float32(np.sqrt(3))
    b1 = gen.standard_normal(28, dtype=np.float32)
    v = gen.standard_normal((7, 4), dtype=np.float32) / np.float32(2)
    c = gen.standard_normal(7, dtype=np.float32) / np.float32(2)
    for m in range(7):
        h = np.tanh(x @ w1[:, 4 * m:4 * m + 4] + b1[4 * m:4 * m + 4])
        assert bayes.encode((h @ v[m] + c[m] > 0).astype(np.uint8)) == codes[m]


def test_loglik_and_mixture_by_brute_force():
    k, tabs, w = _tiny()
    x, y = bayes.sample_labels(tabs[5], 12, 0.2, np.random.default_rng(3))
    ll = bayes.cumulative_loglik(tabs, x, y, 0.2)
    brute = np.array([[np.sum(np.log(np.where(tabs[f, x[:t]] == y[:t], 0.8, 0.2))) for f in range(16)] for t in range(13)])
    assert np.allclose(ll, brute)
    joint = -np.log((w[None] * np.exp(brute)).sum(1))
    assert np.allclose(bayes.mixture_logloss(np.log(w), ll), joint)
    assert np.allclose(bayes.sequential_logloss(np.log(w), ll), joint)
    sub = bayes.cumulative_loglik(tabs, x, y, 0.2, np.array([0, 4, 12]))
    assert np.allclose(sub, ll[[0, 4, 12]])


def test_regret_bounds():
    k, tabs, w = _tiny()
    lw = np.log(w)
    for s in range(20):
        x, y = bayes.sample_labels(tabs[9], 40, 0.2, np.random.default_rng(s))
        r = bayes.regret(lw, bayes.cumulative_loglik(tabs, x, y, 0.2), 9)
        assert r.max() <= -lw[9] + 1e-12
    ns = np.arange(41)
    res = bayes.resolvability(w, tabs, 9, ns, 0.2)
    assert res[0] == 0.0 or res[0] <= -np.log(w.sum()) + 1e-12
    assert np.all(res <= -lw[9] + 1e-12) and np.all(np.diff(res) >= -1e-12)


def test_approach_gap_bounds_the_mean_gap():
    k, tabs, w = _tiny()
    lw, ns = np.log(w), np.array([0, 5, 20, 60])
    gaps = []
    for s in range(400):
        x, y = bayes.sample_labels(tabs[9], 60, 0.2, np.random.default_rng(100 + s))
        gaps.append(-lw[9] - bayes.regret(lw, bayes.cumulative_loglik(tabs, x, y, 0.2, ns), 9))
    bound = bayes.approach_gap(w, tabs, 9, ns, 0.2)
    assert np.all(np.mean(gaps, 0) <= bound) and bound[-1] < bound[1]
    assert np.isclose(bayes.approach_gap(w, tabs, 9, [3], 0.2)[0],
                      sum(np.sqrt(w[f] / w[9]) * (1 - (tabs[f] != tabs[9]).sum() / 4 * (1 - 2 * np.sqrt(0.16))) ** 3
                          for f in range(16) if f != 9))


def test_kl_rate_against_bernoulli():
    eps = 0.15
    d = (1 - eps) * np.log((1 - eps) / eps) + eps * np.log(eps / (1 - eps))
    assert np.isclose(bayes.kl_rate(3, 8, eps), 3 / 8 * d)


def test_sensitivity_and_prior():
    k = 3
    parity = np.array([bin(i).count("1") % 2 for i in range(8)], dtype=np.uint8)
    assert bayes.sensitivity(parity, k) == 12 and bayes.sensitivity(np.zeros(8, np.uint8), k) == 0
    u, w = bayes.empirical_prior(np.array([3, 3, 5, 3, 7, 5]))
    assert list(u) == [3, 5, 7] and np.allclose(w, [0.5, 1 / 3, 1 / 6])
