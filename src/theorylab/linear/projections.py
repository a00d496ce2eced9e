r"""Random-projection regression: model size as the width of a fixed random feature map.

.. math::  f(x) = v^\top S x / \sqrt m, \qquad S \in \mathbb R^{m\times d},\ S_{ij}\sim\mathcal N(0,1),

with :math:`v` fitted by ridge on :math:`T` samples, :math:`x\sim\mathcal N(0, I_d)`. The model is
linear in :math:`x` with weights :math:`\hat w = S^\top\hat v/\sqrt m`, so its test error is
:math:`\|\hat w - w_1\|^2`. Dohmatob, Feng, Subramonian & Kempe (2025), *Strong Model Collapse*
(Sec. 4) use this model to ask whether larger models (larger ``m``) amplify or mitigate the damage
done by a fraction of synthetic labels.
"""

from __future__ import annotations

import numpy as np

from theorylab.runtime import require_int

__all__ = ["projection_ridge_errors"]


def projection_ridge_errors(w1: np.ndarray, delta: np.ndarray, t: int, widths, p2, sigma: float,
                            ridge: float, gen: np.random.Generator, reps: int = 1) -> np.ndarray:
    r"""Paired test errors of random-projection ridge, (reps, 1 + len(p2), len(widths)).

    Index 0 along the second axis is the clean fit; index k is the fit in which the last
    ``round(p2[k-1] * t)`` labels come from :math:`w_2 = w_1 + \Delta`. All fits of one repetition
    share the inputs ``X``, the label noise and the projection ``S`` (nested over widths, so the
    comparison across sizes is paired too). Dual form:
    :math:`\hat w = G X^\top (X G X^\top + t\lambda I)^{-1} y` with :math:`G = S^\top S/m`, equal to
    :math:`S^\top(Z^\top Z + t\lambda)^{-1}Z^\top y/\sqrt m` for :math:`Z = XS^\top/\sqrt m`.
    """
    w1, delta = np.asarray(w1, dtype=np.float64), np.asarray(delta, dtype=np.float64)
    if w1.ndim != 1 or w1.shape != delta.shape:
        raise ValueError("w1 and delta must be 1-d arrays of the same length d")
    d = w1.size
    t, reps = require_int("t", t, minimum=1), require_int("reps", reps, minimum=1)
    widths = np.array([require_int("widths", m, minimum=1) for m in np.atleast_1d(widths)])
    if np.any(np.diff(widths) <= 0):
        raise ValueError(f"widths must be strictly increasing, got {widths!r}")
    p2 = np.atleast_1d(np.asarray(p2, dtype=np.float64))
    if not np.all((p2 >= 0) & (p2 <= 1)):
        raise ValueError(f"p2 must lie in [0, 1], got {p2!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    if not ridge > 0:
        raise ValueError(f"ridge must be > 0 (the dual solve needs it), got {ridge!r}")
    out = np.empty((reps, 1 + p2.size, widths.size))
    for r in range(reps):
        x = gen.standard_normal((t, d))
        y = np.repeat((x @ w1 + sigma * gen.standard_normal(t))[:, None], 1 + p2.size, axis=1)
        for k, frac in enumerate(p2, start=1):
            t2 = int(round(frac * t))
            y[t - t2:, k] += x[t - t2:] @ delta
        s_full = gen.standard_normal((int(widths[-1]), d))
        gram, done = np.zeros((d, d)), 0
        for j, m in enumerate(widths):
            gram += s_full[done:m].T @ s_full[done:m]                 # S_m^T S_m, accumulated
            done = m
            xg = x @ (gram / m)                                       # (t, d)
            alpha = np.linalg.solve(xg @ x.T + t * ridge * np.eye(t), y)
            out[r, :, j] = np.sum((xg.T @ alpha - w1[:, None]) ** 2, axis=0)
    return out
