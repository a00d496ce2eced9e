"""Planted bugs for the chapter walk-index: plausible slips in the formulas it rests on (the walk index
eq-wi-def, the boundary eq-wi-boundary, the bound eq-wi-upper, the local WIS formula eq-wi-two);
the chapter's claims must catch every one.  Run:  PYTHONPATH=src python scripts/planted_bugs/walk_index.py
The GNN trainings are skipped: every formula here is checked before or without them.
"""

from __future__ import annotations

import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _runner import report  # noqa: E402

from theorylab.structure import graphs, separation  # noqa: E402

EARLY = dict(stop_after='ledger.at_least("wi_ratio"')
WIS = dict(stop_after='ledger.at_most("incremental_vs_naive_mismatches"',
           skip=("gnn.train_graph_classifiers", "long = pairs.melt", 'ledger.show("pair_epochs"'))


def one_sided_boundary():  # eq-wi-boundary: only the vertices of I with a neighbour across
    def bad(adj, subset):
        a = graphs.as_adjacency(adj)
        inside = np.zeros(len(a), dtype=bool)
        inside[np.asarray(subset, dtype=int)] = True
        return np.flatnonzero(inside & a[:, ~inside].any(1))
    graphs.boundary = bad


def walk_length_off_by_one():  # eq-wi-def: walks of length L-2 instead of L-1
    real = graphs.walk_matrix
    graphs.walk_matrix = lambda adj, length: real(adj, max(length - 1, 0))


def bound_without_self_loops():  # eq-wi-upper: the recursion and walks on A instead of A + I
    real = separation.neighbourhoods
    separation.neighbourhoods = lambda adj: [s - {i} for i, s in enumerate(real(adj))]


def wis_two_degree_coefficient():  # eq-wi-two: 2 deg instead of 3 deg in the local formula
    cls = getattr(graphs, "_IncrementalWIS", None)
    if cls is None:
        raise RuntimeError("graphs._IncrementalWIS is gone: update this planted bug")
    cls._value = lambda self, d, tri: d + (d > 0) if self.depth == 2 else 2 * tri + 2 * d + (d > 0)


BUGS = {
    "one-sided boundary": (one_sided_boundary, EARLY),
    "walk length L-2": (walk_length_off_by_one, EARLY),
    "separation bound without self-loops": (bound_without_self_loops, EARLY),
    "eq-wi-two with 2 deg": (wis_two_degree_coefficient, WIS),
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BUGS)
    sys.exit(report("walk-index", {k: BUGS[k] for k in names}))
