"""Tests of theorylab.nets.metrics: feature size, movement, CKA and the refined minimum."""

import numpy as np
import pytest
import torch

from theorylab.nets import metrics


def test_rms_and_relative_change():
    h0 = torch.ones(2, 3, 4)
    assert torch.allclose(metrics.rms(3 * h0), torch.full((2,), 3.0, dtype=torch.float64))
    assert torch.allclose(metrics.relative_change(h0, 1.5 * h0), torch.full((2,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError):
        metrics.relative_change(h0, h0[:, :2])


def test_cka_invariances():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    assert metrics.linear_cka(x, x).item() == pytest.approx(1.0)
    assert metrics.linear_cka(x, 3 * x @ q + 1.0).item() == pytest.approx(1.0)   # rotation, scale, shift
    y = torch.randn(50, 5, generator=g, dtype=torch.float64)
    assert 0 <= metrics.linear_cka(x, y).item() < 0.5
    # against the feature-space formula ||Y^T X||^2 / (||X^T X|| ||Y^T Y||)
    xc, yc = x - x.mean(0), y - y.mean(0)
    direct = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    assert metrics.linear_cka(x, y).item() == pytest.approx(direct.item())


def test_refined_argmin_exact_on_parabola():
    x = np.arange(-3.0, 3.01, 0.5)
    assert metrics.refined_argmin(x, (x - 0.7) ** 2) == pytest.approx(0.7)
    y = (x - 0.7) ** 2
    y[-3:] = np.inf                                    # diverged runs at the right end
    assert metrics.refined_argmin(x, y) == pytest.approx(0.7)
    assert metrics.refined_argmin(x, x) == x[0]        # minimum at the edge: the grid point
    with pytest.raises(ValueError):
        metrics.refined_argmin(x, np.full_like(x, np.inf))
