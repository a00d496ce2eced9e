r"""Minimum-nuclear-norm matrix completion, the convex baseline of deep matrix factorization.

Given the entries of :math:`M` on a set :math:`\Omega`, the baseline returns

.. math::  \hat X = \arg\min_X \|X\|_* \quad \text{subject to} \quad P_\Omega(X) = P_\Omega(M),

the completion of smallest nuclear norm (sum of singular values). It is the solution that
Gunasekar et al. (2017) conjectured gradient descent on a depth-2 factorization finds, and the
baseline against which Arora, Cohen, Hu & Luo (2019) compare deeper factorizations.

Algorithm: ADMM (alternating direction method of multipliers) on the split
:math:`\min \|Z\|_* + \iota_{\mathcal A}(X)` subject to :math:`X = Z`, where :math:`\mathcal A` is the
affine set of completions. With step :math:`\rho` and scaled multiplier :math:`U`,

.. math::
    X \leftarrow P_\Omega(M) + P_{\Omega^c}(Z - U), \qquad
    Z \leftarrow \operatorname{SVT}_{1/\rho}(X + U), \qquad
    U \leftarrow U + X - Z,

where :math:`\operatorname{SVT}_\tau` shrinks every singular value by :math:`\tau` (Cai, Candès &
Shen 2010), the proximal map of :math:`\tau\|\cdot\|_*`. At a fixed point :math:`Y = \rho U` is a
*dual certificate*: it vanishes off :math:`\Omega` and, for every completion :math:`X`,
:math:`\|X\|_* \ge \langle Y, X\rangle / \|Y\|_{op} = \langle Y, M\rangle / \|Y\|_{op}`. So
:func:`dual_bound` gives a lower bound on the optimum by a second route, and the gap between it and
:math:`\|\hat X\|_*` certifies the answer (:func:`nuclear_norm_completion` reports it).

Every tensor carries a leading batch axis ``S``; all math is in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..runtime import require_float, require_int

DTYPE = torch.float64


def nuclear_norm(x: Tensor) -> Tensor:
    r""":math:`\|X\|_* = \sum_i \sigma_i(X)`. Returns: (...,) for x of shape (..., m, n)."""
    return torch.linalg.svdvals(x).sum(dim=-1)


def svt(x: Tensor, tau: float) -> Tensor:
    r"""Singular value thresholding :math:`U \operatorname{diag}((\sigma - \tau)_+) V^\top`, the
    proximal map of :math:`\tau \|\cdot\|_*`. Returns: same shape as ``x``."""
    tau = require_float("tau", tau, low=0.0)
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    return (u * (s - tau).clamp(min=0.0).unsqueeze(-2)) @ vh


def svt_batched(x: Tensor, tau: Tensor) -> Tensor:
    """:func:`svt` with one threshold per batch member; tau: (S, 1, 1). Returns: (S, m, n)."""
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    return (u * (s - tau[..., 0]).clamp(min=0.0).unsqueeze(-2)) @ vh


def dual_bound(y: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r"""Lower bound on :math:`\min\{\|X\|_* : P_\Omega X = P_\Omega M\}` from any matrix ``y``:
    :math:`\langle P_\Omega Y, M\rangle / \|P_\Omega Y\|_{op}` (weak duality; the off-:math:`\Omega`
    part of ``y`` is dropped so that the bound is valid for any input). Returns: (S,)."""
    y = mask * y
    op = torch.linalg.matrix_norm(y, ord=2)
    return (y * target).sum(dim=(-2, -1)) / op.clamp(min=1e-300)


@dataclass(frozen=True)
class Completion:
    """Result of :func:`nuclear_norm_completion`.

    x: (S, d, d) completions (exactly equal to M on Omega); nuclear: (S,) their nuclear norms;
    lower: (S,) certified lower bounds on the optimum (:func:`dual_bound`); iterations: ADMM steps run.
    """

    x: Tensor
    nuclear: Tensor
    lower: Tensor
    iterations: int

    @property
    def rel_gap(self) -> Tensor:
        """(||X||_* - lower bound) / lower bound: how far from optimal the answer can be. Returns: (S,)."""
        return (self.nuclear - self.lower) / self.lower


def nuclear_norm_completion(target: Tensor, mask: Tensor, *, rho: float | None = None, tol: float = 1e-6,
                            max_iter: int = 5000, check_every: int = 25) -> Completion:
    r"""Minimum-nuclear-norm completion of ``target`` from its entries on ``mask`` (ADMM, see the module).

    Args: target: (S, m, n), only its entries on ``mask`` are read; mask: (S, m, n), 1 on observed
    entries; rho: ADMM step (default: 1 / (mean observed |M_ij| * sqrt(m n)) per batch member, a scale-free
    choice); tol: stop when the relative certified gap and the relative primal residual
    ||X - Z||_F / ||X||_F are both below it, for every batch member; max_iter: upper limit on steps.
    Returns: a :class:`Completion` (its ``x`` matches ``target`` on ``mask`` exactly).
    """
    tol = require_float("tol", tol, low=0.0, low_open=True)
    max_iter = require_int("max_iter", max_iter, minimum=1)
    check_every = require_int("check_every", check_every, minimum=1)
    if target.ndim != 3 or mask.shape != target.shape:
        raise ValueError(f"target and mask must have the same (S, m, n) shape; got {tuple(target.shape)} "
                         f"and {tuple(mask.shape)}")
    target, mask = target.to(DTYPE), mask.to(DTYPE)
    observed = mask * target
    if rho is None:
        scale = observed.abs().sum(dim=(-2, -1)) / mask.sum(dim=(-2, -1)).clamp(min=1)
        rho_t = 1.0 / (scale * (target.shape[-1] * target.shape[-2]) ** 0.5).clamp(min=1e-300)
    else:
        rho_t = torch.full((target.shape[0],), require_float("rho", rho, low=0.0, low_open=True), dtype=DTYPE)
    rho_t = rho_t.to(target.device)[:, None, None]
    hidden = 1.0 - mask
    z = observed.clone()
    u = torch.zeros_like(z)
    it = 0
    for it in range(1, max_iter + 1):
        x = observed + hidden * (z - u)
        z_old = z
        z = svt_batched(x + u, 1.0 / rho_t)
        u = u + x - z
        if it % check_every == 0 or it == max_iter:
            x = observed + hidden * (z - u)
            nuc, low = nuclear_norm(x), dual_bound(rho_t * u, target, mask)
            norm_x = torch.linalg.norm(x, dim=(-2, -1))
            primal = torch.linalg.norm(x - z, dim=(-2, -1)) / norm_x
            if bool((((nuc - low) / low).abs() < tol).all()) and bool((primal < tol).all()):
                break
            # residual balancing (Boyd et al. 2011, sec. 3.4.1): keep primal and dual residuals comparable
            dual = rho_t[:, 0, 0] * torch.linalg.norm(z - z_old, dim=(-2, -1)) / norm_x
            factor = torch.where(primal > 10 * dual, 2.0, torch.where(dual > 10 * primal, 0.5, 1.0))
            rho_t = rho_t * factor[:, None, None]
            u = u / factor[:, None, None]
    x = observed + hidden * (z - u)
    return Completion(x=x, nuclear=nuclear_norm(x), lower=dual_bound(rho_t * u, target, mask), iterations=it)
