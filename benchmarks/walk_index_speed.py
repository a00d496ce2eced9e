"""Speed of Walk Index Sparsification: our fast routes against the naive algorithm.

Run: OMP_NUM_THREADS=1 python benchmarks/walk_index_speed.py [--quick]

1. 1-WIS (Algorithm 2) removing half the edges of a 10^5-edge graph: our lazy heap against a
   vectorised naive loop that rescans every edge's degree pair at every step (the reference
   implementation's approach); the naive time is measured on the first steps and extrapolated.
2. 2-WIS (Algorithm 1, L = 3) on 2,000 vertices and 10^4 edges: incremental updates against the
   naive algorithm, which recomputes A_hat^2 for every candidate edge at every step. The naive
   total is extrapolated from the measured cost of one candidate evaluation; on a 120-vertex
   graph both are run in full, their removal sequences compared and the speed-up measured.
"""
from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from theorylab.structure import graphs


def naive_one_wis(adj: np.ndarray, n_remove: int) -> np.ndarray:
    """Algorithm 2 by rescanning all edges each step (O(m) per removal)."""
    e = graphs.edges(adj)
    deg = adj.sum(1).astype(np.int64)
    alive = np.ones(len(e), dtype=bool)
    out = []
    for _ in range(n_remove):
        du, dv = deg[e[:, 0]], deg[e[:, 1]]
        lo, hi = np.minimum(du, dv), np.maximum(du, dv)
        score = np.where(alive, lo * (deg.max() + 2) + hi, -1)
        k = int(np.argmax(score))  # first index among ties, as in one_wis
        alive[k] = False
        deg[e[k]] -= 1
        out.append(k)
    return e[np.array(out)]


def timed(fn, *args):
    tic = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - tic


def main(quick: bool) -> None:
    n1, m1 = (1000, 10_000) if quick else (4000, 100_000)
    a1 = nx.to_numpy_array(nx.gnm_random_graph(n1, m1, seed=0), weight=None, dtype=np.int8)
    fast, t_fast = timed(graphs.one_wis, a1, m1 // 2)
    probe = 2000
    naive, t_probe = timed(naive_one_wis, a1, probe)
    assert np.array_equal(naive, fast[:probe]), "naive and heap 1-WIS disagree"
    t_naive = t_probe * (m1 // 2) / probe
    print(f"1-WIS, n={n1}, m={m1}, remove {m1 // 2}: heap {t_fast:.2f} s; naive (extrapolated from "
          f"{probe} steps) {t_naive:.2f} s; speed-up x{t_naive / t_fast:.1f}")

    n2, m2 = (500, 2500) if quick else (2000, 10_000)
    a2 = nx.to_numpy_array(nx.gnm_random_graph(n2, m2, seed=1), weight=None, dtype=np.int64)
    _, t_incr = timed(graphs.wis, a2, 3, m2 // 2)
    _, t_eval = timed(graphs.vertex_walk_indices, a2, 3)  # one candidate of the naive algorithm
    t_naive2 = t_eval * sum(m2 - k for k in range(m2 // 2))
    print(f"2-WIS, n={n2}, m={m2}, remove {m2 // 2}: incremental {t_incr:.2f} s; naive (extrapolated: "
          f"{t_eval * 1e3:.0f} ms per candidate) {t_naive2:.2e} s; speed-up x{t_naive2 / t_incr:.1e}")

    a3 = nx.to_numpy_array(nx.gnm_random_graph(120, 500, seed=2), weight=None, dtype=np.int64)
    slow, t_slow = timed(lambda: graphs.wis(a3, 3, 50, method="naive"))
    quick_, t_q = timed(lambda: graphs.wis(a3, 3, 50, method="incremental"))
    same = all(np.array_equal(np.sort(graphs.vertex_walk_indices(graphs.remove_edges(a3, slow[:k]), 3)),
                              np.sort(graphs.vertex_walk_indices(graphs.remove_edges(a3, quick_[:k]), 3)))
               for k in range(0, 51, 5))
    print(f"2-WIS, n=120, m=500, remove 50: naive {t_slow:.1f} s, incremental {t_q:.3f} s, "
          f"speed-up x{t_slow / t_q:.0f}; identical sequences: {np.array_equal(slow, quick_)}, "
          f"identical sorted walk-index vectors: {same}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller graphs (a few seconds)")
    main(parser.parse_args().quick)
