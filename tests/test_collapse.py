"""Tests of theorylab.data.collapse: closed forms against simulation, second routes, invariants, bad inputs."""
import numpy as np
import pytest

from theorylab.data import collapse, memorizer


def _mean_se(samples):
    samples = np.asarray(samples)
    return samples.mean(0), samples.std(0, ddof=1) / np.sqrt(samples.shape[0])


# ---------------------------------------------------------------- 1. closed form vs simulation
@pytest.mark.parametrize("case", ["clean", "cut", "mix"])
def test_memorizer_error_matches_simulation(case):
    p = collapse.zipf(5_000, 1.5)
    q = {"clean": p, "cut": collapse.tail_cut(p, 30),
         "mix": 0.1 * p + 0.9 * collapse.tail_cut(p, 30)}[case]  # 10% real data
    sizes = np.array([10, 100, 1_000, 10_000])
    sims = [collapse.simulate_memorizer(p, q, sizes, np.random.default_rng(s)) for s in range(200)]
    mean, se = _mean_se(sims)
    exact = collapse.memorizer_error(p, q, sizes)
    assert np.all(np.abs(mean - exact) <= 4 * se + 1e-12), (mean, exact, se)


def test_narrowed_training_distribution_matches_simulation():
    p, q = collapse.zipf(5_000, 2.0), collapse.zipf(5_000, 3.0)
    sizes = np.array([50, 500, 5_000])
    mean, se = _mean_se([collapse.simulate_memorizer(p, q, sizes, np.random.default_rng(s)) for s in range(200)])
    assert np.all(np.abs(mean - collapse.memorizer_error(p, q, sizes)) <= 4 * se)


def test_generations_plateau_matches_simulation():
    # The branching closed form is Poissonized: exact up to O(p_i) per item, a few % here.
    p, t0, n = collapse.zipf(20_000, 2.0), 2_000, 16
    sims = [collapse.simulate_generations_plateau(p, t0, n, np.random.default_rng(s)) for s in range(150)]
    mean, se = _mean_se(sims)
    exact = collapse.generations_plateau(p, t0, np.arange(1, n + 1))
    assert np.all(np.abs(mean - exact) <= 4 * se + 0.03 * exact), (mean / exact)
    approx = collapse.generations_plateau(p, t0, np.arange(1, n + 1), exact=False)
    assert np.all(np.abs(approx / exact - 1) < 0.08)  # a_m ~ 2/(m+2) within 8% up to m = 16
    assert np.all(exact >= approx)  # a_m <= 2/(m+2), proved in the chapter by induction


def test_verified_error_matches_simulation():
    p = collapse.zipf(5_000, 2.0)
    sizes = np.array([1_000, 10_000, 100_000])
    for kc, kw in [(0.9, 0.3), (1.0, 1.0)]:
        sims = [collapse.simulate_verified(p, sizes, 0.6, kc, kw, np.random.default_rng(s)) for s in range(150)]
        mean, se = _mean_se(sims)
        exact = collapse.verified_error(p, sizes, 0.6, kc, kw)
        # Poissonized counts: the only bias is on head items, below 0.002 in absolute error here.
        assert np.all(np.abs(mean - exact) <= 4 * se + 2e-3), (kc, kw, mean, exact)


# ---------------------------------------------------------------- 2. second routes
def test_memorizer_error_equals_direct_power():
    p = collapse.zipf(300, 1.3)
    q = collapse.zipf(300, 2.2)
    for t in [0, 1, 7, 250, 4_000]:
        assert collapse.memorizer_error(p, q, t) == pytest.approx(np.sum(p * (1 - q) ** t), rel=1e-12)


def test_memorizer_error_stable_at_paper_scale():
    # N = 10^7 items and T up to 10^9: log1p keeps (1-q)^T = exp(T log(1-q)) exact where
    # the naive power underflows or rounds 1-q to 1; compare with the Poisson form e^{-Tq}.
    p = collapse.zipf(10_000_000, 2.0)
    sizes = np.array([1e3, 1e6, 1e9])
    exact = collapse.memorizer_error(p, p, sizes)
    poisson = np.array([np.dot(p, np.exp(-t * p)) for t in sizes])
    assert np.all(np.isfinite(exact)) and np.all(np.diff(exact) < 0)
    assert np.allclose(exact, poisson, rtol=1e-3)
    # The continuum law sum_{i} p_i e^{-T p_i} ~ Gamma(1-1/beta) (T/zeta)^{-(1-1/beta)} / (beta zeta)
    zeta = np.pi**2 / 6
    law = 1 / (2 * zeta) * np.sqrt(np.pi) * (1e6 / zeta) ** -0.5
    assert exact[1] == pytest.approx(law, rel=0.02)


def test_self_consume_zero_generations_and_support():
    p = collapse.zipf(1_000, 1.8)
    assert np.array_equal(collapse.self_consume(p, 500, 0, np.random.default_rng(0)), p)
    q1 = collapse.self_consume(p, 500, 1, np.random.default_rng(1))
    q5 = collapse.self_consume(p, 500, 5, np.random.default_rng(1))
    assert q1.sum() == pytest.approx(1.0) and q5.sum() == pytest.approx(1.0)
    assert np.all(q1 * 500 == np.round(q1 * 500))  # an empirical law of 500 draws
    assert set(np.flatnonzero(q5)) <= set(np.flatnonzero(q1))  # a lost item never returns


def test_clean_law_is_the_limit_of_the_sum():
    for beta in (1.5, 2.0, 3.0):
        p = collapse.zipf(2_000_000, beta)
        assert collapse.memorizer_error(p, p, 1e4) == pytest.approx(collapse.clean_law(1e4, beta), rel=0.02)


@pytest.mark.parametrize("beta, beta_train", [(2.0, 3.0), (2.0, 2.5), (3.0, 4.5), (1.5, 2.25)])
def test_narrowed_law_is_the_limit_of_the_sum(beta, beta_train):
    # the constant and exponent of the tail-narrowing proposition against the exact sum
    p, q = collapse.zipf(2_000_000, beta), collapse.zipf(2_000_000, beta_train)
    exact = collapse.memorizer_error(p, q, 1e4)
    assert exact == pytest.approx(collapse.narrowed_law(1e4, beta, beta_train), rel=0.01)
    assert collapse.narrowed_law(1e4, beta, beta) == pytest.approx(collapse.clean_law(1e4, beta))


def test_neural_memorizer_is_a_memorizer():
    # unseen items keep random embeddings: right by chance 1/K, so error ~ (1 - 1/K) unseen mass
    import torch

    p = collapse.zipf(3_000, 2.0)
    labels = np.random.default_rng(0).integers(0, 8, p.size)
    ratios = []
    for s in range(4):
        r = memorizer.train_memorizer(p, p, 300, labels, gen=torch.Generator().manual_seed(s),
                                      data_gen=np.random.default_rng(s), dim=16)
        assert r.train_accuracy == 1.0 and r.n_seen > 0
        ratios.append(r.test_error / ((1 - 1 / 8) * r.unseen_mass))
    assert abs(np.mean(ratios) - 1) < 0.15


# ---------------------------------------------------------------- 3. invariants and limits
def test_zipf_and_tail_cut():
    p = collapse.zipf(1_000, 2.0)
    assert p.dtype == np.float64 and p.sum() == pytest.approx(1.0) and np.all(np.diff(p) < 0)
    q = collapse.tail_cut(p, 10)
    assert q[10:].sum() == 0 and q.sum() == pytest.approx(1.0)
    assert np.allclose(q[:10] / p[:10], q[0] / p[0])


def test_memorizer_limits():
    p = collapse.zipf(2_000, 2.0)
    q = collapse.tail_cut(p, 50)
    assert collapse.memorizer_error(p, q, 0) == pytest.approx(1.0)
    e = collapse.memorizer_error(p, q, np.logspace(0, 9, 30))
    assert np.all(np.diff(e) <= 0)
    assert e[-1] == pytest.approx(p[50:].sum(), rel=1e-9)  # plateau = cut tail mass
    assert collapse.memorizer_error(p, p, [[1, 2], [3, 4]]).shape == (2, 2)


def test_generations_error_limits():
    p = collapse.zipf(5_000, 2.0)
    t = np.array([10.0, 1e3, 1e5])
    clean = np.array([np.dot(p, np.exp(-x * p)) for x in t])
    assert np.allclose(collapse.generations_error(p, 1_000, 0, t), clean)
    far = collapse.generations_error(p, 1_000, 4, 1e12)
    assert far == pytest.approx(collapse.generations_plateau(p, 1_000, 4, exact=False), rel=1e-9)


def test_verified_error_identities():
    p = collapse.zipf(2_000, 2.0)
    t = np.array([10.0, 1e3, 1e5])
    clean = collapse.verified_error(p, t, 0.0)
    assert np.allclose(clean, 0.5 * np.array([np.dot(p, np.exp(-x * p)) for x in t]))
    # swapping right and wrong labels turns error e into 1 - e
    a = collapse.verified_error(p, t, 0.3, 0.8, 0.4)
    b = collapse.verified_error(p, t, 0.7, 0.4, 0.8)
    assert np.allclose(a + b, 1.0)
    assert collapse.effective_flip(0.6, 0.9, 0.3) == pytest.approx(1 / 3)
    # at p' = 1/2 exactly, every item is a coin flip
    assert np.allclose(collapse.verified_error(p, t, 0.6, 0.9, 0.6), 0.5)


# ---------------------------------------------------------------- 4. failure paths
@pytest.mark.parametrize("call, name", [
    (lambda: collapse.zipf(100, 1.0), "beta"),
    (lambda: collapse.zipf(100, 0.5), "beta"),
    (lambda: collapse.zipf(-5, 2.0), "n_items"),
    (lambda: collapse.zipf(10.5, 2.0), "n_items"),
    (lambda: collapse.tail_cut(collapse.zipf(10, 2.0), 11), "k"),
    (lambda: collapse.memorizer_error([0.5, 0.6], [0.5, 0.5], 10), "p"),
    (lambda: collapse.memorizer_error([0.5, 0.5], [1.5, -0.5], 10), "q"),
    (lambda: collapse.memorizer_error([0.5, 0.5], [1.0], 10), "same length"),
    (lambda: collapse.memorizer_error([0.5, 0.5], [0.5, 0.5], -1), "n_samples"),
    (lambda: collapse.simulate_memorizer([0.5, 0.5], [0.5, 0.5], 2.5, np.random.default_rng(0)), "n_samples"),
    (lambda: collapse.simulate_memorizer([0.5, 0.5], [0.5, 0.5], 2, 0), "gen"),
    (lambda: collapse.self_consume([0.5, 0.5], 0, 3, np.random.default_rng(0)), "n_samples"),
    (lambda: collapse.self_consume([0.5, 0.5], 10, -1, np.random.default_rng(0)), "generations"),
    (lambda: collapse.generations_plateau([0.5, 0.5], 10, 0), "generations"),
    (lambda: collapse.effective_flip(1.2), "flip"),
    (lambda: collapse.verified_error([0.5, 0.5], 10, 0.3, keep_wrong=-0.1), "keep_wrong"),
    (lambda: collapse.verified_error([0.5, 0.5], 10, 0.3, 0.0, 0.0), "keep_correct"),
    (lambda: collapse.clean_law(10, 1.0), "beta"),
    (lambda: collapse.narrowed_law(10, 2.0, 0.9), "beta_train"),
    (lambda: collapse.generations_error([0.5, 0.5], 0, 1, 10), "n_samples_0"),
    (lambda: memorizer.train_memorizer([0.5, 0.5], [0.5, 0.5], -3, np.array([0, 1]), gen=None,
                                       data_gen=np.random.default_rng(0)), "n_samples"),
    (lambda: memorizer.train_memorizer([0.5, 0.5], [0.5, 0.5], 3, np.array([0, 1]), gen=None,
                                       data_gen=np.random.default_rng(0)), "gen"),
    (lambda: memorizer.train_memorizer([0.5, 0.5], [0.5, 0.5], 3, np.array([0.0, 1.0]),
                                       gen=None, data_gen=np.random.default_rng(0)), "labels"),
    (lambda: memorizer.train_memorizer([0.5, 0.5], [0.5, 0.5], 3, np.array([0, 1]), gen=None,
                                       data_gen=np.random.default_rng(0), lr=0.0), "lr"),
])
def test_bad_arguments_raise(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ---------------------------------------------------------------- 4. additions: exponent, real verifier, capacity
@pytest.mark.parametrize("beta, beta_train", [(1.5, 2.25), (2.0, 3.0), (2.5, 3.75)])
def test_narrowed_exponent_is_the_slope_of_the_law(beta, beta_train):
    t = np.array([1e3, 1e6])
    law = collapse.narrowed_law(t, beta, beta_train)
    slope = np.diff(np.log(law)) / np.diff(np.log(t))
    assert np.isclose(-slope[0], collapse.narrowed_exponent(beta, beta_train))
    assert np.isclose(collapse.narrowed_exponent(beta, beta_train), (beta - 1) / beta_train)
    if beta != 2.0:  # away from beta = 2 the rival guess 1/beta' is far off
        assert abs(collapse.narrowed_exponent(beta, beta_train) - 1 / beta_train) > 0.1


def test_tail_mass():
    p = collapse.zipf(100, 2.0)
    assert collapse.tail_mass(p, 0) == pytest.approx(1.0)
    assert collapse.tail_mass(p, 10) == pytest.approx(p[10:].sum())
    assert collapse.tail_mass(p, 100) == 0.0
    with pytest.raises(ValueError):
        collapse.tail_mass(p, -1)


@pytest.mark.parametrize("kc, kw", [(0.9, 0.3), (1.0, 1.0)])
def test_verifier_run_matches_verified_error(kc, kw):
    # a sample-level pipeline (generator, verifier, majority vote) against the Skellam formula
    p = collapse.zipf(2_000, 1.5)
    sizes = np.array([300, 3_000, 30_000])
    sims = [collapse.simulate_verifier_run(p, sizes, 0.6, kc, kw, np.random.default_rng(s)) for s in range(120)]
    mean, se = _mean_se(sims)
    exact = collapse.verified_error(p, sizes, 0.6, kc, kw)
    assert np.all(np.abs(mean - exact) <= 4 * se + 3e-3), (mean, exact, se)
    swapped = 1 - exact  # right and wrong kept labels exchanged: P(C > W) + P(C = W)/2
    assert np.all(np.abs(mean - swapped) > 0.2)


def test_capacity_memorizer_bound_and_plateau():
    p = collapse.zipf(5_000, 2.0)
    sizes = np.array([100, 1_000, 10_000, 10**7])
    sims = np.array([memorizer.simulate_capacity_memorizer(p, sizes, 20, np.random.default_rng(s))
                     for s in range(100)])
    mean, se = _mean_se(sims)
    bound = memorizer.capacity_bound(p, sizes, 20)
    assert np.all(mean >= bound - 4 * se - 1e-12)  # the bound holds for the mean
    assert mean[-1] == pytest.approx(collapse.tail_mass(p, 20), rel=1e-3)  # the top 20 ranks are stored
    assert np.all((sims >= 0) & (sims <= 1.0))  # (not monotone in T: a rarer item can overtake a stored one)
    # a memory larger than the world is no limit: the clean memorizer
    big = memorizer.simulate_capacity_memorizer(p, sizes, 5_000, np.random.default_rng(0))
    clean = collapse.simulate_memorizer(p, p, sizes, np.random.default_rng(0))
    assert np.allclose(big, clean)
    with pytest.raises(ValueError):
        memorizer.capacity_bound(p, sizes, 0)
    with pytest.raises(ValueError):
        memorizer.simulate_capacity_memorizer(p, np.array([1.5]), 3, np.random.default_rng(0))
