"""Tests of theorylab.optim.sgdmoments: the exact moment recursion of SGD against Monte-Carlo SGD at
k standard errors, its critical step size, and argument checks."""

import numpy as np
import pytest

from theorylab.optim import hsgd, sgdmoments


@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_exact_recursion_matches_simulation(ridge):
    # The exact mean of SGD at finite n, d against 20000 SGD runs: within 5 standard errors everywhere.
    p = hsgd.gaussian_problem(30, 12, 0.5, np.random.default_rng(3))
    t = np.linspace(0, 3, 31)
    exact = sgdmoments.exact_sgd_risk(p, 1.0, t, ridge=ridge)
    sim = hsgd.simulate_sgd_risk(p, 1.0, t, ridge=ridge, reps=20000, gen=np.random.default_rng(4))
    for field in ("loss", "pop"):
        v = getattr(sim, field)[0]
        z = np.abs(v.mean(0) - getattr(exact, field)[0, 0])[1:] / (v.std(0, ddof=1)[1:] / np.sqrt(v.shape[0]))
        assert z.max() < 5


def test_exact_critical_step_separates_growth():
    p = hsgd.gaussian_problem(20, 8, 0.5, np.random.default_rng(10))
    lr_x = sgdmoments.exact_critical_lr(p)
    t = np.linspace(0, 60, 61)
    below = sgdmoments.exact_sgd_risk(p, 0.95 * lr_x, t).loss[0, 0]
    above = sgdmoments.exact_sgd_risk(p, 1.05 * lr_x, t).loss[0, 0]
    assert below[-1] < 2 * below[30] and above[-1] > 2 * above[30]
    assert lr_x < hsgd.critical_lr(p)


def test_exact_critical_lr_refuses_large_d():
    with pytest.raises(ValueError, match="d must be"):
        sgdmoments.exact_critical_lr(hsgd.gaussian_problem(60, 30, 0.5, np.random.default_rng(0)))
