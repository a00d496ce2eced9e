"""Planted bugs for the chapter 'Can any generalization bound be tight?' (fantastic-measures).

Each bug monkeypatches one function of `theorylab.linear.gf2` with a plausible wrong version, runs the
chapter's code cells (fast profile, base seed 0) and prints the claims that fail. A bug that makes the
chapter stop with an exception (the experiment asserts that the ERM fits its sample) counts as caught
by that assertion. Exit status 1 if a bug slips through. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/fantastic-measures.py [substring of a bug label]
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.linear import gf2  # noqa: E402

SLUG, TIMEOUT_S = "fantastic-measures", 300
ORIG = {name: getattr(gf2, name) for name in ("rank", "row_reduce", "rank_distribution", "p_full_column_rank",
                                               "twin", "null_space", "population_error", "solve")}


def _real_rank():                     # elimination over the reals instead of GF(2)
    gf2.rank = lambda a: np.linalg.matrix_rank(np.asarray(a, float))


def _real_elimination():              # row operations by subtraction, no reduction mod 2
    def row_reduce(a, n_cols=None):
        a = np.asarray(a, float).copy()
        shape, (m, n) = a.shape[:-2], a.shape[-2:]
        n_cols = n if n_cols is None else n_cols
        a = a.reshape(-1, m, n)
        b = np.arange(a.shape[0])
        used = np.zeros((a.shape[0], m), bool)
        piv = np.full((a.shape[0], n_cols), -1)
        for j in range(n_cols):
            nz = np.abs(a[:, :, j]) > 1e-9
            cand = nz & ~used
            has = cand.any(1)
            p = cand.argmax(1)
            prow = a[b, p] / np.where(has, a[b, p, j], 1.0)[:, None]
            hit = nz.copy()
            hit[b, p] = False
            hit &= has[:, None]
            a -= np.where(hit, a[:, :, j], 0.0)[:, :, None] * prow[:, None, :]
            used[b[has], p[has]] = True
            piv[has, j] = p[has]
        return (np.abs(np.rint(a)) % 2).astype(np.uint8).reshape(*shape, m, n), piv.reshape(*shape, n_cols), \
            used.sum(1).reshape(shape)
    gf2.row_reduce = row_reduce


def _rank_plus_one():                 # rank off by one (counts the augmented column, say)
    gf2.rank = lambda a: ORIG["rank"](a) + 1


def _rank_law_shifted():              # P(rank = k) reported at index k - 1
    gf2.rank_distribution = lambda m, d: np.append(ORIG["rank_distribution"](m, d)[1:], 0.0)


def _rank_law_denominator():          # |GL_r| replaced by 2^(r^2): forgets the - 2^i
    from fractions import Fraction

    def law(m, d):
        out = []
        for r in range(min(m, d) + 1):
            count = 1
            for i in range(r):
                count *= (2**m - 2**i) * (2**d - 2**i)
            out.append(float(Fraction(count, 2 ** (r * r) * 2 ** (m * d))))
        return np.array(out) / sum(out)
    gf2.rank_distribution = law


def _full_rank_product_off_by_one():  # prod over i <= d instead of i < d
    gf2.p_full_column_rank = lambda m, d: float(np.prod([1 - 2.0 ** (i - m) for i in range(d + 1)])) if m >= d else 0.0


def _twin_not_consistent():           # twin = h with one bit flipped, not h + a kernel vector
    def twin(x, h):
        if ORIG["twin"](x, h) is None:
            return None
        e = np.zeros_like(h)
        e[0] = 1
        return h ^ e
    gf2.twin = twin


def _null_space_unit_vectors():       # free coordinate set, pivot coordinates forgotten
    def null_space(x):
        _, piv, _ = ORIG["row_reduce"](x)
        return np.eye(piv.shape[-1], dtype=np.uint8)[piv < 0]
    gf2.null_space = null_space


def _error_not_halved():              # a wrong parity is wrong everywhere (error 1, not 1/2)
    gf2.population_error = lambda h, f: 1.0 * (np.asarray(h) != np.asarray(f)).any(-1)


def _error_all_bits():                # referee: "wrong" read as "differs in every coordinate" (.all, not .any)
    gf2.population_error = lambda h, f: 0.5 * (np.asarray(h) != np.asarray(f)).all(-1)


def _rank_law_rows_twice():           # referee: (2^m - 2^i)^2 in the count (rows used for both factors), renormalised
    from fractions import Fraction

    def law(m, d):
        out = []
        for r in range(min(m, d) + 1):
            count, den = 1, 1
            for i in range(r):
                count *= (2**m - 2**i) ** 2
                den *= 2**r - 2**i
            out.append(float(Fraction(count, den * 2 ** (m * d))))
        return np.array(out) / sum(out)
    gf2.rank_distribution = law


def _pivot_reuses_rows():             # referee: pivot search forgets to exclude rows already used as pivots
    def row_reduce(a, n_cols=None):
        a = gf2._bits(a).copy()
        shape, (m, n) = a.shape[:-2], a.shape[-2:]
        n_cols = n if n_cols is None else n_cols
        a = a.reshape(-1, m, n)
        b = np.arange(a.shape[0])
        used = np.zeros((a.shape[0], m), bool)
        piv = np.full((a.shape[0], n_cols), -1)
        for j in range(n_cols):
            ones = a[:, :, j] == 1
            has = ones.any(1)
            p = ones.argmax(1)
            prow = a[b, p]
            hit = ones.copy()
            hit[b, p] = False
            hit &= has[:, None]
            a ^= hit[:, :, None].astype(np.uint8) * prow[:, None, :]
            used[b[has], p[has]] = True
            piv[has, j] = p[has]
        return a.reshape(*shape, m, n), piv.reshape(*shape, n_cols), used.sum(1).reshape(shape)
    gf2.row_reduce = row_reduce


def _free_coordinates_one():          # referee: ERM sets free coordinates to 1 without back-substitution
    def solve(x, y):
        w, ok = ORIG["solve"](x, y)
        _, piv, _ = ORIG["row_reduce"](x)
        return np.where(piv < 0, 1, w).astype(np.uint8), ok
    gf2.solve = solve


def _erm_free_coordinates_one_consistent():   # referee: a consistent ERM that is not 0 on y = 0
    def solve(x, y):                           # free coordinates 1, pivots back-substituted (still fits S)
        w, ok = ORIG["solve"](x, y)
        red, piv, _ = ORIG["row_reduce"](x)
        free = piv < 0
        rows = np.take_along_axis(red, np.maximum(piv, 0)[..., None], axis=-2)      # (..., d, d): row of pivot j
        s = (rows.astype(np.int64) * free[..., None, :]).sum(-1) % 2
        return w ^ np.where(free, 1, np.where(piv >= 0, s, 0)).astype(np.uint8), ok
    gf2.solve = solve


BUGS = {
    "rank over the reals (np.linalg.matrix_rank)": _real_rank,
    "elimination over the reals (subtraction, not XOR)": _real_elimination,
    "rank off by one (+1)": _rank_plus_one,
    "exact rank law shifted by one index": _rank_law_shifted,
    "exact rank law: |GL_r| taken as 2^(r^2)": _rank_law_denominator,
    "P(rank = d) product over i <= d": _full_rank_product_off_by_one,
    "twin target not consistent with S": _twin_not_consistent,
    "null space: unit vectors on free coordinates": _null_space_unit_vectors,
    "population error of a wrong parity 1, not 1/2": _error_not_halved,
    "population error: .all instead of .any (referee)": _error_all_bits,
    "rank law: (2^m - 2^i)^2 instead of (2^m-2^i)(2^d-2^i) (referee)": _rank_law_rows_twice,
    "elimination: pivot rows reused (referee)": _pivot_reuses_rows,
    "ERM: free coordinates set to 1 (referee)": _free_coordinates_one,
    "ERM: consistent, free coordinates 1 and back-substituted (referee)": _erm_free_coordinates_one_consistent,
}


def _alarm(*_):
    raise TimeoutError(f"no result within {TIMEOUT_S} s")


def main() -> int:
    signal.signal(signal.SIGALRM, _alarm)
    clean = _runner.run(SLUG, None)
    assert all(clean.values()), f"the unpatched chapter must pass: {clean}"
    slipped = 0
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    for label, patch in BUGS.items():
        if only not in label:
            continue
        signal.alarm(TIMEOUT_S)
        try:
            res = _runner.run(SLUG, patch)
            caught = ", ".join(k for k, ok in res.items() if clean.get(k) and not ok)
        except TimeoutError as err:
            caught = f"TIMEOUT ({err})"
        except Exception as err:      # the chapter stopped: an assertion or a crash in a cell
            caught = f"the chapter's own check ({type(err).__name__}: {str(err)[:60]})"
        finally:
            signal.alarm(0)
        slipped += not caught
        print(f"{label:52s} caught by: {caught or 'NOTHING'}", flush=True)
    return int(slipped > 0)


if __name__ == "__main__":
    sys.exit(main())
