"""Tests of theorylab.nets.widths: a width sweep trained as one tensor program."""

import numpy as np
import pytest
import torch

from theorylab.nets import widths as W

torch.set_num_threads(1)   # tiny tensors: threads only add contention


def _data(seeds=2, n=20, d=5):
    return W.teacher_data(n, 50, d, 4, 0.1, seeds, torch.Generator().manual_seed(0))


def test_shapes_and_initial_errors():
    x, y, xt, yt = _data()
    res = W.train_width_sweep(x, y, xt, yt, [1, 3], steps=10, lr=1e-2, init_scale=0.5, every=5,
                              gen=torch.Generator().manual_seed(1))
    assert res.test.shape == (2, 2, 3) and res.train.shape == (2, 2, 3)
    assert list(res.steps) == [0, 5, 10]
    assert np.all(np.isfinite(res.test)) and np.all(res.test >= 0)


def test_wide_network_interpolates():
    x, y, xt, yt = _data(seeds=1, n=10, d=4)
    res = W.train_width_sweep(x, y, xt, yt, [64], steps=800, lr=3e-2, init_scale=0.5, every=400,
                              gen=torch.Generator().manual_seed(2))
    assert res.train[0, 0, -1] < 1e-3 * res.train[0, 0, 0]


def test_bad_arguments():
    x, y, xt, yt = _data()
    with pytest.raises(ValueError, match="widths"):
        W.train_width_sweep(x, y, xt, yt, [0], steps=1, lr=1e-2, init_scale=1.0, every=1, gen=torch.Generator())
    with pytest.raises(ValueError, match="noise"):
        W.teacher_data(5, 5, 2, 2, -1.0, 1, torch.Generator())
