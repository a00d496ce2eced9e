"""Plant plausible bugs in theorylab.optim and check that some claim of `steepest-margin` fails.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/steepest-margin-solvers.py [bug ...]``.
Each bug patches one library function, re-runs the chapter's code (fast profile, seed 0) in a fresh
process, and prints the claims that failed. A bug that leaves every claim green is reported as
MISSED and the script exits with status 1. Each run has a time-out (``TIMEOUT_S``): a bug that makes
the chapter hang is reported as TIMED OUT (and counts as missed: no claim ran).

Last run (3 December 2026, seed 0, fast profile; none timed out; the last two re-run after the
two identity claims were added):

    cd_argmin              own_margin_ratio_cd, cos_own_min, cos_gap_min, loss_bound_slack,
                           net_fraction_interpolated, net_cd_over_gd_l1
    sign_not_steepest      own_margin_ratio_sign, other_margin_ratio_max, cos_own_min, cos_gap_min,
                           net_sign_over_gd_linf
    lp_norms_swapped       other_margin_ratio_max, solver_not_beaten, cos_own_min, cos_gap_min,
                           adam_other_ratio_max
    qp_without_labels      no claim: the chapter crashes (ValueError, "not linearly separable")
    dual_norm_swapped      dual_norm_two_routes (added for this bug: the loose guarantee alone missed it)
    net_margin_degree_1    net_smoothed_margin_sandwich (added for this bug: monotonicity alone missed it)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240
CHAPTER = ROOT / "notebooks" / "steepest-margin.md"

# name -> code run after the imports and before the chapter (patches module attributes)
BUGS = {
    "cd_argmin": """
def _bad(g, norm, _orig=sd.direction):
    if norm != "l1":
        return _orig(g, norm)
    j = np.argmin(np.abs(g), axis=-1)[..., None]      # bug: smallest coordinate, not largest
    u = np.zeros_like(g)
    np.put_along_axis(u, j, np.sign(np.take_along_axis(g, j, axis=-1)), axis=-1)
    return u
sd.direction = _bad
""",
    "sign_not_steepest": """
def _bad(g, norm, _orig=sd.direction):
    if norm != "linf":
        return _orig(g, norm)
    return g / np.abs(g).max(axis=-1, keepdims=True)  # bug: unit l_inf norm but not the steepest
sd.direction = _bad
""",
    "lp_norms_swapped": """
_orig_lp = mg._max_margin_lp
mg._max_margin_lp = lambda x, y, norm: _orig_lp(x, y, "linf" if norm == "l1" else "l1")  # bug
""",
    "qp_without_labels": """
mg._max_margin_l2 = lambda x, y: (x.T @ y) / len(y)  # bug: the 'SVM' is the class-mean direction
""",
    "dual_norm_swapped": """
mg.DUAL = {"l2": "l2", "linf": "linf", "l1": "l1"}  # bug: R measured in the norm, not its dual
""",
    "net_margin_degree_1": """
_orig_sm = sd.Trajectory.smoothed_margin
sd.Trajectory.smoothed_margin = lambda self, norm, degree=1: _orig_sm(self, norm, 1)  # bug: K ignored
""",
}


def chapter_code() -> str:
    nb = jupytext.read(CHAPTER)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    cells[-1] = "print('FAILED:', [c.name for c in ledger.failed])"
    return cells


def run(bug: str) -> list[str] | None:
    cells = chapter_code()
    # cells[0] is the parameters cell, cells[1] the imports: patch right after them
    code = "\n".join(cells[:2] + [BUGS[bug]] + cells[2:])
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "notebooks",
                             env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
                             timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None  # reported as TIMED OUT (missed: no claim ran)
    lines = [line for line in out.stdout.splitlines() if line.startswith("FAILED:")]
    if not lines:
        return [f"(crashed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'no output'})"]
    return eval(lines[0][len("FAILED:"):])  # a list literal printed by the script above


def main(names: list[str]) -> int:
    missed = 0
    for bug in names or list(BUGS):
        failed = run(bug)
        status = "caught" if failed else ("TIMED OUT" if failed is None else "MISSED")
        missed += not failed
        print(f"{bug:22s} {status}: {', '.join(failed) if failed else '-'}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
