r"""Walk index of a graph partition and Walk Index Sparsification (WIS).

A GNN of depth :math:`L` with product aggregation can only model strong interaction between
the two sides of a vertex partition :math:`(I, I^c)` if many walks of length :math:`L-1` start at
the partition's boundary :math:`C_I` (Razin, Verbin & Cohen, NeurIPS 2023). This module counts
those walks exactly (integers), and removes edges greedily so that the walk indices of all
singleton partitions stay as large as possible (WIS), next to random and spectral baselines.

Conventions: ``adj`` is a dense symmetric 0/1 (n, n) array or tensor with a zero diagonal; the
self-loops the GNN uses are added inside (:math:`\hat A = A + I`). Edges are rows ``(u, v)`` with
``u < v``, in row-major order of the upper triangle (the canonical order used for tie-breaks).
"""
from __future__ import annotations

import heapq
from typing import Sequence

import numpy as np
import torch

Array = np.ndarray
_MAX_INT = 2**62


def as_adjacency(adj: Array | torch.Tensor, name: str = "adj") -> Array:
    """Validate a dense 0/1 symmetric adjacency without self-loops; return it as int64 numpy."""
    a = adj.detach().cpu().numpy() if isinstance(adj, torch.Tensor) else np.asarray(adj)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {a.shape}")
    if not np.all((a == 0) | (a == 1)):
        raise ValueError(f"{name} must contain only 0 and 1 entries")
    if not np.array_equal(a, a.T):
        raise ValueError(f"{name} must be symmetric (an undirected graph)")
    if np.any(np.diag(a) != 0):
        raise ValueError(f"{name} must have a zero diagonal: self-loops are added inside")
    return a.astype(np.int64)


def _require_depth(depth: int) -> None:
    if not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")


def _require_vertices(idx: Sequence[int], n: int, name: str) -> Array:
    v = np.asarray(list(idx), dtype=np.int64).reshape(-1)
    if v.size and (v.min() < 0 or v.max() >= n):
        raise ValueError(f"{name} must hold vertex indices in [0, {n}), got {sorted(set(v.tolist()))}")
    return np.unique(v)


def edges(adj: Array | torch.Tensor) -> Array:
    """Edges ``(u, v)``, ``u < v``, in canonical (row-major upper-triangle) order: shape (m, 2)."""
    a = as_adjacency(adj)
    return np.argwhere(np.triu(a, 1) > 0).astype(np.int64)


def walk_matrix(adj: Array | torch.Tensor, length: int) -> Array:
    r"""Walk counts with self-loops, :math:`(\hat A^{\ell})_{ij}`, :math:`\hat A = A + I`, exact int64."""
    a = as_adjacency(adj)
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    bound = float(a.sum(1).max(initial=0) + 1) ** length  # no walk count exceeds it
    if bound >= _MAX_INT:
        raise ValueError("length too large: walk counts would overflow int64")
    exact_float = bound < 2.0**52  # float64 BLAS is exact below 2**53 and far faster than int
    dtype = np.float64 if exact_float else np.int64
    a_hat = (a + np.eye(len(a), dtype=np.int64)).astype(dtype)
    w = np.eye(len(a), dtype=dtype)
    for _ in range(length):
        w = w @ a_hat
    return np.rint(w).astype(np.int64) if exact_float else w


def boundary(adj: Array | torch.Tensor, subset: Sequence[int]) -> Array:
    r"""Boundary :math:`C_I`: vertices of I with a neighbour in :math:`I^c`, and vice versa."""
    a = as_adjacency(adj)
    n = len(a)
    inside = np.zeros(n, dtype=bool)
    inside[_require_vertices(subset, n, "subset")] = True
    crossing = a[inside][:, ~inside]  # (|I|, |I^c|)
    c = np.zeros(n, dtype=bool)
    c[np.flatnonzero(inside)[crossing.any(1)]] = True
    c[np.flatnonzero(~inside)[crossing.any(0)]] = True
    return np.flatnonzero(c)


def walk_index(adj: Array | torch.Tensor, subset: Sequence[int], depth: int, *,
               target: int | None = None) -> int:
    r"""Walk index of the partition (I, I^c) for a GNN of depth L.

    .. math::  \mathrm{WI}_{L-1}(I) = \rho_{L-1}(C_I, V) = \sum_{i \in C_I} \sum_j (\hat A^{L-1})_{ij},
       \qquad \mathrm{WI}_{L-1,t}(I) = \rho_{L-1}(C_I, \{t\}) = \sum_{i \in C_I} (\hat A^{L-1})_{it}

    Reference: Razin, Verbin & Cohen (2023), Section 4 (graph and vertex prediction).
    Args: adj: (n, n) 0/1 adjacency without self-loops. subset: the vertices of I.
      depth: L >= 1. target: t for vertex prediction, None for graph prediction.
    Returns: the number of length-(L-1) walks starting in C_I (ending at t), exactly.
    """
    _require_depth(depth)
    a = as_adjacency(adj)
    c = boundary(a, subset)
    w = walk_matrix(a, depth - 1)
    if target is None:
        return int(w[c].sum())
    t = _require_vertices([target], len(a), "target")[0]
    return int(w[c, t].sum())


def count_walks(adj: Array | torch.Tensor, starts: Sequence[int], length: int,
                target: int | None = None) -> int:
    """Brute-force enumeration of walks (self-loops allowed) of a given length from ``starts``.

    The second route for :func:`walk_index`: walks are listed one by one, never counted by matrix
    powers. Exponential in ``length``; for tests and small graphs only.
    """
    a = as_adjacency(adj)
    nbrs = [np.flatnonzero(a[i]).tolist() + [i] for i in range(len(a))]
    total = 0
    stack = [(int(s), 0) for s in _require_vertices(starts, len(a), "starts")]
    while stack:
        v, k = stack.pop()
        if k == length:
            total += target is None or v == target
            continue
        stack.extend((u, k + 1) for u in nbrs[v])
    return total


def vertex_walk_indices(adj: Array | torch.Tensor, depth: int) -> Array:
    r"""Walk indices of all singleton partitions, :math:`\mathrm{WI}_{L-1,t}(\{t\})`, shape (n,).

    .. math::  \mathrm{WI}_{L-1,t}(\{t\}) = \sum_{j \in N(t)} (\hat A^{L-1})_{jt}
       + (\hat A^{L-1})_{tt}\, \mathbb 1[\deg t > 0]

    since :math:`C_{\{t\}} = \{t\} \cup N(t)` when t has a neighbour and is empty otherwise.
    Reference: Razin, Verbin & Cohen (2023), Algorithm 1 (the quantity WIS keeps large).
    """
    _require_depth(depth)
    a = as_adjacency(adj)
    w = walk_matrix(a, depth - 1)
    return (a * w).sum(0) + np.diag(w) * (a.sum(0) > 0)


def remove_edges(adj: Array | torch.Tensor, removed: Array) -> Array:
    """Copy of ``adj`` without the given (k, 2) edges."""
    a = as_adjacency(adj).copy()
    r = np.asarray(removed, dtype=np.int64).reshape(-1, 2)
    a[r[:, 0], r[:, 1]] = 0
    a[r[:, 1], r[:, 0]] = 0
    return a


def _require_n_remove(n_remove: int, m: int) -> None:
    if not isinstance(n_remove, (int, np.integer)) or not 0 <= n_remove <= m:
        raise ValueError(f"n_remove must be an integer in [0, {m}] (the edge count), got {n_remove!r}")


def _wis_naive(a: Array, depth: int, n_remove: int) -> Array:
    """Algorithm 1 as written: try every remaining edge, recompute matrix powers, keep the best."""
    e = edges(a)
    alive = np.ones(len(e), dtype=bool)
    out = []
    for _ in range(n_remove):
        cand = np.flatnonzero(alive)
        rows = []
        for k in cand:
            u, v = e[k]
            a[u, v] = a[v, u] = 0
            rows.append(np.sort(vertex_walk_indices(a, depth)))
            a[u, v] = a[v, u] = 1
        rows = np.stack(rows)
        best_row = rows[np.lexsort(rows.T[::-1])[-1]]
        k = cand[np.flatnonzero((rows == best_row).all(1))[0]]  # first of the tied maxima
        u, v = e[k]
        a[u, v] = a[v, u] = 0
        alive[k] = False
        out.append(e[k])
    return np.array(out, dtype=np.int64).reshape(-1, 2)


class _IncrementalWIS:
    r"""Greedy WIS for L = 2 or 3 with local updates instead of matrix powers.

    With :math:`\hat A = A + I`: :math:`\mathrm{WI}_1(t) = d_t + \mathbb 1[d_t>0]` and
    :math:`\mathrm{WI}_2(t) = 2\,\triangle_t + 3 d_t + \mathbb 1[d_t>0]` (d degree, triangles
    :math:`\triangle`), so removing (u, v) only changes u, v and their common neighbours. Sorted
    vectors are compared through the change of their counting function (see ``_key``).
    """

    def __init__(self, a: Array, depth: int):
        self.depth = depth
        self.nbrs = [set(np.flatnonzero(r).tolist()) for r in a]
        self.deg = a.sum(1).tolist()  # Python lists: scalar access is the hot path
        af = a.astype(np.float64)  # BLAS; exact, counts are far below 2**53
        tri = np.rint(((af @ af) * af).sum(1) / 2) if depth == 3 else np.zeros(len(a))
        self.tri = tri.astype(np.int64).tolist()
        self.wi = [self._value(d, t) for d, t in zip(self.deg, self.tri)]

    def _value(self, d: int, tri: int) -> int:
        return d + (d > 0) if self.depth == 2 else 2 * tri + 3 * d + (d > 0)

    def _changes(self, u: int, v: int) -> tuple[dict[int, int], set[int]]:
        common = self.nbrs[u] & self.nbrs[v] if self.depth == 3 else set()
        new = {w: self._value(self.deg[w], self.tri[w] - 1) for w in common}
        for x in (u, v):
            new[x] = self._value(self.deg[x] - 1, self.tri[x] - len(common))
        return new, common

    def _key(self, u: int, v: int) -> tuple[int, ...]:
        """Min-heap key: smaller = lexicographically larger sorted walk-index vector after removal.

        F(x) = #{entries <= x}; a vector is lex-larger iff its F is smaller at the first x where
        they differ. Removal lowers values, so it changes F by Delta >= 0 (+1 at each new value,
        -1 at each old one). The steps of Delta are encoded as a flat tuple, 3 ints per step: a
        step down at x is (0, x, level), a step up is (2, -x, level), and the end is (1,). Tuple
        order is then the order of the candidates, best first: dropping earlier beats rising, and
        rising later beats rising earlier. Hot path: the walk-index drops of ``_changes`` inline.
        """
        wi, deg = self.wi, self.deg
        diff: dict[int, int] = {}
        c = 0
        if self.depth == 3:
            common = self.nbrs[u] & self.nbrs[v]
            c = len(common)
            for w in common:  # one triangle less: WI_2 drops by 2
                old = wi[w]
                diff[old - 2] = diff.get(old - 2, 0) + 1
                diff[old] = diff.get(old, 0) - 1
        step = 3 + 2 * c if self.depth == 3 else 1  # both endpoints: one degree less, c triangles less
        for x in (u, v):
            old = wi[x]
            new = old - step - (deg[x] == 1)  # and the 1[deg > 0] term if x becomes isolated
            diff[new] = diff.get(new, 0) + 1
            diff[old] = diff.get(old, 0) - 1
        level, key = 0, []
        for x in sorted(diff):
            d = diff[x]
            if d:
                level += d
                key += (2, -x, level) if d > 0 else (0, x, level)
        key.append(1)
        return tuple(key)

    def remove(self, u: int, v: int) -> set[int]:
        new, common = self._changes(u, v)
        self.nbrs[u].discard(v)
        self.nbrs[v].discard(u)
        self.deg[u] -= 1
        self.deg[v] -= 1
        if self.depth == 3:
            self.tri[u] -= len(common)
            self.tri[v] -= len(common)
            for w in common:
                self.tri[w] -= 1
        for w, val in new.items():
            self.wi[w] = val
        return set(new)


def _wis_incremental(a: Array, depth: int, n_remove: int) -> Array:
    e = edges(a)
    index = {(int(u), int(v)): k for k, (u, v) in enumerate(e)}
    state = _IncrementalWIS(a, depth)
    version = [0] * len(e)
    alive = [True] * len(e)
    eu, ev = e[:, 0].tolist(), e[:, 1].tolist()
    heap = [(state._key(u, v), k, 0) for k, (u, v) in enumerate(zip(eu, ev))]
    heapq.heapify(heap)
    out = []
    while len(out) < n_remove:
        _, k, ver = heapq.heappop(heap)
        if not alive[k] or ver != version[k]:
            continue  # stale entry
        u, v = eu[k], ev[k]
        alive[k] = False
        out.append(k)
        changed = state.remove(u, v)
        touched = set()
        for z in changed:  # edges at a changed vertex, and (depth 3) edges with it as a common neighbour
            for x in state.nbrs[z]:
                touched.add((min(z, x), max(z, x)))
                if depth == 3:
                    touched.update((min(x, y), max(x, y)) for y in state.nbrs[z] & state.nbrs[x])
        for x, y in touched:
            j = index[(x, y)]
            version[j] += 1
            heapq.heappush(heap, (state._key(x, y), j, version[j]))
    return e[np.array(out, dtype=np.int64)].reshape(-1, 2)


def wis(adj: Array | torch.Tensor, depth: int, n_remove: int, *, method: str = "auto") -> Array:
    r"""(L-1)-Walk Index Sparsification: greedily remove the edge whose removal leaves the
    ascending-sorted vector of :func:`vertex_walk_indices` lexicographically largest.

    Reference: Razin, Verbin & Cohen (2023), Algorithm 1 (here one edge per recomputation).
    Ties go to the first edge in canonical order. ``method="naive"`` recomputes matrix powers for
    every candidate (any depth); ``"incremental"`` (depth 2 or 3) updates degrees and triangle
    counts locally and keeps candidates in a heap; ``"auto"`` picks incremental when it can.
    Returns: (n_remove, 2) removed edges, in order of removal.
    """
    _require_depth(depth)
    a = as_adjacency(adj).copy()
    _require_n_remove(n_remove, int(np.triu(a, 1).sum()))
    if method not in ("auto", "naive", "incremental"):
        raise ValueError(f"method must be 'auto', 'naive' or 'incremental', got {method!r}")
    if method == "incremental" and depth not in (2, 3):
        raise ValueError(f"method='incremental' needs depth 2 or 3, got depth={depth}")
    if method == "naive" or (method == "auto" and depth not in (2, 3)):
        return _wis_naive(a, depth, n_remove)
    return _wis_incremental(a, depth, n_remove)


def one_wis(adj: Array | torch.Tensor, n_remove: int) -> Array:
    r"""1-WIS (Algorithm 2): remove the edge whose smaller endpoint degree is largest, ties by the
    larger endpoint degree, then by canonical order. Self-loops are never candidates.

    Degrees only decrease, so stale heap keys are optimistic: pop, refresh, accept if unchanged.
    Reference: Razin, Verbin & Cohen (2023), Algorithm 2. Returns: (n_remove, 2) removed edges.
    """
    a = as_adjacency(adj)
    e = edges(a)
    _require_n_remove(n_remove, len(e))
    deg = a.sum(1).tolist()
    eu, ev = e[:, 0].tolist(), e[:, 1].tolist()  # Python lists: scalar access is the hot path
    m, base = max(len(e), 1), max(deg, default=0) + 1
    top = base * base  # one int per key: smaller int = larger (min degree, max degree), then index

    def code(k: int) -> int:
        du, dv = deg[eu[k]], deg[ev[k]]
        return (top - (min(du, dv) * base + max(du, dv))) * m + k

    heap = [code(k) for k in range(len(e))]
    heapq.heapify(heap)
    out = []
    while len(out) < n_remove:
        entry = heapq.heappop(heap)
        k = entry % m
        fresh = code(k)
        if fresh != entry:
            heapq.heappush(heap, fresh)
            continue
        deg[eu[k]] -= 1
        deg[ev[k]] -= 1
        out.append(k)
    return e[np.array(out, dtype=np.int64)].reshape(-1, 2)


def random_removal(adj: Array | torch.Tensor, n_remove: int, gen: np.random.Generator) -> Array:
    """Baseline: remove ``n_remove`` edges chosen uniformly at random (order = removal order)."""
    e = edges(adj)
    _require_n_remove(n_remove, len(e))
    return e[gen.permutation(len(e))[:n_remove]]


def effective_resistance(adj: Array | torch.Tensor) -> Array:
    r"""Effective resistance of every edge, :math:`R_{uv} = (e_u - e_v)^\top L^+ (e_u - e_v)`."""
    a = as_adjacency(adj).astype(np.float64)
    lap_pinv = np.linalg.pinv(np.diag(a.sum(1)) - a, hermitian=True)
    e = edges(adj)
    u, v = e[:, 0], e[:, 1]
    return lap_pinv[u, u] + lap_pinv[v, v] - 2 * lap_pinv[u, v]


def spectral_removal(adj: Array | torch.Tensor, n_remove: int, gen: np.random.Generator) -> Array:
    """Baseline in the spirit of Spielman-Srivastava: edges of low effective resistance carry
    little of the Laplacian's spectrum, so remove them first (random tie-breaks). Dense pinv:
    keep n <= ~2000."""
    e = edges(adj)
    _require_n_remove(n_remove, len(e))
    r = np.round(effective_resistance(adj), 9)
    order = np.lexsort((gen.random(len(e)), r))
    return e[order[:n_remove]]
