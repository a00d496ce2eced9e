r"""Locally connected tree tensor networks: random networks, hierarchical SVD, distance bounds.

A locally connected tensor network of width :math:`R` over :math:`N = 2^L` features is a perfect
binary tree: leaves are :math:`2 \times R` matrices, inner nodes :math:`R \times R \times R`
tensors, the root an :math:`R \times R` matrix; contracting it gives
:math:`\mathcal W \in \mathbb R^{2 \times \cdots \times 2}`. Cutting the tree at the edge above a
node shows that every canonical matricization has rank at most :math:`R`, so

.. math::  \mathrm{QE}(\mathcal W; K) \le \ln R \qquad (K \in \mathcal C_N).

This module builds such networks, truncates an explicit tensor to one (the hierarchical SVD of
Grasedyck 2010), and computes the distance from a tensor to width-R networks together with the
necessity and sufficiency bounds of the chapter ``entanglement`` (Alexander, De La Vega, Razin &
Cohen, NeurIPS 2023; constants as derived in the chapter). Only for explicit tensors, small N.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import xlogy

from theorylab.runtime import require_int
from theorylab.structure.tensors import _tree_depth, canonical_partitions, entropy

__all__ = ["hierarchical_truncation", "tree_tensor", "width_bounds"]


def _check_tensor(tensor: np.ndarray) -> np.ndarray:
    """A finite, non-zero tensor whose order N is a power of 2 (the leaves of a binary tree)."""
    a = np.asarray(tensor, dtype=np.float64)
    n = a.ndim
    if n < 2 or n & (n - 1):
        raise ValueError(f"tensor must have order N = 2^L >= 2 (one mode per leaf), got order {n}")
    if not np.all(np.isfinite(a)) or not np.any(a):
        raise ValueError("tensor must be finite and not identically zero")
    return a


def tree_tensor(n_features: int, width: int, *, gen: np.random.Generator, leaf_dim: int = 2) -> np.ndarray:
    r"""A random locally connected tensor network: a perfect binary tree of width ``width``.

    Leaves are (leaf_dim x R) matrices, inner nodes (R x R x R) tensors, the root an (R x R)
    matrix, all Gaussian; contracting the tree gives :math:`\mathcal W_{TN}` of shape
    (leaf_dim,) * N. Every canonical matricization has rank <= R (cut the tree at one edge),
    the chapter's Proposition (Alexander et al. 2023; Levine et al. 2018).

    Args:
        n_features: N = 2^L leaves.
        width: R, the dimension of every inner edge.
        gen: numpy generator for the Gaussian cores.
        leaf_dim: the dimension of every open edge (2 for the embedding phi).
    Returns:
        the contracted tensor, shape (leaf_dim,) * N.
    """
    _tree_depth(n_features, 1)
    width = require_int("width", width, minimum=1)
    leaf_dim = require_int("leaf_dim", leaf_dim, minimum=1)
    nodes = [gen.standard_normal((leaf_dim, width)) for _ in range(n_features)]  # (D^size, R) each
    while len(nodes) > 2:
        nodes = [np.einsum("ip,jq,pqr->ijr", a, b, gen.standard_normal((width,) * 3)).reshape(-1, width)
                 for a, b in zip(nodes[::2], nodes[1::2])]
    root = np.einsum("ip,jq,pq->ij", nodes[0], nodes[1], gen.standard_normal((width, width)))
    return root.reshape((leaf_dim,) * n_features)


def _project(a: np.ndarray, modes: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Apply the orthogonal projection basis @ basis.T to the group of ``modes`` of ``a``."""
    rest = np.setdiff1d(np.arange(a.ndim), modes)
    perm = np.concatenate([modes, rest])
    mat = np.transpose(a, perm).reshape(basis.shape[0], -1)
    mat = basis @ (basis.T @ mat)
    return np.transpose(mat.reshape([a.shape[i] for i in perm]), np.argsort(perm))


def hierarchical_truncation(tensor: np.ndarray, width: int) -> np.ndarray:
    r"""Hierarchical SVD: a width-``width`` tree tensor network close to ``tensor``.

    For every node t of the binary tree (levels 1..L) take :math:`U_t`, the top-R left singular
    vectors of the t-matricization of the *original* tensor, and apply the projections
    :math:`U_t U_t^\top` from the top level down. The error obeys (Grasedyck 2010, Thm. 3.11)

    .. math::  \|A - A_{\mathcal H}\|^2 \le \sum_t \sum_{r > R} \sigma_{t, r}^2 .

    The two children of the root share one matricization, so their projections coincide on the
    result and the sum has 2N - 3 distinct terms.

    Args:
        tensor: A of order N = 2^L.
        width: R.
    Returns:
        :math:`A_{\mathcal H}`, same shape as A, of rank <= R across every canonical partition.
    """
    a = _check_tensor(tensor)
    width = require_int("width", width, minimum=1)
    parts = canonical_partitions(a.ndim, dims=1)
    bases = []
    for lev in sorted(parts):
        for k in parts[lev]:
            rest = np.setdiff1d(np.arange(a.ndim), k)
            rows = int(np.prod([a.shape[i] for i in k]))
            u = np.linalg.svd(np.transpose(a, np.concatenate([k, rest])).reshape(rows, -1),
                              full_matrices=False)[0]
            bases.append((k, u[:, :width]))
    out = a
    for k, u in bases:
        out = _project(out, k, u)
    return out


def _matricizations(a: np.ndarray, parts: dict[int, list[np.ndarray]]) -> list[np.ndarray]:
    """The matricization of ``a`` for every canonical set (rows: the modes of the set)."""
    out = []
    for ks in parts.values():
        for k in ks:
            rest = np.setdiff1d(np.arange(a.ndim), k)
            out.append(np.transpose(a, np.concatenate([k, rest])).reshape(int(np.prod([a.shape[i] for i in k])), -1))
    return out


def _continuity_steps(a: np.ndarray, b: np.ndarray, parts: dict[int, list[np.ndarray]],
                      dist: float) -> tuple[float, float]:
    """Slacks of the trace-distance and Fannes-Audenaert steps of the necessity proof (unit a, b)."""
    trace_step = fannes_step = np.inf
    for xa, xb in zip(_matricizations(a, parts), _matricizations(b, parts)):
        if xa.shape[0] > xa.shape[1]:
            xa, xb = xa.T, xb.T
        d = xa.shape[0]
        diff = xa @ xa.T - xb @ xb.T
        t = 0.5 * float(np.abs(np.linalg.eigvalsh((diff + diff.T) / 2)).sum())
        trace_step = min(trace_step, dist - t)
        if d > 1 and t <= 1 - 1 / d:
            gap = abs(entropy(np.linalg.svd(xa, compute_uv=False) ** 2)
                      - entropy(np.linalg.svd(xb, compute_uv=False) ** 2))
            fannes_step = min(fannes_step, t * np.log(d - 1) + float(_binary_entropy(np.asarray(t))) - gap)
    return float(trace_step), float(fannes_step)


def _binary_entropy(t: np.ndarray) -> np.ndarray:
    """H_b(t) = -t ln t - (1 - t) ln(1 - t), with 0 ln 0 = 0."""
    return -xlogy(t, t) - xlogy(1 - t, 1 - t)


def width_bounds(tensor: np.ndarray, widths: Sequence[int]) -> pd.DataFrame:
    r"""Distance from a normalised tensor to width-R tree networks: measured and both bounds.

    For each R: ``hsvd`` is :math:`\|\hat A - \hat A_{\mathcal H}\|` for the hierarchical
    truncation (a width-R network, so an upper estimate of the best distance); ``upper_tail`` is
    :math:`2\sqrt{\sum_t \text{tail}_t}` over the 2N-3 distinct canonical partitions;
    ``upper_qe`` is :math:`2\sqrt{(2N-3)\max_K \mathrm{QE}/\ln(R+1)}` (sufficiency);
    ``lower_qe`` is the largest :math:`\epsilon \le 1 - 1/d_K` with
    :math:`\mathrm{QE}(A;K) > \ln R + \epsilon\ln(d_K - 1) + H_b(\epsilon)` for some K
    (necessity, via the Fannes-Audenaert inequality): no width-R network is closer than that.
    ``lower_qe`` is found on a grid of step 5e-5 in epsilon, so it is a slight underestimate.

    Grasedyck's quasi-optimality checks of the truncation itself, on the unnormalised tensor:
    ``hsvd_error`` is :math:`\|\hat A - A_{\mathcal H}\|`, ``tail_max`` is
    :math:`\sqrt{\max_t \text{tail}_t}` (Eckart-Young: any tensor of rank <= R across cut t is at
    least that far, so ``tail_max <= hsvd_error``), ``tail_sum`` is :math:`\sqrt{\sum_t \text{tail}_t}`
    (Grasedyck's bound, ``hsvd_error <= tail_sum``), and ``rank_excess`` is the largest numerical
    rank of :math:`A_{\mathcal H}` across a canonical cut minus R (<= 0 for a width-R network).

    The two steps of the necessity proof, checked on the pair :math:`(\hat A, \hat A_{\mathcal H})`
    for every distinct canonical cut, with :math:`T` the trace distance of the two reduced matrices
    :math:`\rho_K = X X^\top`: ``trace_step`` is :math:`\min_K (\|\hat A - \hat A_{\mathcal H}\| - T_K)`
    (>= 0 by the nuclear-norm inequality) and ``fannes_step`` is
    :math:`\min_K \big(T_K\ln(d_K - 1) + H_b(T_K) - |\mathrm{QE}(\hat A; K) - \mathrm{QE}(\hat A_{\mathcal H}; K)|\big)`
    (>= 0 by Fannes-Audenaert, for :math:`T_K \le 1 - 1/d_K`).

    Reference: the chapter's necessity and sufficiency theorems (constants derived there);
    Grasedyck (2010) for the truncation; Audenaert (2007) for the continuity bound.

    Args:
        tensor: A of order N = 2^L (normalised here).
        widths: the widths R >= 1 to evaluate.
    Returns:
        one row per width: ``width``, ``hsvd``, ``upper_tail``, ``upper_qe``, ``lower_qe`` and
        ``max_qe`` (the largest canonical QE of A, nats), ``hsvd_error``, ``tail_max``, ``tail_sum``
        and ``rank_excess``.
    """
    a = _check_tensor(tensor)
    widths = [require_int("widths", w, minimum=1) for w in widths]
    if not widths:
        raise ValueError("widths must contain at least one width")
    a = a / np.linalg.norm(a)
    n = a.ndim
    parts = canonical_partitions(n, dims=1)
    spectra = []  # (rho sorted descending, smaller side dimension), one per distinct partition
    for lev in sorted(parts):
        for i, k in enumerate(parts[lev]):
            if lev == 1 and i == 1:
                continue
            rest = np.setdiff1d(np.arange(n), k)
            rows = int(np.prod([a.shape[j] for j in k]))
            mat = np.transpose(a, np.concatenate([k, rest])).reshape(rows, -1)
            spectra.append((np.linalg.svd(mat, compute_uv=False) ** 2, min(mat.shape)))
    qe = np.array([entropy(rho) for rho, _ in spectra])
    eps = np.linspace(0.0, 1.0, 20001)
    rows = []
    for width in widths:
        h = hierarchical_truncation(a, int(width))
        h_norm = np.linalg.norm(h)
        hsvd = float(np.linalg.norm(a - h / h_norm)) if h_norm > 0 else float(np.sqrt(2.0))
        tails = [float(rho[int(width):].sum()) for rho, _ in spectra]
        tail = sum(tails)
        ranks = [np.linalg.matrix_rank(m, tol=1e-10 * max(h_norm, 1e-300)) for m in _matricizations(h, parts)]
        trace_step, fannes_step = _continuity_steps(a, h / h_norm if h_norm > 0 else h, parts, hsvd)
        lower = 0.0
        for q, (_, d) in zip(qe, spectra):
            grid = eps[eps <= 1 - 1 / d] if d > 1 else eps[:1]
            ok = np.log(width) + grid * np.log(max(d - 1, 1)) + _binary_entropy(grid) < q
            if ok.any():
                lower = max(lower, float(grid[ok].max()))
        rows.append(dict(width=int(width), hsvd=hsvd, upper_tail=2 * np.sqrt(tail),
                         upper_qe=2 * np.sqrt(len(spectra) * qe.max() / np.log(width + 1)),
                         lower_qe=lower, max_qe=float(qe.max()),
                         hsvd_error=float(np.linalg.norm(a - h)), tail_max=float(np.sqrt(max(tails))),
                         tail_sum=float(np.sqrt(tail)), rank_excess=int(max(ranks)) - int(width),
                         trace_step=trace_step, fannes_step=fannes_step))
    return pd.DataFrame(rows)
