"""Tests of theorylab.data.powerlaw: each moment against its simulated twin at a few standard errors."""

import numpy as np
import pytest

from theorylab.data import powerlaw


def test_task_normalisation_and_identities():
    t = powerlaw.task(300, 1.5, 1.25, 0.1)
    assert np.isclose(t.v2.sum(), 1.0)
    assert np.allclose(t.lam, np.arange(1, 301) ** -1.5)
    ratio = t.v2[1:] / t.v2[:-1]
    assert np.allclose(ratio, (np.arange(2, 301) / np.arange(1, 300)) ** -1.25)


def test_sample_moments_match_the_task():
    t = powerlaw.task(40, 1.5, 1.25, 0.2)
    x, y = powerlaw.sample(t, 5000, np.random.default_rng(0), size=4)
    mom = powerlaw.empirical_moments(x, y, t)
    # max over 40 coordinates of |z|: exceeding 5 has probability ~ 2e-5
    assert np.max(np.abs(mom["lam"] - t.lam) / mom["lam_se"]) < 5
    assert np.max(np.abs(mom["cov_xy"] - t.lam * t.w) / mom["cov_xy_se"]) < 5
    assert abs(mom["y_var"] - (1.0 + t.noise)) < 5 * mom["y_var_se"]


def test_population_risk_against_fresh_samples():
    t = powerlaw.task(30, 1.2, 1.5, 0.3)
    gen = np.random.default_rng(1)
    w_hat = t.w + 0.3 * gen.standard_normal(t.m)
    x, y = powerlaw.sample(t, 200_000, gen)
    losses = (x[0] @ w_hat - y[0]) ** 2
    se = losses.std() / np.sqrt(losses.size)
    assert abs(losses.mean() - powerlaw.population_risk(t, w_hat)) < 5 * se
    assert np.isclose(powerlaw.population_risk(t, t.w), t.noise)


@pytest.mark.parametrize("bad", [dict(beta=0.0), dict(beta=-1.0), dict(noise=-0.1)])
def test_bad_arguments(bad):
    args = dict(m=10, alpha=1.5, beta=1.25, noise=0.0) | bad
    with pytest.raises(ValueError):
        powerlaw.task(**args)


def test_bad_sample_sizes():
    t = powerlaw.task(10, 1.5, 1.25)
    with pytest.raises(ValueError):
        powerlaw.sample(t, 0, np.random.default_rng(0))
    with pytest.raises(ValueError):
        powerlaw.population_risk(t, np.zeros(9))
