r"""Power-law Gaussian regression tasks: features with a power-law spectrum and a power-law teacher.

The task is

.. math::  x \sim \mathcal N(0, \Lambda),\quad \Lambda = \mathrm{diag}(\lambda_1,\dots,\lambda_m),
           \quad \lambda_i = i^{-\alpha}, \qquad y = w^\top x + \sigma\varepsilon,
           \quad v_i^2 := \lambda_i w_i^2 = c\, i^{-\beta},

with :math:`c` chosen so that the signal has unit variance, :math:`\sum_i v_i^2 = 1`. In the
eigenframework's language :math:`\lambda_i` are the kernel eigenvalues and :math:`v_i` the target's
coefficients in the orthonormal eigenbasis (Simon, Karkada, Ghosh & Belkin 2023, Sec. 5: tasks with
"power-law eigenstructure"). The spectrum is :func:`theorylab.linear.highdim.powerlaw_spectrum`.

The population risk of a linear predictor :math:`\hat w` is exact and needs no test set:
:math:`\|\hat w - w\|_\Lambda^2 + \sigma^2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theorylab.linear import highdim

__all__ = ["PowerLawTask", "task", "sample", "population_risk", "empirical_moments"]


@dataclass(frozen=True)
class PowerLawTask:
    """Spectrum ``lam`` (m,), teacher ``w`` (m,) with ``lam * w**2 = v2``, and label noise variance ``noise``."""

    lam: np.ndarray
    w: np.ndarray
    noise: float

    @property
    def v2(self) -> np.ndarray:
        r"""Target power per eigenmode, :math:`v_i^2 = \lambda_i w_i^2`."""
        return self.lam * self.w**2

    @property
    def m(self) -> int:
        return self.lam.size


def task(m: int, alpha: float, beta: float, noise: float = 0.0) -> PowerLawTask:
    r"""The task with :math:`\lambda_i = i^{-\alpha}` and :math:`v_i^2\propto i^{-\beta}`, :math:`\sum v_i^2 = 1`.

    Args: m: number of eigenmodes (input dimension); alpha > 0, beta > 0: exponents;
    noise: label-noise variance :math:`\sigma^2\ge0`.
    """
    lam = highdim.powerlaw_spectrum(m, alpha)
    if not (isinstance(beta, (int, float)) and beta > 0):
        raise ValueError(f"beta must be a number > 0, got {beta!r}")
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    v2 = np.arange(1, m + 1, dtype=np.float64) ** (-float(beta))
    v2 /= v2.sum()
    return PowerLawTask(lam=lam, w=np.sqrt(v2 / lam), noise=float(noise))


def sample(t: PowerLawTask, n: int, gen: np.random.Generator, size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    r"""``size`` independent training sets: inputs (size, n, m) with rows :math:`\sim\mathcal N(0,\Lambda)`, labels (size, n)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    x = gen.standard_normal((size, n, t.m)) * np.sqrt(t.lam)
    y = x @ t.w + np.sqrt(t.noise) * gen.standard_normal((size, n))
    return x, y


def population_risk(t: PowerLawTask, w_hat: np.ndarray) -> np.ndarray:
    r"""Test risk :math:`\|\hat w - w\|_\Lambda^2 + \sigma^2` along the last axis of ``w_hat`` (..., m)."""
    w_hat = np.asarray(w_hat, dtype=np.float64)
    if w_hat.shape[-1] != t.m:
        raise ValueError(f"w_hat must end with the task's dimension m = {t.m}, got shape {w_hat.shape}")
    return np.sum(t.lam * (w_hat - t.w) ** 2, axis=-1) + t.noise


def empirical_moments(x: np.ndarray, y: np.ndarray, t: PowerLawTask) -> dict[str, np.ndarray]:
    r"""Simulated twins of the task's moments, pooled over all samples of ``x`` (..., n, m), ``y`` (..., n).

    Returns the per-coordinate variances (twin of ``lam``), the label variance (twin of
    :math:`\sum_i v_i^2 + \sigma^2`) and the per-coordinate :math:`\mathbb E[x_iy]^2/\lambda_i`
    (twin of ``v2``), each with its standard error.
    """
    x = np.asarray(x).reshape(-1, t.m)
    y = np.asarray(y).reshape(-1)
    count = x.shape[0]
    xy = x * y[:, None]
    return {"lam": np.mean(x**2, axis=0), "lam_se": (x**2).std(0) / np.sqrt(count),
            "y_var": np.mean(y**2), "y_var_se": (y**2).std() / np.sqrt(count),
            "cov_xy": xy.mean(0), "cov_xy_se": xy.std(0) / np.sqrt(count)}
