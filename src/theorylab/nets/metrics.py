r"""Measurements on a network's features: their size, how far they moved, and tuning curves.

- :func:`rms`: the typical coordinate size :math:`\sqrt{\mathrm{mean}\,z^2}`, the quantity a
  coordinate check (Yang et al. 2022, arXiv:2203.03466, Sec. 6 / App. D) follows across widths.
- :func:`relative_change`: feature movement :math:`\|H_1-H_0\|_F/\|H_0\|_F` of a batch of features.
- :func:`linear_cka`: linear centred kernel alignment (Kornblith et al. 2019, arXiv:1905.00414),
  a rotation-invariant similarity of two feature batches; :math:`1-\mathrm{CKA}` is another movement.
- :func:`refined_argmin`: the minimum of a sampled curve, refined by the parabola through the
  lowest point and its two neighbours (for an optimal learning rate on a log grid).

All functions act on the last two axes (batch B, units n) and keep any leading replica axes.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["rms", "relative_change", "linear_cka", "refined_argmin"]


def rms(z: torch.Tensor) -> torch.Tensor:
    r"""Root-mean-square coordinate over the last two axes: (..., B, n) -> (...)."""
    return (z.double() ** 2).mean(dim=(-2, -1)).sqrt()


def relative_change(h0: torch.Tensor, h1: torch.Tensor) -> torch.Tensor:
    r""":math:`\|H_1 - H_0\|_F / \|H_0\|_F` over the last two axes: (..., B, n) twice -> (...)."""
    if h0.shape != h1.shape:
        raise ValueError(f"h0 and h1 must have the same shape; got {tuple(h0.shape)} and {tuple(h1.shape)}")
    h0, h1 = h0.double(), h1.double()
    return torch.linalg.matrix_norm(h1 - h0) / torch.linalg.matrix_norm(h0)


def linear_cka(h0: torch.Tensor, h1: torch.Tensor) -> torch.Tensor:
    r"""Linear CKA of two feature batches (same B, any widths): (..., B, n0), (..., B, n1) -> (...).

    .. math::  \mathrm{CKA}(X, Y) = \frac{\|Y_c^\top X_c\|_F^2}{\|X_c^\top X_c\|_F\,\|Y_c^\top Y_c\|_F},

    with :math:`X_c, Y_c` centred over the batch. Computed through the B x B Gram matrices.
    Reference: Kornblith et al. (2019), Eq. (5).
    """
    if h0.shape[-2] != h1.shape[-2]:
        raise ValueError("h0 and h1 must hold the same batch of inputs (same size of axis -2)")
    x = h0.double() - h0.double().mean(-2, keepdim=True)
    y = h1.double() - h1.double().mean(-2, keepdim=True)
    kx, ky = x @ x.transpose(-1, -2), y @ y.transpose(-1, -2)
    return (kx * ky).sum((-2, -1)) / (torch.linalg.matrix_norm(kx) * torch.linalg.matrix_norm(ky))


def refined_argmin(x: np.ndarray, y: np.ndarray) -> float:
    r"""Abscissa of the minimum of ``y`` sampled on the evenly spaced grid ``x``.

    The grid minimum :math:`x_k` is refined by the vertex of the parabola through
    :math:`(x_{k-1}, y_{k-1}), (x_k, y_k), (x_{k+1}, y_{k+1})`,
    :math:`x_k + \frac{h}{2}\frac{y_{k-1}-y_{k+1}}{y_{k-1}-2y_k+y_{k+1}}` (clipped to
    :math:`\pm h/2`); at an end of the grid, or next to a diverged (non-finite) point, :math:`x_k` itself.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size < 3:
        raise ValueError("x and y must be 1-d arrays of the same length >= 3")
    h = np.diff(x)
    if not np.allclose(h, h[0]) or h[0] <= 0:
        raise ValueError("x must be an increasing, evenly spaced grid")
    yy = np.where(np.isfinite(y), y, np.inf)
    if not np.isfinite(yy).any():
        raise ValueError("y has no finite value")
    k = int(np.argmin(yy))
    if k == 0 or k == x.size - 1 or not (np.isfinite(yy[k - 1]) and np.isfinite(yy[k + 1])):
        return float(x[k])
    curv = yy[k - 1] - 2 * yy[k] + yy[k + 1]
    if curv <= 0:
        return float(x[k])
    shift = 0.5 * h[0] * (yy[k - 1] - yy[k + 1]) / curv
    return float(x[k] + np.clip(shift, -h[0] / 2, h[0] / 2))
