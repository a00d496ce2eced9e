"""Planted bugs for the chapter `steepest-margin`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/steepest-margin.py [bug ...] [--seed S]``.
Each bug monkeypatches one function of ``theorylab.optim`` (steepest descent, the max-margin
solvers, the margin, Adam), then runs the chapter's code cells (fast profile) in a fresh process
and prints the claims that failed. A bug that leaves every claim green is reported as MISSED,
with the unit test that catches it where there is one; the exit status is 1 if any bug is missed
and has no catching test listed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def run(name: str, seed: int) -> list[str] | None:
    patch = BUGS[name][0] if name != "none" else ""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", program(patch, seed)], capture_output=True, text=True,
                          cwd=ROOT / "notebooks", timeout=900, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
    return ["<crashed: " + tail[0][:120] + ">"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("bugs", nargs="*", help=f"default: all of {list(BUGS)}")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    missed = 0
    baseline = run("none", args.seed)  # claims failing without a bug are not credited to a bug
    if any(c.startswith("<crashed") for c in baseline):
        print("the chapter crashes without a bug:", baseline)
        return 2
    print(f"{'no bug (seed ' + str(args.seed) + ')':28s} "
          f"{'clean' if not baseline else 'FAILS WITHOUT A BUG: ' + ', '.join(baseline)}")
    for name in [b for b in (args.bugs or list(BUGS)) if b != "none"]:
        failed = [c for c in run(name, args.seed) if c not in baseline]
        test = BUGS.get(name, ("", ""))[1]
        if failed:
            print(f"{name:28s} caught by {', '.join(failed)}")
        else:
            missed += not test
            print(f"{name:28s} MISSED by the chapter" + (f" (unit test {test} catches it)" if test else ""))
        sys.stdout.flush()
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
