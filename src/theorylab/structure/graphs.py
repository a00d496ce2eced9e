r"""Walk index of a graph partition and Walk Index Sparsification (WIS).

A GNN of depth :math:`L` with product aggregation can only model strong interaction between
the two sides of a vertex partition :math:`(I, I^c)` if many walks of length :math:`L-1` start at
the partition's boundary :math:`C_I` (Razin, Verbin & Cohen, NeurIPS 2023). This module counts
those walks exactly (integers), and removes edges greedily so that the walk indices of all
singleton partitions stay as large as possible (WIS), next to random and spectral baselines.

Conventions: ``adj`` is a symmetric 0/1 (n, n) adjacency with a zero diagonal: a dense numpy
array or torch tensor, a ``scipy.sparse`` matrix or array, or a :class:`Graph` (validated once by
:func:`graph`). It is validated in O(n + m) after reading its non-zeros and stored sparse (CSR), so
graphs with millions of edges fit. The self-loops the GNN uses are added inside
(:math:`\hat A = A + I`). Edges are rows ``(u, v)`` with ``u < v``, in row-major order of the upper
triangle (the canonical order used for tie-breaks).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from theorylab.runtime import require_choice, require_int

Array = np.ndarray
_MAX_INT = 2**62


@dataclass(frozen=True, eq=False)
class Graph:
    """A validated simple undirected graph: CSR rows (sorted) and canonical edges ``u < v``."""

    n: int
    indptr: Array  # (n + 1,) row pointers of the symmetric adjacency
    indices: Array  # (2m,) neighbours, sorted within each row
    u: Array  # (m,) int64 smaller endpoint, canonical order
    v: Array  # (m,) int64 larger endpoint

    @property
    def m(self) -> int:
        return len(self.u)

    @property
    def deg(self) -> Array:
        return np.diff(self.indptr).astype(np.int64)

    def csr(self, dtype=np.int64) -> sp.csr_array:
        """The adjacency A as a scipy CSR array."""
        data = np.ones(len(self.indices), dtype=dtype)
        return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def a_hat(self) -> sp.csr_array:
        r""":math:`\hat A = A + I` as an int64 CSR array (exact integer products)."""
        return (self.csr() + sp.eye_array(self.n, dtype=np.int64, format="csr")).tocsr()

    def dense(self) -> Array:
        """The (n, n) int64 dense adjacency (memory n^2: small graphs only)."""
        a = np.zeros((self.n, self.n), dtype=np.int64)
        a[self.u, self.v] = a[self.v, self.u] = 1
        return a


def _from_csr(n: int, indptr: Array, indices: Array, name: str) -> Graph:
    """Graph from the sorted CSR pattern of the unit entries: symmetry and diagonal in O(n + m)."""
    a = sp.csr_array((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n, n))
    at = a.T.tocsr()  # counting sort: the rows of the transpose, sorted
    if not (np.array_equal(a.indptr, at.indptr) and np.array_equal(a.indices, at.indices)):
        raise ValueError(f"{name} must be symmetric (an undirected graph)")
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(a.indptr))
    cols = a.indices.astype(np.int64)
    if np.any(rows == cols):
        raise ValueError(f"{name} must have a zero diagonal: self-loops are added inside")
    upper = cols > rows
    return Graph(n=n, indptr=a.indptr, indices=a.indices, u=rows[upper], v=cols[upper])


def _from_pairs(n: int, r: Array, c: Array, name: str) -> Graph:
    """Graph from distinct (row, col) positions of the unit entries, in any order."""
    a = sp.csr_array((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    a.sum_duplicates()  # sorts each row's indices
    return _from_csr(n, a.indptr, a.indices, name)


def graph(adj, name: str = "adj") -> Graph:
    """Validate an adjacency (dense numpy/torch, scipy.sparse, or a Graph) once; return a :class:`Graph`.

    Checks: square, entries 0/1, symmetric, zero diagonal. Cost O(n + m) after reading the
    non-zeros (a dense input is scanned once, never copied to int64).
    """
    if isinstance(adj, Graph):
        return adj
    if isinstance(adj, torch.Tensor):
        if adj.layout != torch.strided:  # a sparse torch tensor
            t = adj.detach().coalesce().cpu()
            idx = t.indices().numpy()
            adj = sp.coo_array((t.values().numpy(), (idx[0], idx[1])), shape=tuple(t.shape))
        else:
            adj = adj.detach().cpu().numpy()
    shape = adj.shape if sp.issparse(adj) else np.shape(adj)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {tuple(shape)}")
    n = int(shape[0])
    if sp.issparse(adj):
        s = sp.csr_array(adj)
        if not s.has_canonical_format:  # duplicates are summed, as scipy does
            s = s.copy()
            s.sum_duplicates()
        if not np.all(s.data != 0):
            s = s.copy()
            s.eliminate_zeros()
        vals, indptr, indices = s.data, s.indptr, s.indices
    else:
        a = np.asarray(adj)
        r, indices = np.nonzero(a)  # row-major: sorted rows, sorted columns within a row
        vals = a[r, indices]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))])
    if not np.all(vals == 1):
        raise ValueError(f"{name} must contain only 0 and 1 entries")
    return _from_csr(n, indptr, indices, name)


def as_adjacency(adj, name: str = "adj") -> Array:
    """Validate an adjacency (see :func:`graph`) and return it as a dense int64 numpy array."""
    return graph(adj, name).dense()


def _require_vertices(idx: Sequence[int], n: int, name: str) -> Array:
    v = np.asarray(list(idx), dtype=np.int64).reshape(-1)
    if v.size and (v.min() < 0 or v.max() >= n):
        raise ValueError(f"{name} must hold vertex indices in [0, {n}), got {sorted(set(v.tolist()))}")
    return np.unique(v)


def _check_bound(g: Graph, length: int) -> None:
    """Every entry of A_hat^length, and every row sum, is at most (max degree + 1)^length."""
    if (int(g.deg.max(initial=0)) + 1) ** length >= _MAX_INT:
        raise ValueError("length too large: walk counts would overflow int64")


def _exact_sum(x: Array) -> int:
    """Sum of non-negative int64 entries as a Python int, without int64 overflow."""
    if x.size == 0:
        return 0
    if int(x.max()) * x.size < _MAX_INT:
        return int(x.sum())
    return sum(int(t) for t in x)


def _walk_vector(g: Graph, start: Array, length: int) -> Array:
    r""":math:`\hat A^{\ell} s` by ``length`` sparse matrix-vector products (exact int64)."""
    _check_bound(g, length)
    a_hat, w = g.a_hat(), start.astype(np.int64)
    for _ in range(length):
        w = a_hat @ w
    return w


def edges(adj) -> Array:
    """Edges ``(u, v)``, ``u < v``, in canonical (row-major upper-triangle) order: shape (m, 2)."""
    g = graph(adj)
    return np.stack([g.u, g.v], axis=1)


def walk_matrix(adj, length: int) -> Array:
    r"""Walk counts with self-loops, :math:`(\hat A^{\ell})_{ij}`, :math:`\hat A = A + I`, exact int64.

    Dense (n, n) output: for a few rows use :func:`walk_index` or sparse products with vectors."""
    length = require_int("length", length, minimum=0)
    g = graph(adj)
    _check_bound(g, length)
    exact_float = (int(g.deg.max(initial=0)) + 1) ** length < 2**52  # float64 is exact below 2**53
    dtype = np.float64 if exact_float else np.int64
    a_hat = g.a_hat().astype(dtype)
    w = np.eye(g.n, dtype=dtype)
    for _ in range(length):
        w = a_hat @ w  # sparse times dense; powers of A_hat commute
    return np.rint(w).astype(np.int64) if exact_float else w


def _boundary(g: Graph, subset: Sequence[int]) -> Array:
    inside = np.zeros(g.n, dtype=bool)
    inside[_require_vertices(subset, g.n, "subset")] = True
    cross = inside[g.u] != inside[g.v]  # edges that leave I: both endpoints are on the boundary
    c = np.zeros(g.n, dtype=bool)
    c[g.u[cross]] = c[g.v[cross]] = True
    return np.flatnonzero(c)


def boundary(adj, subset: Sequence[int]) -> Array:
    r"""Boundary :math:`C_I`: vertices of I with a neighbour in :math:`I^c`, and vice versa (O(m))."""
    return _boundary(graph(adj), subset)


def walk_index(adj, subset: Sequence[int], depth: int, *, target: int | None = None) -> int:
    r"""Walk index of the partition (I, I^c) for a GNN of depth L.

    .. math::  \mathrm{WI}_{L-1}(I) = \rho_{L-1}(C_I, V) = \mathbb 1_{C_I}^\top \hat A^{L-1} \mathbb 1,
       \qquad \mathrm{WI}_{L-1,t}(I) = \rho_{L-1}(C_I, \{t\}) = \mathbb 1_{C_I}^\top \hat A^{L-1} e_t

    Reference: Razin, Verbin & Cohen (2023), Section 4 (graph and vertex prediction).
    Args: adj: (n, n) 0/1 adjacency without self-loops (dense or sparse). subset: the vertices
      of I. depth: L >= 1. target: t for vertex prediction, None for graph prediction.
    Returns: the number of length-(L-1) walks starting in C_I (ending at t), exactly: L-1 sparse
      products with a vector (walks are reversible, so counting from t counts walks ending at t).
    """
    depth = require_int("depth", depth, minimum=1)
    g = graph(adj)
    c = _boundary(g, subset)
    start = np.ones(g.n, dtype=np.int64)
    if target is not None:
        t = _require_vertices([target], g.n, "target")[0]
        start = np.zeros(g.n, dtype=np.int64)
        start[t] = 1
    return _exact_sum(_walk_vector(g, start, depth - 1)[c])


def count_walks(adj, starts: Sequence[int], length: int, target: int | None = None) -> int:
    """Brute-force enumeration of walks (self-loops allowed) of a given length from ``starts``.

    The second route for :func:`walk_index`: walks are listed one by one, never counted by matrix
    products. Exponential in ``length``; for tests and small graphs only.
    """
    g = graph(adj)
    length = require_int("length", length, minimum=0)
    nbrs = [g.indices[g.indptr[i]:g.indptr[i + 1]].tolist() + [i] for i in range(g.n)]
    total = 0
    stack = [(int(s), 0) for s in _require_vertices(starts, g.n, "starts")]
    while stack:
        v, k = stack.pop()
        if k == length:
            total += target is None or v == target
            continue
        stack.extend((u, k + 1) for u in nbrs[v])
    return total


def vertex_walk_indices(adj, depth: int) -> Array:
    r"""Walk indices of all singleton partitions, :math:`\mathrm{WI}_{L-1,t}(\{t\})`, shape (n,).

    .. math::  \mathrm{WI}_{L-1,t}(\{t\}) = \sum_{j \in N(t)} (\hat A^{L-1})_{jt}
       + (\hat A^{L-1})_{tt}\, \mathbb 1[\deg t > 0] = (\hat A^{L})_{tt}\, \mathbb 1[\deg t > 0]

    since :math:`C_{\{t\}} = \{t\} \cup N(t)` when t has a neighbour and is empty otherwise. The
    diagonal is :math:`\sum_j (\hat A^{h})_{tj} (\hat A^{L-h})_{tj}`, h = floor(L/2): sparse products.
    Reference: Razin, Verbin & Cohen (2023), Algorithm 1 (the quantity WIS keeps large).
    """
    depth = require_int("depth", depth, minimum=1)
    g = graph(adj)
    _check_bound(g, depth)
    a_hat = g.a_hat()
    p = sp.eye_array(g.n, dtype=np.int64, format="csr")
    for _ in range(depth // 2):
        p = p @ a_hat
    q = p @ a_hat if depth % 2 else p
    return np.asarray(p.multiply(q).sum(axis=1), dtype=np.int64).reshape(-1) * (g.deg > 0)


def _vertex_walk_indices_dense(a: Array, depth: int) -> Array:
    """The same by a dense matrix power (the naive algorithm's route, and a test's second route)."""
    exact_float = (int(a.sum(1).max(initial=0)) + 1) ** depth < 2**52  # float64 BLAS is exact there
    dtype = np.float64 if exact_float else np.int64
    w = np.linalg.matrix_power((a + np.eye(len(a), dtype=np.int64)).astype(dtype), depth - 1)
    wi = (a * w).sum(0) + np.diag(w) * (a.sum(0) > 0)
    return np.rint(wi).astype(np.int64) if exact_float else wi


def remove_edges(adj, removed: Array):
    """Copy of ``adj`` without the given (k, 2) edges: dense int64 for a dense input, a
    ``scipy.sparse.csr_array`` for a sparse one, a :class:`Graph` for a Graph."""
    g = graph(adj)
    r = np.asarray(removed, dtype=np.int64).reshape(-1, 2)
    if not (sp.issparse(adj) or isinstance(adj, Graph)):
        a = g.dense()
        a[r[:, 0], r[:, 1]] = 0
        a[r[:, 1], r[:, 0]] = 0
        return a
    gone = np.isin(g.u * g.n + g.v, np.minimum(r[:, 0], r[:, 1]) * g.n + np.maximum(r[:, 0], r[:, 1]))
    u, v = g.u[~gone], g.v[~gone]
    out = _from_pairs(g.n, np.concatenate([u, v]), np.concatenate([v, u]), "adj")
    return out if isinstance(adj, Graph) else out.csr()


def _wis_naive(a: Array, e: Array, depth: int, n_remove: int) -> Array:
    """Algorithm 1 as written: try every remaining edge, recompute matrix powers, keep the best."""
    alive = np.ones(len(e), dtype=bool)
    out = []
    for _ in range(n_remove):
        cand = np.flatnonzero(alive)
        rows = []
        for k in cand:
            u, v = e[k]
            a[u, v] = a[v, u] = 0
            rows.append(np.sort(_vertex_walk_indices_dense(a, depth)))
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

    def __init__(self, g: Graph, depth: int):
        self.depth = depth
        self.nbrs = [set(row.tolist()) for row in np.split(g.indices, g.indptr[1:-1])]
        self.deg = g.deg.tolist()  # Python lists: scalar access is the hot path
        if depth == 3:  # triangles at each vertex: diag(A^3) / 2, by sparse products
            a = g.csr()
            tri = np.asarray((a @ a).multiply(a).sum(axis=1), dtype=np.int64).reshape(-1) // 2
        else:
            tri = np.zeros(g.n, dtype=np.int64)
        self.tri = tri.tolist()
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


def _wis_incremental(g: Graph, depth: int, n_remove: int) -> Array:
    eu, ev = g.u.tolist(), g.v.tolist()
    index = {(u, v): k for k, (u, v) in enumerate(zip(eu, ev))}
    state = _IncrementalWIS(g, depth)
    version = [0] * g.m
    alive = [True] * g.m
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
    return np.stack([g.u, g.v], axis=1)[np.array(out, dtype=np.int64)].reshape(-1, 2)


def wis(adj, depth: int, n_remove: int, *, method: str = "auto") -> Array:
    r"""(L-1)-Walk Index Sparsification: greedily remove the edge whose removal leaves the
    ascending-sorted vector of :func:`vertex_walk_indices` lexicographically largest.

    Reference: Razin, Verbin & Cohen (2023), Algorithm 1 (here one edge per recomputation).
    Ties go to the first edge in canonical order. ``method="naive"`` recomputes dense matrix powers
    for every candidate (any depth; small graphs); ``"incremental"`` (depth 2 or 3) updates degrees
    and triangle counts locally and keeps candidates in a heap; ``"auto"`` picks incremental when
    it can. Returns: (n_remove, 2) removed edges, in order of removal.
    """
    depth = require_int("depth", depth, minimum=1)
    g = graph(adj)
    n_remove = require_int("n_remove", n_remove, minimum=0, maximum=g.m)
    require_choice("method", method, ("auto", "naive", "incremental"))
    if method == "incremental" and depth not in (2, 3):
        raise ValueError(f"method='incremental' needs depth 2 or 3, got depth={depth}")
    if method == "naive" or (method == "auto" and depth not in (2, 3)):
        return _wis_naive(g.dense(), np.stack([g.u, g.v], axis=1), depth, n_remove)
    return _wis_incremental(g, depth, n_remove)


def one_wis(adj, n_remove: int) -> Array:
    r"""1-WIS (Algorithm 2): remove the edge whose smaller endpoint degree is largest, ties by the
    larger endpoint degree, then by canonical order. Self-loops are never candidates.

    Bucket queue over degree pairs: edges are filed under the code of (min degree, max degree) they
    had when filed; degrees only decrease, so a filed code is an upper bound and the largest code
    never rises. Buckets are visited from the top, each once: its still-exact edges, in canonical
    order, are removed greedily unless an earlier removal of the visit touched an endpoint (that
    is a greedy matching, found in rounds of edges that come first at both endpoints); every other
    edge is re-filed under its exact code. Numpy does each visit at once: O(m + re-filings) work
    and a few hundred visits, against one heap operation per stale entry for a lazy heap.
    Reference: Razin, Verbin & Cohen (2023), Algorithm 2. Returns: (n_remove, 2) removed edges.
    """
    g = graph(adj)
    n_remove = require_int("n_remove", n_remove, minimum=0, maximum=g.m)
    eu, ev, deg = g.u, g.v, g.deg
    base = int(deg.max(initial=0)) + 1

    def codes(idx: Array) -> Array:
        du, dv = deg[eu[idx]], deg[ev[idx]]
        return np.minimum(du, dv) * base + np.maximum(du, dv)

    buckets: dict[int, list[Array]] = {}
    pending: list[int] = []  # max-heap (negated) of the codes that have a bucket

    def file(idx: Array) -> None:  # idx sorted; stable sort keeps canonical order inside a bucket
        c = codes(idx)
        order = np.argsort(c, kind="stable")
        idx, c = idx[order], c[order]
        cut = np.flatnonzero(np.diff(c)) + 1
        for code, chunk in zip(c[np.concatenate([[0], cut])].tolist(), np.split(idx, cut)):
            if code not in buckets:
                buckets[code] = []
                heapq.heappush(pending, -code)
            buckets[code].append(chunk)

    out: list[Array] = []
    left = n_remove
    if left:
        file(np.arange(g.m, dtype=np.int64))
    first = np.full(g.n, g.m, dtype=np.int64)  # scratch: first candidate position at each vertex
    used = np.zeros(g.n, dtype=bool)
    while left:
        code = -heapq.heappop(pending)
        chunks = buckets.pop(code)
        idx = chunks[0] if len(chunks) == 1 else np.sort(np.concatenate(chunks), kind="stable")
        cand = idx[codes(idx) == code]  # the rest went stale: a lower code
        taken = []
        while cand.size:  # greedy matching in canonical order, by rounds
            a, b = eu[cand], ev[cand]
            pos = np.arange(cand.size)
            np.minimum.at(first, a, pos)
            np.minimum.at(first, b, pos)
            win = cand[(first[a] == pos) & (first[b] == pos)]
            first[a] = first[b] = g.m
            used[eu[win]] = used[ev[win]] = True
            taken.append(win)
            cand = cand[~(used[a] | used[b])]
        took = np.sort(np.concatenate(taken)) if taken else idx[:0]
        used[eu[took]] = used[ev[took]] = False
        took = took[:left]  # the sequential walk stops at the n_remove-th removal
        deg[eu[took]] -= 1
        deg[ev[took]] -= 1
        out.append(took)
        left -= took.size
        if left:
            rest = idx[~np.isin(idx, took, assume_unique=True)]
            if rest.size:
                file(rest)
    return np.stack([eu, ev], axis=1)[np.concatenate(out) if out else np.zeros(0, np.int64)]


def random_removal(adj, n_remove: int, gen: np.random.Generator) -> Array:
    """Baseline: remove ``n_remove`` edges chosen uniformly at random (order = removal order)."""
    e = edges(adj)
    n_remove = require_int("n_remove", n_remove, minimum=0, maximum=len(e))
    return e[gen.permutation(len(e))[:n_remove]]


def effective_resistance(adj) -> Array:
    r"""Effective resistance of every edge, :math:`R_{uv} = (e_u - e_v)^\top L^+ (e_u - e_v)`.

    Dense pseudo-inverse of the Laplacian: keep n <= ~2000."""
    g = graph(adj)
    a = g.dense().astype(np.float64)
    lap_pinv = np.linalg.pinv(np.diag(a.sum(1)) - a, hermitian=True)
    u, v = g.u, g.v
    return lap_pinv[u, u] + lap_pinv[v, v] - 2 * lap_pinv[u, v]


def spectral_removal(adj, n_remove: int, gen: np.random.Generator) -> Array:
    """Baseline in the spirit of Spielman-Srivastava: edges of low effective resistance carry
    little of the Laplacian's spectrum, so remove them first (random tie-breaks). Dense pinv:
    keep n <= ~2000."""
    g = graph(adj)
    e = edges(g)
    n_remove = require_int("n_remove", n_remove, minimum=0, maximum=len(e))
    r = np.round(effective_resistance(g), 9)
    order = np.lexsort((gen.random(len(e)), r))
    return e[order[:n_remove]]
