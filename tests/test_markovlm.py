"""Tests of theorylab.data.markovlm: the exact entropy rate against a Monte Carlo estimate."""

import numpy as np
import pytest

from theorylab.data import markovlm


@pytest.mark.parametrize("make", [lambda g: markovlm.zipf_markov(12, 1.1, g),
                                  lambda g: markovlm.spectral_markov(12, 1.0, 0.6, 4.0, g)])
def test_entropy_rate_matches_monte_carlo(make):
    lang = make(np.random.default_rng(0))
    assert np.allclose(lang.pi @ lang.P, lang.pi) and np.isclose(lang.pi.sum(), 1.0)
    x = markovlm.sample(lang, 200_000, np.random.default_rng(1))
    est, se = markovlm.empirical_entropy_rate(lang, x)
    assert abs(est - lang.entropy) < 5 * se


def test_uniform_chain_has_entropy_log_v_and_population_loss_floor():
    lang = markovlm.zipf_markov(10, 0.0, np.random.default_rng(0))
    assert np.isclose(lang.entropy, np.log(10))
    lang = markovlm.spectral_markov(8, 1.0, 0.6, 3.0, np.random.default_rng(2))
    assert np.isclose(markovlm.population_loss(lang, np.log(lang.P)), lang.entropy)
    q = np.log(np.full((8, 8), 1 / 8))
    assert markovlm.population_loss(lang, q) > lang.entropy


def test_counts_and_train_loss():
    lang = markovlm.zipf_markov(6, 1.0, np.random.default_rng(0))
    x = markovlm.sample(lang, 5000, np.random.default_rng(3))
    C = markovlm.bigram_counts(x, 6)
    assert C.sum() == 5000
    direct = -np.mean(np.log(lang.P[x[:-1], x[1:]]))
    assert np.isclose(markovlm.train_loss(C, np.log(lang.P)), direct)
    # empirical transition frequencies approach P
    freq = C / C.sum(1, keepdims=True)
    assert np.abs(freq - lang.P).max() < 0.05
