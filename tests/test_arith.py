"""Tests for theorylab.data.arith: the two-step task, its reward and the noisy verifier."""

import numpy as np
import pytest

from theorylab.data import arith


def test_problems_and_solution():
    task = arith.Task(4)
    x = task.problems()
    assert x.shape == (64, 3) and len({tuple(r) for r in x}) == 64
    s, y = arith.solution(x)
    assert np.array_equal(s, x[:, 0] + x[:, 1]) and np.array_equal(y, x.sum(1))
    assert s.max() == task.n_mid - 1 and y.max() == task.n_answer - 1


def test_split_disjoint():
    task = arith.Task(5)
    tr, te = arith.split(task, 60, 65, np.random.default_rng(0))
    assert len({tuple(r) for r in tr} & {tuple(r) for r in te}) == 0
    with pytest.raises(ValueError):
        arith.split(task, 100, 100, np.random.default_rng(0))


def test_verifier_error_rates_by_monte_carlo():
    gen = np.random.default_rng(1)
    x = np.tile([[1, 2, 3]], (200_000, 1))
    y = np.where(gen.random(200_000) < 0.4, 6, 7)          # 40% right answers
    v = arith.verify(x, y, gen, fpr=0.2, fnr=0.3)
    right = arith.reward(x, y) > 0
    se = 0.5 / np.sqrt(60_000)
    assert abs(v[right].mean() - 0.7) < 5 * se
    assert abs(v[~right].mean() - 0.2) < 5 * se
    assert np.array_equal(arith.verify(x, y, gen), arith.reward(x, y))
    assert arith.flips(0.3) == (0.3, 0.3)
    with pytest.raises(ValueError):
        arith.verify(x, y, gen, fpr=1.5)
