"""Quantum entanglement of a data tensor, one call per canonical partition, at the paper's scale.

Run: PYTHONPATH=src .venv/bin/python benchmarks/entanglement_speed.py [--quick]
(or every benchmark at once: benchmarks/run.py). A reader calls ``tensors.data_entanglement``
once per canonical partition (levels 1-4: 30 partitions, M = 512 samples, N = 1024 features).
The naive route builds both Gram matrices from the features at every call (as the function did
before it kept a plan; timed on 6 of the 30 partitions, extrapolated); the batched
``canonical_entanglement`` is shown too (ratio near 1 is the goal).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from theorylab import rng
from theorylab.structure import tensors


def naive_data_entanglement(x, y, part, theta=0.085) -> float:
    """The previous route: Gram matrices from all features at every call."""
    idx = np.asarray(part)
    rest = np.setdiff1d(np.arange(x.shape[1]), idx)
    if idx.size > rest.size:
        idx, rest = rest, idx
    return tensors._qe_split(x, y, idx, None, tensors._gram(x, rest, theta), theta)


def cases(quick: bool):
    m, n = (128, 256) if quick else (512, 1024)
    gen = rng.numpy(0, "bench")
    x, y = gen.random((m, n)), np.repeat([1.0, -1.0], m // 2)
    parts = [k for ks in tensors.canonical_partitions(n, levels=(1, 2, 3, 4)).values() for k in ks]
    sub = parts[::5]

    def per_partition():
        tensors.clear_cache()
        out = [tensors.data_entanglement(x, y, k) for k in parts]
        tensors.clear_cache()
        return np.array(out)

    yield dict(name=f"data_entanglement per canonical partition ({len(parts)} calls), M={m}, N={n}: plan vs naive",
               fast=per_partition, naive=lambda: np.array([naive_data_entanglement(x, y, k) for k in sub]),
               naive_scale=len(parts) / len(sub), check=lambda f, s: np.max(np.abs(f[::5] - s)) < 1e-9,
               note=f"naive timed on {len(sub)} of {len(parts)} partitions; check: same QE to 1e-9 there")
    yield dict(name=f"same, plan vs batched canonical_entanglement (the reference, not naive)",
               fast=per_partition,
               naive=lambda: np.concatenate(list(tensors.canonical_entanglement(x, y, levels=(1, 2, 3, 4)).values())),
               check=lambda f, s: np.max(np.abs(f - s)) < 1e-9, note="ratio ~1 means the natural loop is as fast")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    sys.exit(main(sys.argv[1:], modules=[Path(__file__)]))
