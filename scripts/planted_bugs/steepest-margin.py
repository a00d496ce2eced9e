"""Planted bugs for the chapter `steepest-margin`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/steepest-margin.py [bug ...] [--seed S]``.
Each bug monkeypatches one function of ``theorylab.optim`` (steepest descent, the max-margin
solvers, the margin, Adam), then runs the chapter's code cells (fast profile) in a fresh process
and prints the claims that failed. A bug that leaves every claim green is reported as MISSED,
with the unit test that catches it where there is one; the exit status is 1 if any bug is missed
and has no catching test listed. Every run has a time-out (``--timeout``, default 240 s): a bug that
makes the chapter hang is reported as TIMED OUT, which no claim catches (the build's own time-out
would stop the chapter).

Last run (3 December 2026, seed 3, fast profile; every bug ran to the end, 15-51 s each on a loaded
two-core machine, none timed out):

    sign_uses_l1_direction       own_margin_ratio_sign, other_margin_ratio_max, cos_own_min, cos_gap_min,
                                 net_fraction_interpolated, net_sign_over_gd_linf, float32_naive_gradient_norm
    cd_argmax_signed             own_margin_ratio_cd, cos_own_min, cos_gap_min, loss_bound_slack,
                                 net_fraction_interpolated, net_cd_over_gd_l1
    gd_unnormalized              loss_bound_slack, net_smoothed_margin_min_change
    linf_lp_nonnegative_box      no claim: the chapter crashes (ValueError, "not linearly separable")
    l1_lp_box_instead_of_sum     other_margin_ratio_max, solver_not_beaten, cos_own_min, cos_gap_min,
                                 adam_other_ratio_max
    qp_no_polish_loose_tol       solver_not_beaten (51 s; it hung in an earlier session, now under a time-out)
    margin_always_l2_normalized  other_margin_ratio_max, solver_not_beaten, loss_bound_slack, adam_other_ratio_max
    log_loss_float32             no claim: the chapter crashes (KeyError in a table of the runs)
    adam_betas_swapped           adam_linf_ratio, adam_slow_rate_over_rmax, net_smoothed_margin_min_change,
                                 net_margin_growth_min
    adam_no_bias_correction      adam_slow_rate_over_rmax
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "notebooks" / "steepest-margin.md"

# name -> (patch run after the chapter's imports, unit test that also catches it or "")
BUGS: dict[str, tuple[str, str]] = {
    # steepest directions ------------------------------------------------------------------
    "sign_uses_l1_direction": ("""
_d = sd.direction
sd.direction = lambda g, norm, _d=_d: _d(g, "l1") if norm == "linf" else _d(g, norm)  # dual mixed up
""", "tests/test_steepest.py::test_direction_is_the_steepest_unit_vector"),
    "cd_argmax_signed": ("""
def _cd(g, norm, _d=sd.direction):
    if norm != "l1":
        return _d(g, norm)
    j = np.argmax(g, axis=-1)[..., None]                      # forgot the absolute value
    u = np.zeros_like(g)
    np.put_along_axis(u, j, np.sign(np.take_along_axis(g, j, axis=-1)), axis=-1)
    return u
sd.direction = _cd
""", "tests/test_steepest.py::test_direction_is_the_steepest_unit_vector"),
    "gd_unnormalized": ("""
_d = sd.direction
sd.direction = lambda g, norm, _d=_d: g if norm == "l2" else _d(g, norm)  # forgot to normalize
""", "tests/test_steepest.py::test_direction_is_the_steepest_unit_vector"),
    # max-margin programs ------------------------------------------------------------------
    "linf_lp_nonnegative_box": ("""
from scipy.optimize import linprog as _lp
def _lp_bad(c, A_ub=None, b_ub=None, bounds=None, method=None):
    if bounds is not None and bounds[0] == (-1, 1):
        bounds = [(0, 1)] * (len(bounds) - 1) + [bounds[-1]]  # box [0, 1] instead of [-1, 1]
    return _lp(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method=method)
mg.linprog = _lp_bad
""", "tests/test_margin.py::test_solver_matches_brute_force_in_2d"),
    "l1_lp_box_instead_of_sum": ("""
_lp_orig = mg._max_margin_lp
mg._max_margin_lp = lambda x, y, norm: _lp_orig(x, y, "linf")  # l1 ball replaced by the cube
""", "tests/test_margin.py::test_solver_matches_brute_force_in_2d"),
    "qp_no_polish_loose_tol": ("""
from scipy.optimize import minimize as _mn
def _mn_bad(*a, **k):
    k["options"] = dict(maxiter=20)                           # dual QP stopped far too early
    return _mn(*a, **k)
mg.minimize = _mn_bad
""", "tests/test_margin.py::test_solver_matches_brute_force_in_2d"),
    # margins ------------------------------------------------------------------------------
    "margin_always_l2_normalized": ("""
_n = mg.norm_of
def _margin(w, x, y, norm):
    x, y = mg._check_data(x, y)
    w = np.asarray(w, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((w @ x.T) * y).min(axis=-1) / _n(w, "l2")      # wrong norm in the denominator
mg.margin = _margin
""", "tests/test_margin.py::test_solver_matches_brute_force_in_2d"),
    "log_loss_float32": ("""
_ll = sd.log_loss_linear
def _ll32(w, x, y):
    m = (y * (x @ w[:, :, None])[:, :, 0]).astype(np.float32)
    e = np.exp(-m)                                            # no log domain, float32
    total = e.sum(-1)
    p = e / total[:, None]
    return np.log(total).astype(np.float64), -((p * y)[:, None, :] @ x)[:, 0, :].astype(np.float64)
sd.log_loss_linear = _ll32
""", "tests/test_steepest.py::test_linear_log_loss_and_gradient_match_autograd"),
    # Adam ---------------------------------------------------------------------------------
    "adam_betas_swapped": ("""
_ad = sd._adam_direction
sd._adam_direction = lambda g, state, t, betas, eps, _ad=_ad: _ad(g, state, t, betas[::-1], eps)
""", ""),
    "adam_no_bias_correction": ("""
def _ad(g, state, t, betas, eps):
    b1, b2 = betas
    state["m"] = b1 * state["m"] + (1 - b1) * g
    state["v"] = b2 * state["v"] + (1 - b2) * g * g
    return state["m"] / (np.sqrt(state["v"]) + eps)           # no bias correction
sd._adam_direction = _ad
""", "tests/test_steepest.py::test_adam_with_zero_eps_first_step_is_sign_descent"),
}


def chapter_cells() -> list[str]:
    nb = jupytext.read(CHAPTER)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def program(patch: str, seed: int) -> str:
    cells = chapter_cells()
    params = cells[0] + f"\nseed = {seed}\n"
    body = "\n\n".join(cells[2:-1])  # everything after the imports but the final ledger.check()
    report = ("import json as _json\n"
              "print('RESULT ' + _json.dumps([c.name for c in ledger.failed]))\n")
    return "\n\n".join([params, cells[1], patch, body, report])


TIMED_OUT = "<timed out>"


def run(name: str, seed: int, timeout: float = 240.0) -> list[str] | None:
    patch = BUGS[name][0] if name != "none" else ""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    try:
        proc = subprocess.run([sys.executable, "-c", program(patch, seed)], capture_output=True, text=True,
                              cwd=ROOT / "notebooks", timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return [TIMED_OUT]
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
    return ["<crashed: " + tail[0][:120] + ">"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("bugs", nargs="*", help=f"default: all of {list(BUGS)}")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per run (a hang is reported)")
    args = ap.parse_args()
    missed = 0
    baseline = run("none", args.seed, args.timeout)  # claims failing without a bug are not credited to a bug
    if any(c.startswith("<crashed") or c == TIMED_OUT for c in baseline):
        print("the chapter crashes without a bug:", baseline)
        return 2
    print(f"{'no bug (seed ' + str(args.seed) + ')':28s} "
          f"{'clean' if not baseline else 'FAILS WITHOUT A BUG: ' + ', '.join(baseline)}")
    for name in [b for b in (args.bugs or list(BUGS)) if b != "none"]:
        tic = time.perf_counter()
        failed = [c for c in run(name, args.seed, args.timeout) if c not in baseline]
        took = f"({time.perf_counter() - tic:.0f} s)"
        test = BUGS.get(name, ("", ""))[1]
        if failed == [TIMED_OUT]:
            missed += not test
            print(f"{name:28s} TIMED OUT after {args.timeout:.0f} s: no claim ran to catch it"
                  + (f" (unit test {test} catches it)" if test else ""))
        elif failed:
            print(f"{name:28s} caught by {', '.join(failed)} {took}")
        else:
            missed += not test
            print(f"{name:28s} MISSED by the chapter" + (f" (unit test {test} catches it)" if test else ""))
        sys.stdout.flush()
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
