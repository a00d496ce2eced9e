r"""Feature rearrangement: reorder features so the canonical partitions carry low entanglement.

Entanglement over all feature orders is out of reach, so the order is chosen with a surrogate,
the total absolute correlation across each canonical partition,

.. math::  \mathrm{SE}(K) = \sum_{n \in K} \sum_{n' \in K^c} |\operatorname{corr}(x_n, x_{n'})|,

and :math:`\min_\pi \sum_{K \in \mathcal C_N} \mathrm{SE}(\pi^{-1}(K))` is attacked greedily from
the root down: split the features into balanced parts with a minimum cut of the weighted graph
:math:`W = |\operatorname{corr}|`, recurse into each part, and read the leaves in depth-first order.

Reference: Alexander, De La Vega, Razin & Cohen (NeurIPS 2023), the practical part (the surrogate
and the rearrangement algorithm). The paper calls METIS; here a dense Kernighan-Lin bisection,
started from the spectral (Fiedler) split and from random splits, in numpy.

``orient=True`` adds what the tensor-network theory does not need but a convolution does: each
node's children are reversed where that makes the two features that meet at the junction the most
correlated ones (the DFS order fixes the *sets* of the canonical partitions, not their direction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from theorylab.structure.tensors import _check_part, _tree_depth, canonical_partitions

__all__ = [
    "abs_correlation",
    "canonical_surrogate",
    "correlation_surrogate",
    "cut_weight",
    "feature_order",
    "random_swaps",
]


def abs_correlation(x: np.ndarray) -> np.ndarray:
    """|Pearson correlation| between features, (M, N) -> (N, N); constant features get min/10."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be an (M, N) array with M >= 2 samples, got shape {x.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.abs(np.corrcoef(x, rowvar=False))
    c = np.atleast_2d(c)
    finite = np.isfinite(c)
    floor = c[finite].min() / 10 if finite.any() else 0.0
    return np.where(finite, c, floor)


def correlation_surrogate(x: np.ndarray, part: Sequence[int]) -> float:
    r"""SE(K): total |correlation| between the features in ``part`` and the rest."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D (M, N) array, got shape {x.shape}")
    idx = _check_part(part, x.shape[1])
    return cut_weight(abs_correlation(x), idx)


def cut_weight(w: np.ndarray, part: np.ndarray) -> float:
    """Total weight of the edges of ``w`` between ``part`` and its complement."""
    mask = np.zeros(w.shape[0], dtype=bool)
    mask[part] = True
    return float(w[np.ix_(mask, ~mask)].sum())


def canonical_surrogate(x: np.ndarray, *, dims: int = 1, levels: Sequence[int] | None = None) -> float:
    r"""The objective :math:`\sum_{K \in \mathcal C_N} \mathrm{SE}(K)` over the given levels."""
    x = np.asarray(x, dtype=np.float64)
    w = abs_correlation(x)
    parts = canonical_partitions(x.shape[1], dims=dims, levels=levels)
    return float(sum(cut_weight(w, k) for ks in parts.values() for k in ks))


def random_swaps(n_features: int, n_swaps: int, *, gen: np.random.Generator) -> np.ndarray:
    """A permutation made of ``n_swaps`` random transpositions; use as ``x[:, perm]``."""
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 2:
        raise ValueError(f"n_features must be an int >= 2, got {n_features!r}")
    if isinstance(n_swaps, bool) or not isinstance(n_swaps, (int, np.integer)) or n_swaps < 0:
        raise ValueError(f"n_swaps must be a non-negative int, got {n_swaps!r}")
    perm = np.arange(n_features)
    for _ in range(n_swaps):
        i, j = gen.choice(n_features, size=2, replace=False)
        perm[[i, j]] = perm[[j, i]]
    return perm


# ----------------------------------------------------------------------------- bisection
def _kernighan_lin(w: np.ndarray, side: np.ndarray, max_passes: int = 20) -> np.ndarray:
    """Refine a balanced split (``side`` True = part A) by Kernighan-Lin pair swaps on dense ``w``."""
    side = side.copy()
    n = side.size
    for _ in range(max_passes):
        sign = np.where(side[:, None] == side[None, :], -1.0, 1.0)
        d = (w * sign).sum(axis=1)  # external minus internal weight
        free_a, free_b = side.copy(), ~side
        gains, swaps = [], []
        for _step in range(min(side.sum(), n - side.sum())):
            a, b = np.flatnonzero(free_a), np.flatnonzero(free_b)
            g = d[a][:, None] + d[b][None, :] - 2 * w[np.ix_(a, b)]
            i, j = np.unravel_index(np.argmax(g), g.shape)
            i, j = a[i], b[j]
            gains.append(g.max())
            swaps.append((i, j))
            free_a[i] = free_b[j] = False
            in_a = side.copy()  # sides before this pass's tentative moves, as in KL
            d += np.where(in_a, 2 * w[:, i] - 2 * w[:, j], 2 * w[:, j] - 2 * w[:, i])
        cum = np.cumsum(gains)
        best = int(np.argmax(cum))
        if cum[best] <= 1e-12 * max(1.0, np.abs(w).sum()):
            break
        for i, j in swaps[: best + 1]:
            side[i], side[j] = False, True
    return side


def _bisect(w: np.ndarray, gen: np.random.Generator, n_starts: int) -> np.ndarray:
    """Balanced minimum-cut bisection of the dense weighted graph ``w``; returns part A's mask."""
    n = w.shape[0]
    lap = np.diag(w.sum(axis=1)) - w
    fiedler = np.linalg.eigh(lap)[1][:, 1]
    starts = [np.argsort(fiedler, kind="stable")[: n // 2]]
    starts += [gen.permutation(n)[: n // 2] for _ in range(n_starts)]
    best, best_cut = None, np.inf
    for start in starts:
        side = np.zeros(n, dtype=bool)
        side[start] = True
        side = _kernighan_lin(w, side)
        cut = w[np.ix_(side, ~side)].sum()
        if cut < best_cut - 1e-12:
            best, best_cut = side, cut
    return best


def _orient(w: np.ndarray, left: list[int], right: list[int]) -> list[int]:
    """Join two child sequences, reversing either so the junction pair is the most correlated."""
    options = [(left, right), (left, right[::-1]), (left[::-1], right), (left[::-1], right[::-1])]
    scores = [w[a[-1], b[0]] for a, b in options]
    a, b = options[int(np.argmax(scores))]
    return a + b


def _order(w, nodes, branching, gen, n_starts, orient) -> list[int]:
    if len(nodes) <= branching + 1:
        return list(nodes)
    nodes = np.asarray(nodes)
    groups = [nodes]
    while len(groups) < branching:  # 2 parts (1-D) or 4 parts by two rounds of bisection (2-D)
        halves = []
        for g in groups:
            mask = _bisect(w[np.ix_(g, g)], gen, n_starts)
            halves += [g[mask], g[~mask]]
        groups = halves
    kids = [_order(w, g, branching, gen, n_starts, orient) for g in groups]
    if orient:
        return _orient(w, kids[0], kids[1])
    return [i for k in kids for i in k]


def feature_order(
    x: np.ndarray,
    *,
    dims: int = 1,
    seed: int | np.random.Generator = 0,
    orient: bool = False,
    n_starts: int = 3,
) -> np.ndarray:
    """A feature permutation that lowers the canonical correlation surrogate (and entanglement).

    Args:
        x: (M, N) samples; N = 2^L (``dims=1``) or a 2^L x 2^L image flattened row-major (``dims=2``).
        dims: 1 for sequences (binary tree), 2 for images (quad-tree).
        seed: seeds the random starts of the bisections (an int, or a numpy Generator from
            ``theorylab.rng``).
        orient: also choose the direction of every node's children (``dims=1`` only); the paper's
            algorithm is ``orient=False``.
        n_starts: random starts per bisection, besides the spectral one.
    Returns:
        ``order`` with ``x[:, order]`` the rearranged data (row-major for images).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D (M, N) array, got shape {x.shape}")
    n = x.shape[1]
    depth = _tree_depth(n, dims)
    if orient and dims != 1:
        raise ValueError("orient=True is implemented for dims=1 only")
    if isinstance(n_starts, bool) or not isinstance(n_starts, int) or n_starts < 0:
        raise ValueError(f"n_starts must be a non-negative int, got {n_starts!r}")
    w = abs_correlation(x)
    np.fill_diagonal(w, 0.0)
    gen = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    seq = np.asarray(_order(w, np.arange(n), 2**dims, gen, n_starts, orient))
    if dims == 1:
        return seq
    order = np.empty(n, dtype=np.int64)
    zpos = np.concatenate(canonical_partitions(n, dims=2, levels=[depth])[depth])
    order[zpos] = seq  # the i-th leaf in depth-first order sits at the i-th Z-order pixel
    return order
