r"""Robust low-rank matrix sensing: Gaussian measurements, gross outliers, the sub-gradient method.

A rank-r PSD matrix :math:`X^\star = U^\star U^{\star\top} \in \mathbb R^{d\times d}` is seen through
:math:`m` linear measurements corrupted by a sparse vector of outliers,

.. math::  y_i = \langle A_i, X^\star\rangle + s_i, \qquad (A_i)_{jk} \overset{iid}{\sim} \mathcal N(0,1),

and recovered by an over-parametrized factor :math:`U\in\mathbb R^{d\times r'}` (:math:`r' \ge r`)
with the :math:`\ell_1` loss

.. math::  f(U) = \frac1m \sum_{i=1}^m \big|\langle A_i, UU^\top\rangle - y_i\big|,
           \qquad \frac1m\sum_i \operatorname{sign}(r_i)\,(A_i + A_i^\top)\,U \in \partial f(U),

solved by the sub-gradient method :math:`U_{t+1} = U_t - \eta_t D_t` from a small initialization
:math:`U_0 = \alpha B` with geometrically decaying steps :math:`\eta_t = \eta_0\rho^t`.

Reference: Ma & Fattahi (2023), *Global convergence of sub-gradient method for robust matrix
recovery*, JMLR 24(96), arXiv:2202.08788 (the problem, the method, the schedule and Sign-RIP).
The closed forms below (:func:`sign_scale`, :func:`residual_floor`, :func:`escape_slope`,
:func:`l2_tangent_error`) are derived for the book in the chapter `subgm-recovery`.

Every tensor carries a leading batch axis ``S`` (one problem per seed) and, for iterates, a config
axis ``K`` (configurations sharing the seed's measurements). Factors of different widths share one
tensor: a factor of width r' is stored as (d, d) with d - r' zero columns, which the method keeps
at zero (every (sub)gradient is a matrix times U). All math is in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..runtime import require_generators, require_choice, require_float, require_int, require_prob
from .factorization import random_orthogonal

DTYPE = torch.float64



# ----------------------------------------------------------------------------- problems
def gaussian_operator(d: int, m: int, gens: Sequence[torch.Generator]) -> Tensor:
    r"""Measurement matrices with i.i.d. :math:`\mathcal N(0,1)` entries, flattened. Returns: (S, m, d*d)."""
    d, m = require_int("d", d, minimum=1), require_int("m", m, minimum=1)
    return torch.stack([torch.randn(m, d * d, generator=g, dtype=DTYPE) for g in require_generators("gens", gens)])


def measure(a: Tensor, x: Tensor) -> Tensor:
    r""":math:`\mathcal A(X)_i = \langle A_i, X\rangle` for a batch of matrices. a: (S, m, d*d); x: (S, K, d, d). Returns: (S, K, m)."""
    return x.flatten(-2) @ a.transpose(-2, -1)


def adjoint(a: Tensor, v: Tensor) -> Tensor:
    r""":math:`\mathcal A^*(v) = \sum_i v_i A_i`. a: (S, m, d*d); v: (S, K, m). Returns: (S, K, d, d)."""
    d = math.isqrt(a.shape[-1])
    return (v @ a).unflatten(-1, (d, d))


def low_rank_psd(d: int, eigenvalues: Sequence[float], gens: Sequence[torch.Generator]) -> Tensor:
    r""":math:`X^\star = V\operatorname{diag}(\lambda)V^\top` with Haar-random orthonormal :math:`V` (d, r). Returns: (S, d, d)."""
    lam = torch.as_tensor(eigenvalues, dtype=DTYPE)
    if lam.ndim != 1 or not 1 <= len(lam) <= d or bool((lam <= 0).any()):
        raise ValueError(f"eigenvalues must be 1 to d={d} positive numbers; got {eigenvalues!r}")
    out = []
    for g in require_generators("gens", gens):
        v = random_orthogonal(d, g)[:, : len(lam)]
        out.append((v * lam) @ v.T)
    return torch.stack(out)


def outliers(m: int, fractions: Sequence[float], scale: float, gens: Sequence[torch.Generator]) -> Tensor:
    r"""Nested sparse corruptions: :math:`s_i = \tau g_i\,\mathbf 1[u_i < p]`, :math:`g_i\sim\mathcal N(0,1)`, :math:`u_i\sim U(0,1)`.

    The same :math:`(u, g)` serve every fraction p, so a larger p corrupts a superset of measurements.
    Returns: (S, len(fractions), m).
    """
    scale = require_float("scale", scale, low=0.0)
    p = torch.as_tensor([require_prob("fractions", f) for f in fractions], dtype=DTYPE)
    out = []
    for g in require_generators("gens", gens):
        u, z = torch.rand(m, generator=g, dtype=DTYPE), torch.randn(m, generator=g, dtype=DTYPE)
        out.append(scale * z * (u < p[:, None]))
    return torch.stack(out)


def small_init(d: int, widths: Sequence[int], alphas: Sequence[float], gens: Sequence[torch.Generator]) -> Tensor:
    r""":math:`U_0 = \alpha B`, :math:`B_{jk}\sim\mathcal N(0,1/d)` on the first r' columns, zero elsewhere.

    One B per (seed, width), shared by every alpha (paired runs). Configs run over widths, then
    alphas. Returns: (S, len(widths) * len(alphas), d, d).
    """
    out = []
    for g in require_generators("gens", gens):
        cols = []
        for w in widths:
            w = require_int("widths", w, minimum=1, maximum=d)
            b = torch.zeros(d, d, dtype=DTYPE)
            b[:, :w] = torch.randn(d, w, generator=g, dtype=DTYPE) / d**0.5
            cols += [require_float("alphas", al, low=0.0, low_open=True) * b for al in alphas]
        out.append(torch.stack(cols))
    return torch.stack(out)


# ----------------------------------------------------------------------------- losses
def residuals(u: Tensor, a: Tensor, y: Tensor) -> Tensor:
    r""":math:`r = \mathcal A(UU^\top) - y`. u: (S, K, d, r'); y: (S, K, m) or (S, 1, m). Returns: (S, K, m)."""
    return measure(a, u @ u.transpose(-2, -1)) - y


def loss(u: Tensor, a: Tensor, y: Tensor, kind: str = "l1") -> Tensor:
    r""":math:`\frac1m\|r\|_1` (kind ``"l1"``) or :math:`\frac1{2m}\|r\|_2^2` (``"l2"``). Returns: (S, K)."""
    require_choice("kind", kind, ("l1", "l2"))
    r = residuals(u, a, y)
    return r.abs().mean(-1) if kind == "l1" else 0.5 * (r**2).mean(-1)


def subgradient(u: Tensor, a: Tensor, y: Tensor, kind: str = "l1") -> Tensor:
    r"""A (sub)gradient of :func:`loss` in U: :math:`\frac1m(G + G^\top)U` with :math:`G = \mathcal A^*(\psi(r))`.

    :math:`\psi = \operatorname{sign}` for ``"l1"`` (the element with sign(0) = 0) and the identity for ``"l2"``.
    Returns: the shape of u.
    """
    require_choice("kind", kind, ("l1", "l2"))
    r = residuals(u, a, y)
    g = adjoint(a, torch.sign(r) if kind == "l1" else r) / a.shape[-2]
    return (g + g.transpose(-2, -1)) @ u


def geometric_steps(lr: float, rho: float, n_steps: int) -> np.ndarray:
    r"""The schedule :math:`\eta_t = \eta_0\rho^t`, t = 0..n_steps-1 (rho = 1 gives a constant step)."""
    lr = require_float("lr", lr, low=0.0, low_open=True)
    rho = require_float("rho", rho, low=0.0, high=1.0, low_open=True)
    return lr * rho ** np.arange(require_int("n_steps", n_steps, minimum=1))


@dataclass(frozen=True)
class Run:
    """Final factor and the error trajectory :math:`\\|U_tU_t^\\top - X^\\star\\|_F` (every ``every`` steps)."""

    u: Tensor           # (S, K, d, d)
    steps: np.ndarray   # (T,) iteration indices of ``error``
    error: Tensor       # (S, K, T)


def error(u: Tensor, x_star: Tensor) -> Tensor:
    r""":math:`\|UU^\top - X^\star\|_F`. u: (S, K, d, r'); x_star: (S, d, d). Returns: (S, K)."""
    return torch.linalg.matrix_norm(u @ u.transpose(-2, -1) - x_star[:, None])


def subgradient_method(u0: Tensor, a: Tensor, y: Tensor, x_star: Tensor, lrs: Sequence[float], *,
                       kind: str = "l1", every: int = 10) -> Run:
    r"""Run :math:`U_{t+1} = U_t - \eta_t D_t` with :math:`D_t` from :func:`subgradient`.

    Args: u0: (S, K, d, d); a: (S, m, d*d); y: (S, K, m); x_star: (S, d, d); lrs: (T,) one schedule
    for every config, or (T, K) one per config; kind: "l1" (sub-gradient method) or "l2" (gradient descent).
    """
    every = require_int("every", every, minimum=1)
    lrs = torch.as_tensor(np.asarray(lrs, dtype=float), dtype=DTYPE)
    if lrs.ndim == 1:
        lrs = lrs[:, None].expand(-1, u0.shape[1])
    if lrs.ndim != 2 or lrs.shape[1] != u0.shape[1]:
        raise ValueError(f"lrs must have shape (T,) or (T, K={u0.shape[1]}); got {tuple(lrs.shape)}")
    u, steps, errs = u0.clone(), [], []
    for t, lr in enumerate(lrs):
        if t % every == 0:
            steps.append(t)
            errs.append(error(u, x_star))
        u = u - lr[:, None, None] * subgradient(u, a, y, kind)
    steps.append(len(lrs))
    errs.append(error(u, x_star))
    return Run(u, np.asarray(steps), torch.stack(errs, -1))


# ----------------------------------------------------------------------------- theory
def sign_scale(norm, p: float, outlier_scale: float) -> np.ndarray:
    r"""Expected sign-correlation :math:`\varphi` of the Gaussian operator with Gaussian outliers.

    .. math::  \mathbb E\big[\operatorname{sign}(\langle A, X\rangle - s)\,A\big] = \varphi(\|X\|_F)\,\frac{X}{\|X\|_F},
               \qquad \varphi(\sigma) = \sqrt{\tfrac2\pi}\Big(1 - p + p\,\frac{\sigma}{\sqrt{\sigma^2+\tau^2}}\Big),

    for :math:`s = 0` with probability 1 - p and :math:`s\sim\mathcal N(0,\tau^2)` otherwise
    (Stein's lemma; the scale function of Sign-RIP, Ma & Fattahi 2023).
    """
    p, tau = require_prob("p", p), require_float("outlier_scale", outlier_scale, low=0.0)
    s = np.asarray(norm, dtype=float)
    return np.sqrt(2 / np.pi) * (1 - p + p * s / np.sqrt(s**2 + tau**2))


def residual_floor(d: int, r: int, width: int, alpha) -> np.ndarray:
    r"""Root-mean-square final error left by the unused columns of a small Gaussian initialization.

    In the expected-loss limit the part of :math:`U_0 = \alpha B` outside the column space of
    :math:`X^\star` and outside the row space the signal grows into never moves: an
    :math:`(d-r)\times(r'-r)` Gaussian block :math:`H` with entry variance :math:`\alpha^2/d`, and

    .. math::  \sqrt{\mathbb E\,\|HH^\top\|_F^2} = \frac{\alpha^2}{d}\sqrt{n k (n + k + 1)}, \quad n = d - r,\ k = r' - r.
    """
    n, k = d - r, require_int("width", width, minimum=r) - r
    return np.asarray(alpha, dtype=float) ** 2 / d * math.sqrt(n * k * (n + k + 1))


def sign_noise_edge(d: int, r: int, m: int) -> float:
    r"""Edge :math:`\lambda = 2\sqrt{2(d-r)/m}` of the sign-noise that pushes the unused rows of U.

    While the signal escapes from a small start, :math:`\Delta\approx -X^\star` and every residual's sign
    is frozen, so the part of :math:`\frac1m(G+G^\top)` on the complement of :math:`X^\star`'s column space
    is a fixed symmetric Gaussian matrix (entry variance 2/m off the diagonal): its spectrum fills
    :math:`[-\lambda, \lambda]` (semicircle law), whatever the outlier fraction.
    """
    n, m = require_int("d", d, minimum=1) - require_int("r", r, minimum=1), require_int("m", m, minimum=1)
    return 2.0 * math.sqrt(2.0 * n / m)


def escape_slope(d: int, r: int, m: int, p: float, outlier_scale: float, eigenvalue: float = 1.0) -> float:
    r"""Log-log slope of the over-parametrized floor against :math:`\alpha` at finite m (book heuristic).

    X* has r equal eigenvalues :math:`\lambda_\star`. During the escape the signal grows at the rate
    :math:`\kappa = 2\varphi(\|X^\star\|_F)\lambda_\star/\|X^\star\|_F` per unit of :math:`\sum_t\eta_t`
    for :math:`\sum\eta\approx\ln(1/\alpha)/\kappa`, while the unused rows grow at up to the sign-noise
    edge :func:`sign_noise_edge`; the floor :math:`\propto\|E\|^2` then scales as

    .. math::  \alpha^{\,2 - 2\lambda/\kappa}.

    2 is the expected-loss value of :func:`residual_floor`; the slope falls to 0 when the noise edge
    reaches the signal rate (dense outliers, few measurements).
    """
    lam_star = require_float("eigenvalue", eigenvalue, low=0.0, low_open=True)
    norm = lam_star * math.sqrt(require_int("r", r, minimum=1))
    kappa = 2.0 * float(sign_scale(norm, p, outlier_scale)) * lam_star / norm
    return 2.0 - 2.0 * sign_noise_edge(d, r, m) / kappa


def tangent_dim(d: int, r: int) -> int:
    """Dimension of the manifold of rank-r PSD d x d matrices, d r - r (r - 1) / 2."""
    return d * r - r * (r - 1) // 2


def l2_tangent_error(d: int, r: int, m: int, noise_var) -> np.ndarray:
    r"""RMS error of the :math:`\ell_2` fit with exact rank, linearized: least squares on the tangent space.

    .. math::  \mathbb E\|\hat X - X^\star\|_F^2 \approx \sigma_s^2\,\frac{k}{m - k - 1}, \qquad k = dr - \tfrac{r(r-1)}2,

    the inverse-Wishart mean for Gaussian design and noise of variance :math:`\sigma_s^2 = p\tau^2`.
    """
    k = tangent_dim(d, r)
    if m <= k + 1:
        raise ValueError(f"m must exceed the tangent dimension + 1 = {k + 1}; got {m}")
    return np.sqrt(np.asarray(noise_var, dtype=float) * k / (m - k - 1))
