"""Tests for theorylab.nets.ensembles: the digits task, bootstrap data sets and the batched pool."""

import numpy as np
import pytest

from theorylab import rng
from theorylab.nets import ensembles as en


def test_task_and_data_sets():
    task = en.digits_task(100, 50, 0.2, rng.numpy(0, "split"))
    assert task.x_train.shape == (100, 64) and task.x_test.shape == (50, 64)
    y_bar = task.label_distribution(task.y_test)
    assert np.allclose(y_bar.sum(1), 1) and np.allclose(y_bar.max(1), 0.8 + 0.02)
    counts, labels = en.draw_data_sets(task, 300, rng.numpy(0, "data"))
    assert (counts.sum(1) == 100).all()
    assert abs((labels != task.y_train).mean() - 0.2 * 0.9) < 0.01       # a uniform relabel keeps y w.p. 1/10
    with pytest.raises(ValueError, match="eps"):
        en.digits_task(100, 50, 1.0, rng.numpy(0))
    with pytest.raises(ValueError, match="n_train"):
        en.digits_task(1700, 500, 0.0, rng.numpy(0))


def test_pool_is_reproducible_and_members_match_one_network_trained_alone():
    task = en.digits_task(60, 20, 0.1, rng.numpy(1, "split"))
    counts, labels = en.draw_data_sets(task, 2, rng.numpy(1, "data"))
    kw = dict(width=8, steps=20, lr=0.02, weight_decay=0.0)
    pool = en.train_pool(task, counts, labels, 3, gen=rng.torch(1, "init"), **kw)
    again = en.train_pool(task, counts, labels, 3, gen=rng.torch(1, "init"), **kw)
    assert pool.shape == (2, 3, 20, 10) and pool.dtype == np.float64
    assert np.array_equal(pool, again)
    assert np.abs(pool[0, 0] - pool[0, 1]).max() > 1e-3 and np.abs(pool[0, 0] - pool[1, 0]).max() > 1e-3
