"""Planted bugs for the chapter `hp-tuning-complexity`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/hp-tuning-complexity.py [bug ...] [--timeout S]``.
Each bug monkeypatches one function of ``theorylab.linear.tuning`` with a plausible mistake, then the
chapter's code cells run (fast profile, seed 0) in a fresh process under a time-out, and the claims
that held without the bug but fail with it are printed. Bugs in the dual utility stop after
Experiment 1 (its identity claims); the others run the whole chapter. Exit status 1 if a bug slips.

Last run (3 December 2026, seed 0, fast profile, loaded two-core machine; every bug ran to the end,
none timed out). Every bug is caught:

    asymptotic_gap_missing_half     c_two_routes (gap_ratio alone catches it at 19 of 20 calibration seeds)
    asymptotic_gap_sd_for_var       c_two_routes, gap_ratio
    kernel_ridge_missing_n          extrema_mean, kernel_vs_primal
    derivative_missing_two          derivative_vs_fd, extrema_more_with_less_ridge, extrema_routes_agree
    extrema_diff_of_derivative      extrema_routes_agree
    sup_deviation_variance_not_sd   dev_ratio
    sup_deviation_one_sided         dev_ratio
    erm_deviation_one_sided         dev_ratio

Planted by the referee (run 3 December 2026, seed 0, fast profile):

    oscillation_bound_linear_kernel degree_fit (2 min(n, m): the degree count forgets that K is quadratic)
    oscillation_bound_max           degree_tight (4 max(n, m))
    kernel_cross_term_symmetrized   kernel_vs_primal (K1 taken as 2 T D^T)
    asymptotic_gap_half_twice       c_two_routes, gap_ratio (c halved)

Not planted: a wrong constant in the uniform bound (uniform_deviation_bound); it sits two to four
orders of magnitude above the measurements, so a factor 2 in it cannot be caught by this experiment
(the chapter says the bound is loose). The oscillation count is now checked directly (degree_fit,
degree_tight: u_x det(K + n lambda I)^2 is a polynomial of degree exactly 4 min(n, m) on small tasks).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "scripts" / "planted_bugs")]

EXP1 = 'ledger.at_most("derivative_vs_fd"'       # the identity cell of Experiment 1
DEGREE = 'ledger.at_least("degree_tight"'         # the degree check, last cell of Experiment 1

BUGS: dict[str, tuple[str, str | None]] = {
    # c of eq-hp-fast without the 2 of the quadratic expansion: Var u' / U''
    "asymptotic_gap_missing_half": ("""
_old = tuning.asymptotic_gap
tuning.asymptotic_gap = lambda u, du, a: 2 * _old(u, du, a)
""", None),
    # standard deviation where the variance belongs
    "asymptotic_gap_sd_for_var": ("""
import numpy as np
_old = tuning.asymptotic_gap
tuning.asymptotic_gap = lambda u, du, a: _old(u, du, a) / np.var(du, ddof=1) * np.std(du, ddof=1)
""", None),
    # Gaussian process drawn with the covariance's eigenvalues, not their square roots
    "sup_deviation_variance_not_sd": ("""
import numpy as np
def _sup(u_pop, n_tasks, n_heldout, draws, gen):
    vals, vecs = np.linalg.eigh(np.cov(u_pop, rowvar=False))
    root = vecs * np.clip(vals, 0.0, None)                          # BUG: no square root
    e_sup = np.abs(gen.standard_normal((draws, vals.size)) @ root.T).max(1).mean()
    return e_sup * np.sqrt(1.0 / np.asarray(n_tasks, float) + 1.0 / n_heldout)
tuning.sup_deviation = _sup
""", None),
    # one-sided supremum: max of G instead of max of |G|
    "sup_deviation_one_sided": ("""
import numpy as np
def _sup(u_pop, n_tasks, n_heldout, draws, gen):
    vals, vecs = np.linalg.eigh(np.cov(u_pop, rowvar=False))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    e_sup = (gen.standard_normal((draws, vals.size)) @ root.T).max(1).mean()   # BUG: no abs
    return e_sup * np.sqrt(1.0 / np.asarray(n_tasks, float) + 1.0 / n_heldout)
tuning.sup_deviation = _sup
""", None),
    # the held-out tasks' own error forgotten, and the deviation taken one-sided in erm_gaps
    "erm_deviation_one_sided": ("""
import numpy as np
_old = tuning.erm_gaps
def _erm(u_pool, u_pop, n_tasks, resamples, gen):
    idx = np.argsort(gen.random((resamples, u_pool.shape[0])), axis=1)[:, :n_tasks]
    emp, pop = u_pool[idx].mean(1), u_pop.mean(0)
    return pop[emp.argmin(1)] - pop.min(), (emp - pop).max(1)                    # BUG: no abs
tuning.erm_gaps = _erm
""", None),
    # ridge in the kernel form without the factor n: (K + lambda I) instead of (K + n lambda I)
    "kernel_ridge_missing_n": ("""
_old = tuning.dual_utility
def _du(tasks, alphas, ridge, *, derivative=False, chunk=512):
    return _old(tasks, alphas, ridge / tasks.y.shape[1], derivative=derivative, chunk=chunk)
tuning.dual_utility = _du
""", EXP1),
    # derivative of K(alpha) = K0 + a K1 + a^2 K2 taken as K1 + a K2 (the 2 of d(a^2)/da lost)
    "derivative_missing_two": ("""
import numpy as np
def _du(tasks, alphas, ridge, *, derivative=False, chunk=512):
    alphas = np.asarray(alphas, float)
    t, n = tasks.y.shape
    out, der = np.empty((t, alphas.size)), np.empty((t, alphas.size))
    tr, dr = tuning.feature_parts(tasks.x, tasks.w, tasks.b)
    tv, dv = tuning.feature_parts(tasks.x_val, tasks.w, tasks.b)
    tt = lambda p, q: p @ np.swapaxes(q, -1, -2)
    k0, k1, k2 = tt(tr, tr), tt(tr, dr) + tt(dr, tr), tt(dr, dr)
    v0, v1, v2 = tt(tv, tr), tt(tv, dr) + tt(dv, tr), tt(dv, dr)
    y, yv = tasks.y[..., None], tasks.y_val
    for g, a in enumerate(alphas):
        kk = k0 + a * k1 + a * a * k2 + n * ridge * np.eye(n)
        c = np.linalg.solve(kk, y)
        resid = ((v0 + a * v1 + a * a * v2) @ c)[..., 0] - yv
        out[:, g] = (resid ** 2).mean(-1)
        dc = -np.linalg.solve(kk, (k1 + a * k2) @ c)                        # BUG: 2 a K2 -> a K2
        df = ((v1 + 2 * a * v2) @ c + (v0 + a * v1 + a * a * v2) @ dc)[..., 0]
        der[:, g] = 2 * (resid * df).mean(-1)
    return (out, der) if derivative else out
tuning.dual_utility = _du
""", EXP1),
    # differentiated once too often: the slope taken as diff(u') when u' is given (inflection points)
    "extrema_diff_of_derivative": ("""
import numpy as np
def _ext(values, *, derivative=None):
    slope = np.diff(values if derivative is None else derivative, axis=-1)   # BUG: diff of u'
    return tuning.count_crossings(slope, np.zeros(slope.shape[:-1]))
tuning.count_extrema = _ext
""", EXP1),
    # --- planted by the referee ---
    # degree count of thm-hp-rational forgetting that K(alpha) is quadratic: 2 min(n, m) instead of 4 min(n, m)
    "oscillation_bound_linear_kernel": ("""
tuning.oscillation_bound = lambda n, m: 2 * min(n, m)
tuning.extrema_bound = lambda n, m: 2 * tuning.oscillation_bound(n, m) - 2
""", DEGREE),
    # degree count with the wrong side of the kernel/primal choice: 4 max(n, m)
    "oscillation_bound_max": ("""
tuning.oscillation_bound = lambda n, m: 4 * max(n, m)
""", DEGREE),
    # cross term of K(alpha) taken as 2 T D^T, as if T D^T were symmetric (it is not: only T D^T + D T^T is)
    "kernel_cross_term_symmetrized": ("""
import numpy as np
def _du(tasks, alphas, ridge, *, derivative=False, chunk=512):
    alphas = np.asarray(alphas, float)
    t, n = tasks.y.shape
    out, der = np.empty((t, alphas.size)), np.empty((t, alphas.size))
    tr, dr = tuning.feature_parts(tasks.x, tasks.w, tasks.b)
    tv, dv = tuning.feature_parts(tasks.x_val, tasks.w, tasks.b)
    tt = lambda p, q: p @ np.swapaxes(q, -1, -2)
    k0, k1, k2 = tt(tr, tr), 2 * tt(tr, dr), tt(dr, dr)                   # BUG: 2 T D^T
    v0, v1, v2 = tt(tv, tr), tt(tv, dr) + tt(dv, tr), tt(dv, dr)
    y, yv = tasks.y[..., None], tasks.y_val
    for g, a in enumerate(alphas):
        kk = k0 + a * k1 + a * a * k2 + n * ridge * np.eye(n)
        c = np.linalg.solve(kk, y)
        resid = ((v0 + a * v1 + a * a * v2) @ c)[..., 0] - yv
        out[:, g] = (resid ** 2).mean(-1)
        dc = -np.linalg.solve(kk, (k1 + 2 * a * k2) @ c)
        df = ((v1 + 2 * a * v2) @ c + (v0 + a * v1 + a * a * v2) @ dc)[..., 0]
        der[:, g] = 2 * (resid * df).mean(-1)
    return (out, der) if derivative else out
tuning.dual_utility = _du
""", EXP1),
    # the 1/2 of the quadratic expansion applied twice (gap = U'' (da)^2 / 4): c halved
    "asymptotic_gap_half_twice": ("""
_old = tuning.asymptotic_gap
tuning.asymptotic_gap = lambda u, du, a: _old(u, du, a) / 2
""", None),
}


def _one(bug: str | None, stop_after: str | None) -> dict[str, bool]:
    import _runner
    from theorylab.linear import tuning

    def patch():
        exec(BUGS[bug][0], {"tuning": tuning})

    return _runner.run("hp-tuning-complexity", patch if bug else None, stop_after=stop_after)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("bugs", nargs="*", default=list(BUGS))
    p.add_argument("--timeout", type=float, default=400.0)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--stop", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(_one(args.child or None, args.stop or None)))
        return 0

    def launch(bug, stop):
        try:
            out = subprocess.run([sys.executable, __file__, "--child", bug, "--stop", stop or ""], capture_output=True,
                                 text=True, timeout=args.timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return None, "TIMED OUT"
        if out.returncode:
            return None, "crashed: " + (out.stderr.strip().splitlines() or ["?"])[-1]
        return json.loads(out.stdout.strip().splitlines()[-1]), ""

    clean_runs: dict = {}
    slipped = 0
    for bug in args.bugs:
        stop = BUGS[bug][1]
        if stop not in clean_runs:
            clean, err = launch("", stop)
            assert clean is not None and all(clean.values()), f"the unpatched chapter must pass: {err or clean}"
            clean_runs[stop] = clean
        clean = clean_runs[stop]
        res, err = launch(bug, stop)
        if res is None:
            print(f"{bug:32s} {err} (no claim catches it)", flush=True)
            slipped += 1
            continue
        caught = sorted(k for k, ok in res.items() if clean.get(k) and not ok)
        slipped += not caught
        print(f"{bug:32s} {'caught by ' + ', '.join(caught) if caught else 'NOT CAUGHT'}", flush=True)
    return int(slipped > 0)


if __name__ == "__main__":
    sys.exit(main())
