"""Walk index and Walk Index Sparsification at scale: our routes against naive ones.

Run: PYTHONPATH=src .venv/bin/python benchmarks/walk_index_speed.py [--quick]
(or every benchmark at once: benchmarks/run.py). Cases:
1. 1-WIS (Algorithm 2), removing half the edges of a sparse random graph with 10^5 vertices and
   10^6 edges: the bucket queue against the naive loop that rescans every edge's degree pair at
   each step (timed on its first steps, extrapolated), and against the lazy heap this module used
   before (run in full on 2x10^4 vertices, 10^5 edges). Removal sequences must be identical.
2. 2-WIS (Algorithm 1, L = 3) on 10^4 vertices and 5x10^4 edges, removing half: incremental
   updates against the naive algorithm, which recomputes the walk indices for every candidate
   edge at every step (timed on a few candidates, extrapolated); on 120 vertices both run in full
   and must agree.
3. Walk index of a partition: sparse products with vectors against the dense matrix power.
"""
from __future__ import annotations

import heapq
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from theorylab.structure import graphs


def gnm(n: int, m: int, seed: int) -> sp.csr_array:
    """Uniform random simple graph with n vertices and m edges, as a symmetric int8 CSR array."""
    gen = np.random.default_rng(seed)
    u, v = gen.integers(0, n, 2 * m), gen.integers(0, n, 2 * m)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    keys = gen.permutation(np.unique(lo[lo != hi] * n + hi[lo != hi]))[:m]
    r, c = keys // n, keys % n
    return sp.csr_array((np.ones(2 * m, np.int8), (np.r_[r, c], np.r_[c, r])), shape=(n, n))


def naive_one_wis(adj, n_steps: int) -> np.ndarray:
    """Algorithm 2 by rescanning all edges each step (O(m) per removal)."""
    e = graphs.edges(adj)
    deg = np.bincount(e.ravel(), minlength=adj.shape[0]).astype(np.int64)
    alive = np.ones(len(e), dtype=bool)
    out = []
    for _ in range(n_steps):
        du, dv = deg[e[:, 0]], deg[e[:, 1]]
        score = np.where(alive, np.minimum(du, dv) * (deg.max() + 2) + np.maximum(du, dv), -1)
        k = int(np.argmax(score))  # first index among ties: canonical order
        alive[k] = False
        deg[e[k]] -= 1
        out.append(e[k])
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def lazy_heap_one_wis(adj, n_remove: int) -> np.ndarray:
    """The previous implementation: one heap entry per edge, refreshed when popped stale."""
    e = graphs.edges(adj)
    deg = np.bincount(e.ravel(), minlength=adj.shape[0]).tolist()
    eu, ev = e[:, 0].tolist(), e[:, 1].tolist()
    m, base = max(len(e), 1), max(deg, default=0) + 1
    top = base * base

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
    return e[np.array(out, dtype=np.int64)]


def naive_wis_candidates(adj, depth: int, n_candidates: int) -> list[np.ndarray]:
    """The inner loop of the naive Algorithm 1: sorted walk indices with one candidate edge removed."""
    e = graphs.edges(adj)
    return [np.sort(graphs.vertex_walk_indices(graphs.remove_edges(adj, e[k:k + 1]), depth))
            for k in range(n_candidates)]


def dense_walk_index(adj, part, depth: int) -> int:
    """The previous route: a dense matrix power, then the boundary rows."""
    a = adj.toarray().astype(np.float64)
    w = np.linalg.matrix_power(a + np.eye(len(a)), depth - 1)
    return int(round(w[graphs.boundary(adj, part)].sum()))


def cases(quick: bool):
    n, m = (20_000, 100_000) if quick else (100_000, 1_000_000)
    a = gnm(n, m, 0)
    probe = 100 if quick else 40
    yield dict(name=f"1-WIS, n={n}, m={m}, remove {m // 2}: bucket queue vs naive rescan",
               fast=lambda: graphs.one_wis(a, m // 2), naive=lambda: naive_one_wis(a, probe),
               naive_scale=(m // 2) / probe, check=lambda f, s: np.array_equal(f[:probe], s),
               note=f"naive timed on its first {probe} removals; check: identical removals there")
    n, m = (5_000, 25_000) if quick else (20_000, 100_000)
    a2 = gnm(n, m, 1)
    yield dict(name=f"1-WIS, n={n}, m={m}, remove {m // 2}: bucket queue vs the previous lazy heap",
               fast=lambda: graphs.one_wis(a2, m // 2), naive=lambda: lazy_heap_one_wis(a2, m // 2),
               check=np.array_equal, note="both run in full; check: identical removal sequences")
    n, m = (2_000, 10_000) if quick else (10_000, 50_000)
    a3 = gnm(n, m, 2)
    k = 5
    yield dict(name=f"2-WIS (L=3), n={n}, m={m}, remove {m // 2}: incremental vs naive Algorithm 1",
               fast=lambda: graphs.wis(a3, 3, m // 2), naive=lambda: naive_wis_candidates(a3, 3, k),
               naive_scale=sum(m - j for j in range(m // 2)) / k,
               note=f"naive: {k} candidate evaluations (sparse walk indices) timed, times the "
                    f"{sum(m - j for j in range(m // 2)):.3g} evaluations of the full run")
    a4, r4 = gnm(120, 500, 3), 20 if quick else 50
    yield dict(name=f"2-WIS (L=3), n=120, m=500, remove {r4}: incremental vs naive, both in full",
               fast=lambda: graphs.wis(a4, 3, r4, method="incremental"),
               naive=lambda: graphs.wis(a4, 3, r4, method="naive"), check=np.array_equal,
               note="check: identical removal sequences")
    n, m = (1_000, 5_000) if quick else (2_000, 10_000)
    a5, part = gnm(n, m, 4), np.arange(0, n, 2)
    yield dict(name=f"walk index, n={n}, m={m}, L=4, I = even vertices: sparse vectors vs dense power",
               fast=lambda: graphs.walk_index(a5, part, 4), naive=lambda: dense_walk_index(a5, part, 4),
               check=lambda f, s: f == s)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    sys.exit(main(sys.argv[1:], modules=[Path(__file__)]))
