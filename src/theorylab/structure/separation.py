r"""Separation rank of a product-aggregation GNN, measured on a grid and bounded by walks.

The model (Razin, Verbin & Cohen 2023, Section 3) has hidden vectors of width :math:`D_h`,

.. math::  h^{(0,i)} = x^{(i)}, \qquad h^{(l,i)} = \bigodot_{j \in \hat N(i)} W^{(l)} h^{(l-1,j)},

with output :math:`f(X) = W^{(o)} \bigodot_{i} h^{(L,i)}` (graph prediction) or
:math:`f_t(X) = W^{(o)} h^{(L,t)}` (vertex prediction). Fix :math:`M` template vectors
:math:`v_1, \dots, v_M` and put one on every vertex: the values of :math:`f` form the *grid tensor*
:math:`\mathcal A_{k_1 \dots k_n} = f(v_{k_1}, \dots, v_{k_n})`. Any decomposition
:math:`f = \sum_{r \le R} g_r(X_I) g'_r(X_{I^c})` makes the matricization of :math:`\mathcal A`
(rows: the indices of :math:`I`, columns: those of :math:`I^c`) a sum of :math:`R` rank-one
matrices, so its rank is a lower bound on :math:`\operatorname{sep}(f; I)` and the walk-index
bound on the separation rank applies to it.

:func:`bound_exponents` gives three upper bounds on :math:`\log_{D_h}` of that rank, in
decreasing order of tightness: the layer recursion of the proof, the sum over walks
:math:`1 + \sum_{l=1}^{L-1} \rho_{L-l}(C^{(l)}, V)`, and :math:`1 + (L-1)\,\mathrm{WI}_{L-1}(I)`.
Walks are counted here independently of :mod:`theorylab.structure.graphs`: with Python sets and
repeated neighbourhood sums, never a matrix power.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..runtime import require_int

Array = np.ndarray


def _check_adj(adj: Array) -> Array:
    a = np.asarray(adj)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.array_equal(a, a.T) or np.any(np.diag(a) != 0) \
            or not np.isin(a, (0, 1)).all():
        raise ValueError("adj must be a symmetric 0/1 square matrix with zero diagonal")
    return a.astype(np.int64)


def neighbourhoods(adj: Array) -> list[set[int]]:
    r""":math:`\hat N(i) = N(i) \cup \{i\}` for every vertex."""
    a = _check_adj(adj)
    return [set(np.flatnonzero(a[i]).tolist()) | {i} for i in range(len(a))]


def boundary_set(adj: Array, part: Sequence[int]) -> set[int]:
    r""":math:`C_I`: the vertices with a neighbour on the other side (both sides), from the edge list."""
    a = _check_adj(adj)
    inside = set(int(v) for v in part)
    out: set[int] = set()
    for i, j in zip(*np.nonzero(np.triu(a))):
        if (int(i) in inside) != (int(j) in inside):
            out |= {int(i), int(j)}
    return out


def _ball(nbrs: list[set[int]], centre: set[int], radius: int) -> set[int]:
    out = set(centre)
    for _ in range(radius):
        out = set().union(*(nbrs[v] for v in out)) if out else set()
    return out


def _walks_from(nbrs: list[set[int]], starts: set[int], length: int) -> Array:
    """Number of walks of ``length`` steps on A + I from each start in ``starts`` to every vertex."""
    count = np.array([1 if v in starts else 0 for v in range(len(nbrs))], dtype=object)
    for _ in range(length):
        count = np.array([sum(count[j] for j in nbrs[i]) for i in range(len(nbrs))], dtype=object)
    return count


@dataclass(frozen=True)
class Exponents:
    """Upper bounds on log_{D_h} of the separation rank (see the module): recursion <= walks <= wi_bound."""

    recursion: int
    walks: int
    wi_bound: int
    walk_index: int


def bound_exponents(adj: Array, part: Sequence[int], depth: int, target: int | None = None) -> Exponents:
    r"""The three bounds of the walk-index theorem on :math:`\log_{D_h}\operatorname{sep}(f;I)`.

    ``recursion``: :math:`e_1 \equiv 0`, :math:`e_l(i) = \sum_{j \in \hat N(i) \cap C^{(l-1)}} (1 + e_{l-1}(j))`,
    then :math:`1 + \sum_i e_L(i)` (graph) or :math:`1 + e_L(t)` (vertex). ``walks``:
    :math:`1 + \sum_{l=1}^{L-1} \rho_{L-l}(C^{(l)}, V \text{ or } \{t\})`. ``wi_bound``:
    :math:`1 + (L-1)\,\mathrm{WI}`. ``walk_index``: :math:`\mathrm{WI}_{L-1}(I)` (or :math:`\mathrm{WI}_{L-1,t}`).
    """
    depth = require_int("depth", depth, minimum=1)
    nbrs = neighbourhoods(adj)
    n = len(nbrs)
    c = boundary_set(adj, part)
    ends = set(range(n)) if target is None else {int(target)}
    layers = {l: _ball(nbrs, c, l - 1) for l in range(1, depth + 1)}  # C^(l)
    e = [0] * n
    for l in range(2, depth + 1):
        e = [sum(1 + e[j] for j in nbrs[i] if j in layers[l - 1]) for i in range(n)]
    recursion = 1 + sum(e[i] for i in ends)
    walks = 1 + sum(int(sum(_walks_from(nbrs, layers[l], depth - l)[list(ends)])) for l in range(1, depth))
    wi = int(sum(_walks_from(nbrs, c, depth - 1)[list(ends)]))
    return Exponents(recursion=int(recursion), walks=int(walks), wi_bound=1 + (depth - 1) * wi, walk_index=wi)


def product_gnn(adj: Array, x: Array, weights: Sequence[Array], out: Array, target: int | None = None) -> Array:
    r"""Product-aggregation GNN on a batch of inputs.

    Args: adj: (n, n); x: (B, n, D_x); weights: [W^(1) (D_h, D_x), W^(2..L) (D_h, D_h)]; out: (D_h,).
    Returns: (B,) values of f (graph prediction) or f_t (vertex prediction at ``target``).
    """
    nbrs = neighbourhoods(adj)
    h = np.asarray(x, dtype=float)
    for w in weights:
        z = h @ np.asarray(w, dtype=float).T  # (B, n, D_h)
        h = np.stack([np.prod(z[:, sorted(nbrs[i])], axis=1) for i in range(len(nbrs))], axis=1)
    pooled = np.prod(h, axis=1) if target is None else h[:, int(target)]
    return pooled @ np.asarray(out, dtype=float)


def grid_tensor(adj: Array, templates: Array, weights: Sequence[Array], out: Array,
                target: int | None = None) -> Array:
    r"""The grid tensor :math:`\mathcal A_{k_1\dots k_n} = f(v_{k_1}, \dots, v_{k_n})`. Returns: shape (M,) * n."""
    templates = np.asarray(templates, dtype=float)
    n, m = len(adj), len(templates)
    idx = np.array(list(itertools.product(range(m), repeat=n)))  # (M^n, n), last vertex fastest
    return product_gnn(adj, templates[idx], weights, out, target).reshape((m,) * n)


def matricization_rank(tensor: Array, part: Sequence[int], rtol: float = 1e-9) -> int:
    """Rank of the matricization with the modes of ``part`` as rows (singular values above rtol * largest)."""
    n = tensor.ndim
    rows = sorted(int(v) for v in part)
    cols = [v for v in range(n) if v not in rows]
    mat = np.transpose(tensor, rows + cols).reshape(int(np.prod([tensor.shape[v] for v in rows])), -1)
    s = np.linalg.svd(mat, compute_uv=False)
    return int((s > rtol * s[0]).sum()) if s.size and s[0] > 0 else 0


def random_weights(depth: int, width: int, in_dim: int, gen: np.random.Generator) -> tuple[list[Array], Array]:
    """Gaussian W^(1..L) and W^(o) with unit-variance entries (generic weights)."""
    depth = require_int("depth", depth, minimum=1)
    ws = [gen.standard_normal((width, in_dim))] + [gen.standard_normal((width, width)) for _ in range(depth - 1)]
    return ws, gen.standard_normal(width)
