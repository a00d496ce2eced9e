"""Tests for theorylab.nets.samedist: the is-same-class data, the CNN and the grad-change regularizer."""

import numpy as np
import pytest
import torch

from theorylab.data import digits
from theorylab.nets import samedist as sd


@pytest.fixture(scope="module")
def data():
    return digits.load()


@pytest.mark.parametrize("distance", [0, 5, 48])
def test_pairs_balanced_and_placed_at_the_distance(data, distance):
    images, labels = data
    x, y, classes = sd.make_pairs(images, labels, 200, distance, 64, 0.5, np.random.default_rng(0))
    assert x.shape == (200, 8, 64) and y.sum() == 100
    assert np.array_equal(y == 1, classes[:, 0] == classes[:, 1])
    left, right = sd.positions(64, distance)
    assert right - left - 8 == distance                                 # the gap is exactly `distance`
    # the digits sit exactly there: the strip's columns equal the digit's columns
    first = [np.flatnonzero(np.all(np.isclose(images.reshape(-1, 8, 8), x[i, :, left:left + 8]), axis=(1, 2)))
             for i in range(5)]
    assert all(len(f) >= 1 and labels[f[0]] == classes[i, 0] for i, f in enumerate(first))
    noise = np.delete(x, np.r_[left:left + 8, right:right + 8], axis=2)
    assert noise.shape[2] == 64 - 16 and noise.min() >= 0 and noise.max() <= 0.5


def test_distance_too_large_rejected():
    with pytest.raises(ValueError):
        sd.positions(32, 17)


def test_regularizer_by_finite_differences():
    """R by a second route: input gradients by central differences, one model at a time, float64."""
    torch.manual_seed(0)
    m, b, length = 2, 3, 32
    params = [p.double() for p in sd.init(m, 3, 4, torch.Generator().manual_seed(1))]
    params = [p + 0.1 * torch.randn_like(p) for p in params]            # nonzero biases too
    x = torch.rand(m, b, 8, length, dtype=torch.float64)
    p_start, q_start = torch.tensor([0, 20]), torch.tensor([16, 4])
    value = sd.grad_change(params, x, p_start, q_start)

    def fd_grad(z, h=1e-6):
        g = torch.zeros_like(z)
        flat = g.view(-1)
        for k in range(z.numel()):
            e = torch.zeros_like(z).view(-1)
            e[k] = h
            e = e.view_as(z)
            flat[k] = (sd.forward(params, z + e).sum() - sd.forward(params, z - e).sum()) / (2 * h)
        return g

    xs = sd.shuffle_patch(x, q_start)
    for i in range(m):
        assert torch.equal(xs[i, 0, :, q_start[i]:q_start[i] + 8], x[i, 1, :, q_start[i]:q_start[i] + 8])
    ga, gb = fd_grad(x), fd_grad(xs)
    want = []
    for i in range(m):
        s = int(p_start[i])
        a, c = ga[i, :, :, s:s + 8].reshape(b, -1), gb[i, :, :, s:s + 8].reshape(b, -1)
        want.append(torch.nn.functional.cosine_similarity(a, c, dim=1).abs().mean())
    assert torch.allclose(value, torch.stack(want), atol=1e-6)


def test_regularizer_gradient_finite_and_nonzero():
    params = [p.requires_grad_(True) for p in sd.init(2, 4, 5, torch.Generator().manual_seed(0))]
    x = torch.rand(2, 16, 8, 64)
    starts = torch.tensor([[24, 32], [0, 56]])
    r = sd.grad_change(params, x, starts[:, 0], starts[:, 1]).sum()
    grads = torch.autograd.grad(r, params, allow_unused=True)
    convs = [g for g in grads[:-2] if g is not None]
    assert all(torch.isfinite(g).all() for g in convs)
    assert sum(float(g.abs().sum()) for g in convs) > 0


def test_models_are_independent():
    """A grouped forward equals each model run alone."""
    params = sd.init(3, 4, 5, torch.Generator().manual_seed(0))
    x = torch.rand(3, 5, 8, 64)
    joint = sd.forward(params, x)
    for i in range(3):
        alone = sd.forward([p[i:i + 1] for p in params], x[i:i + 1])
        assert torch.allclose(joint[i], alone[0], atol=1e-5)
