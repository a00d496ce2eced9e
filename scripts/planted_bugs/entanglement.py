"""Planted bugs for the chapter ``entanglement``: each one must turn some claim red.

Run: ``PYTHONPATH=src python scripts/planted_bugs/entanglement.py [--cnn]``. Each bug monkeypatches one
library function with a plausible mistake, recomputes the quantities behind the chapter's claims
with the chapter's own bounds, and prints which claims fail. ``--cnn`` adds the bugs that need the
(slower, a few minutes) CNN experiment: the orientation no-op, caught by cnn_rearranged_orient. Exit status 1 if some bug leaves every claim green.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from theorylab import rng
from theorylab.structure import locality, rearrange, tensors, treenet

THETA = 0.5


@contextlib.contextmanager
def patched(module, name, fn):
    old = getattr(module, name)
    setattr(module, name, fn)
    try:
        yield
    finally:
        setattr(module, name, old)


def exact_claims(seed: int = 0) -> dict[str, bool]:
    """The chapter's exact claims (first two cells of the derivation), True = passes."""
    gen = rng.numpy(seed, "exactness")
    x8, y8 = gen.random((40, 8)), gen.choice([-1.0, 1.0], size=40)
    d8 = tensors.data_tensor(x8, y8, theta=THETA)
    parts8 = [[0], [0, 1], [0, 1, 2, 3], [2, 5, 7], [1, 3, 4, 6, 7]]
    gram = max(abs(tensors.data_entanglement(x8, y8, k, theta=THETA) - tensors.entanglement(d8, k)) for k in parts8)
    d12 = tensors.data_tensor(x8[:12], y8[:12], theta=THETA)
    gram = max(gram, *(abs(tensors.data_entanglement(x8[:12], y8[:12], k, theta=THETA)
                           - tensors.entanglement(d12, k)) for k in parts8))
    for xm, ym, dm in ((x8, y8, d8), (x8[:12], y8[:12], d12)):
        for lev, qes in tensors.canonical_entanglement(xm, ym, levels=(1, 2, 3), theta=THETA).items():
            ks = tensors.canonical_partitions(8, levels=[lev])[lev]
            gram = max(gram, *(abs(q - tensors.entanglement(dm, k)) for q, k in zip(qes, ks)))
    excess = max(tensors.entanglement(treenet.tree_tensor(8, r, gen=gen), k) - np.log(r)
                 for r in (1, 2, 3, 4) for ks in tensors.canonical_partitions(8).values() for k in ks)
    out = {"gram_vs_explicit": gram <= 1e-9, "tree_qe_excess": excess <= 1e-9}
    import pandas as pd
    rows = []
    for s in (seed, seed + 1, seed + 2):
        xs, ys = locality.planted_chains(512, 8, gen=rng.numpy(s, "bounds"), amplitude=1.5)
        rows.append(treenet.width_bounds(tensors.data_tensor(tensors.scale_unit(xs), ys, theta=THETA), range(1, 17)))
    b = pd.concat(rows)
    out["trace_distance_step"] = b.trace_step.min() >= -1e-12
    out["fannes_step"] = b.fannes_step.min() >= -1e-12
    out["necessity_vs_hsvd"] = (b.hsvd - b.lower_qe).min() >= -1e-12
    out["eckart_young_lower"] = (b.hsvd_error - b.tail_max).min() >= -1e-12
    out["grasedyck_upper"] = (b.tail_sum - b.hsvd_error).min() >= -1e-12
    out["hsvd_rank_excess"] = b.rank_excess.max() <= 0
    return out


# ----------------------------------------------------------------------------- the bugs
def _truncation_skip_leaves(tensor, width):
    """Hierarchical SVD that forgets the leaf level (the bug sandwich_slack could not see)."""
    a = np.asarray(tensor, dtype=np.float64)
    parts = tensors.canonical_partitions(a.ndim)
    out = a
    for lev in sorted(parts)[:-1]:
        for k in parts[lev]:
            rest = np.setdiff1d(np.arange(a.ndim), k)
            u = np.linalg.svd(np.transpose(a, np.concatenate([k, rest])).reshape(2 ** len(k), -1),
                              full_matrices=False)[0][:, :width]
            out = treenet._project(out, k, u)
    return out


_orig_trunc = treenet.hierarchical_truncation


def _truncation_off_by_one(tensor, width):
    """Keeps R + 1 singular vectors per node."""
    return _orig_trunc(tensor, width + 1)


def _truncation_bottom_up(tensor, width):
    """Projects with the singular vectors of the *current* tensor, from the leaves up (a different
    algorithm that people write by mistake; Grasedyck's bound is for the top-down, original-SVD one)."""
    a = np.asarray(tensor, dtype=np.float64)
    parts = tensors.canonical_partitions(a.ndim)
    out = a
    for lev in sorted(parts, reverse=True):
        for k in parts[lev][:1]:  # and only the first node of each level
            rest = np.setdiff1d(np.arange(a.ndim), k)
            u = np.linalg.svd(np.transpose(out, np.concatenate([k, rest])).reshape(2 ** len(k), -1),
                              full_matrices=False)[0][:, :width]
            out = treenet._project(out, k, u)
    return out


_orig_qe_from_factor = tensors._qe_from_factor


def _labels_on_both(b, y, g_rest):
    """The pitfall of the text: labels on both Gram matrices (cancels them)."""
    return _orig_qe_from_factor(b, y, (y[:, None] * g_rest) * y[None, :])


_orig_factor = tensors._factor


def _factor_no_sqrt(g):
    """B B^T = G with the eigenvalues instead of their square roots."""
    w, u = np.linalg.eigh(g)
    keep = w > w.max() * g.shape[0] * np.finfo(float).eps
    return u[:, keep] * w[keep]


_orig_tree = treenet.tree_tensor


def _tree_wider(n_features, width, *, gen, leaf_dim=2):
    """A tree whose inner nodes are one wider than R (an off-by-one in the builder)."""
    return _orig_tree(n_features, width + 1, gen=gen, leaf_dim=leaf_dim)



def _binary_entropy_dropped(t):
    """Necessity margin without the H_b term."""
    return 0.0 * t


EXACT_BUGS = [
    ("Gram route: labels on both Gram matrices", tensors, "_qe_from_factor", _labels_on_both),
    ("Gram route: B = U diag(w) instead of U diag(sqrt w)", tensors, "_factor", _factor_no_sqrt),
    ("tree builder: inner width R + 1", treenet, "tree_tensor", _tree_wider),
    ("HSVD: leaf level skipped", treenet, "hierarchical_truncation", _truncation_skip_leaves),
    ("HSVD: R + 1 singular vectors kept", treenet, "hierarchical_truncation", _truncation_off_by_one),
    ("HSVD: bottom-up on the current tensor, first node only", treenet, "hierarchical_truncation",
     _truncation_bottom_up),
    ("necessity margin: H_b(eps) dropped", treenet, "_binary_entropy", _binary_entropy_dropped),
]


def _no_orient(w, left, right):
    return left + right


_orig_feature_order = rearrange.feature_order


def _inverse_order(x, **kw):
    """Returns the inverse permutation (where each feature goes, not which feature comes)."""
    return np.argsort(_orig_feature_order(x, **kw))


_orig_order = rearrange._order


def _interleaved(w, nodes, branching, gen, n_starts, orient):
    """Reads the children by zipping them instead of concatenating (the DFS order broken)."""
    if len(nodes) <= branching + 1:
        return list(nodes)
    nodes = np.asarray(nodes)
    mask = rearrange._bisect(w[np.ix_(nodes, nodes)], gen, n_starts)
    kids = [_interleaved(w, g, branching, gen, n_starts, orient) for g in (nodes[mask], nodes[~mask])]
    return [i for pair in zip(*kids) for i in pair]


ORDER_BUGS = [
    ("rearrangement: inverse permutation returned", rearrange, "feature_order", _inverse_order),
    ("rearrangement: children interleaved, not concatenated", rearrange, "_order", _interleaved),
]

CNN_BUGS = [
    ("rearrangement: orientation step does nothing", rearrange, "_orient", _no_orient),
]


def order_claims(base: int = 0) -> dict[str, bool]:
    """qe_rearranged_gap and se_ratio without the CNN (a few seconds)."""
    cfg = locality.ChainConfig()
    gap, ratio = 0.0, 0.0
    for seed in (base, base + 1, base + 2):
        gen = rng.numpy(seed, "chains")
        x, y = locality.planted_chains(cfg.n_train + cfg.n_test, cfg.n_features, gen=gen, ar=cfg.ar,
                                       template=cfg.template, amplitude=cfg.amplitude)
        xtr = x[: cfg.n_train]
        orders = locality.chain_orders(xtr, cfg, gen)
        sub = locality.balanced_subset(y[: cfg.n_train], cfg.n_entangle)
        xs = tensors.scale_unit(xtr)[sub]
        qe = {k: tensors.average_entanglement(xs[:, orders[k]], y[sub], levels=cfg.levels, theta=cfg.theta)
              for k in ("swaps 0", "rearranged")}
        se = {k: rearrange.canonical_surrogate(xtr[:, orders[k]], levels=cfg.levels) for k in ("swaps 0", "rearranged")}
        gap = max(gap, abs(qe["rearranged"] - qe["swaps 0"]))
        ratio = max(ratio, se["rearranged"] / se["swaps 0"])
    return {"qe_rearranged_gap": gap <= 1e-9, "se_ratio": ratio <= 1.05}


def cnn_claims(base: int = 0) -> dict[str, bool]:
    cfg = locality.ChainConfig()
    seeds = [base, base + 1, base + 2]
    df = locality.chain_conditions(seeds, cfg, base_seed=base, log=lambda s: None)
    p = {v: df.pivot(index="seed", columns="condition", values=v) for v in ("qe", "cnn")}
    full = f"swaps {max(cfg.swaps)}"
    return {
        "cnn_rearranged_orient": p["cnn"]["rearranged+orient"].mean() >= 0.95,
        "cnn_rearranged_gain": (p["cnn"]["rearranged"] - p["cnn"][full]).mean() >= 0.06,
        "qe_rearranged_gap": (p["qe"]["rearranged"] - p["qe"]["swaps 0"]).abs().max() <= 1e-9,
    }


def main() -> int:
    import torch

    torch.set_num_threads(1)
    base = exact_claims()
    assert all(base.values()), f"unpatched claims must pass: {base}"
    missed = []
    for label, module, name, fn in EXACT_BUGS:
        try:
            with patched(module, name, fn):
                res = exact_claims()
            failed = [k for k, ok in res.items() if not ok]
        except Exception as err:  # a crash is a red claim too
            failed = [f"error: {type(err).__name__}"]
        print(f"{label:<60} caught by: {', '.join(failed) or 'NOTHING'}")
        if not failed:
            missed.append(label)
    assert all(order_claims().values())
    for label, module, name, fn in ORDER_BUGS:
        with patched(module, name, fn):
            res = order_claims()
        failed = [k for k, ok in res.items() if not ok]
        print(f"{label:<60} caught by: {', '.join(failed) or 'NOTHING'}")
        if not failed:
            missed.append(label)
    if "--cnn" in sys.argv:
        for label, module, name, fn in CNN_BUGS:
            with patched(module, name, fn):
                res = cnn_claims()
            failed = [k for k, ok in res.items() if not ok]
            print(f"{label:<60} caught by: {', '.join(failed) or 'NOTHING'}")
            if not failed:
                missed.append(label)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
