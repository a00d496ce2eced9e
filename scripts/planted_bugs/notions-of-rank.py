"""Planted bugs for the chapter `notions-of-rank`: plausible slips in the formulas it rests on (the
component-norm law eq-nor-law, the reduced flow and its clock eq-nor-scaling, the balanced start, the
step-by-step activation prediction). Each bug edits one line of ``theorylab.structure.cp`` (as a typo
would), the chapter's code cells run (fast profile, seed 0; the matrix row and the charts skipped,
no bug touches them) under a time limit, and the claims that held without the bug and fail with it
are printed. The exit status is 1 if a bug slips through.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/notions-of-rank.py [name-fragment ...]``.

Last run (3 December 2026, seed 0, fast profile, loaded two-core machine, none timed out); every bug
is caught:

    law_exponent_2_minus_1_over_N   law_median_rel_error, law_component_median_rel_error
    law_missing_factor_N            law_median_rel_error (and the p90 error, no longer a claim)
    reduced_clock_power             t1_pred_rel_error_median, t2_pred_rel_error_median (re-run after the rename)
    scaling_exponent_1_minus_N      t1_scale_ratio
    init_not_balanced               law_component_median_rel_error
    next_activation_keeps_leader    t2_pred_rel_error_median

Added by the referee (run 3 December 2026, seed 0):

    reduced_growth_1e2                       t1_pred_rel_error_median (after its bound went 0.01 -> 2e-3)
    aligned_time_exponent_1_minus_1_over_N   aligned_ratio_small_alpha
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "src"), str(Path(__file__).parent)]
import _runner  # noqa: E402

from theorylab.linear import factorization as fz  # noqa: E402
from theorylab.structure import cp  # noqa: E402

SLUG = "notions-of-rank"
SKIP = ("fz.simulate", "matrix_ratio_depth3", "mark_line", "diag = pd.DataFrame")
SKIP_MATRIX = ("mark_line", "diag = pd.DataFrame")  # bugs in linear.factorization need the matrix row

BUGS: dict[str, tuple[str, str]] = {
    # eq-nor-law with the rival exponent 2 - 1/N
    "law_exponent_2_minus_1_over_N": ("p = 2.0 - 2.0 / order if exponent", "p = 2.0 - 1.0 / order if exponent"),
    # eq-nor-law without the factor N
    "law_missing_factor_N": ("return order * component_norms(factors).pow(p)",
                             "return component_norms(factors).pow(p)"),
    # the reduced flow's clock dt = |x|^(2-N) dtau written with the wrong power
    "reduced_clock_power": ("return -factor_grads(y, -g0) / n.pow(order - 2)[:, None, :, None], n.pow(2 - order)",
                            "return -factor_grads(y, -g0) / n.pow(order - 2)[:, None, :, None], n.pow(1 - order)"),
    # the scaling exponent of eq-nor-scaling from the rival law (1 - N instead of 2 - N)
    "scaling_exponent_1_minus_N": ("return float(2 - order)", "return float(1 - order)"),
    # the start is left unbalanced (the rescaling to the geometric mean forgotten)
    "init_not_balanced": ("return f / norms * geo", "return f"),
    # the next activation keeps the active component and drops the smallest instead (wrong end of the sort)
    "next_activation_keeps_leader": ("descending=True)[:, n_active:]", "descending=True)[:, : rank - n_active]"),
    # (referee) the reduced flow stopped too early: growth 1e2 leaves ~1% of the blow-up time out
    "reduced_growth_1e2": ("growth: float = 1e4,", "growth: float = 1e2,"),
}

# (referee) bugs in linear.factorization, run with the matrix row
MATRIX_BUGS: dict[str, tuple[str, str]] = {
    # the aligned singular-value flow with the rival exponent: sigma^(2-1/N) instead of sigma^(2-2/N)
    "aligned_time_exponent_1_minus_1_over_N": ("1.0 / (depth * np.exp(x * (1 - 2 / depth)) * (s", "1.0 / (depth * np.exp(x * (1 - 1 / depth)) * (s"),
}


def main() -> int:
    import time

    import signal

    signal.signal(signal.SIGALRM, _runner._alarm)
    clean = _runner.run(SLUG, None, skip=SKIP)
    print(f"clean run: {len(clean)} claims, failing without a bug: "
          f"{[k for k, ok in clean.items() if not ok] or 'none'}", flush=True)
    selected = sys.argv[1:]
    slipped = 0
    jobs = [(n, b, cp, SKIP) for n, b in BUGS.items()] + [(n, b, fz, SKIP_MATRIX) for n, b in MATRIX_BUGS.items()]
    clean_matrix = None
    for name, (old, new), module, skip in jobs:
        if selected and not any(s in name for s in selected):
            continue
        if module is fz and clean_matrix is None:
            clean.update(clean_matrix := _runner.run(SLUG, None, skip=SKIP_MATRIX))
        tic = time.perf_counter()
        signal.alarm(600)
        try:
            if module is fz:  # factorization has no __all__: install only the function the bug edits
                fz.__all__ = ["aligned_learning_time"]
            try:
                patch = _runner.source_patch([module], old, new)
            finally:
                if module is fz:
                    del fz.__all__
            buggy = _runner.run(SLUG, patch, skip=skip)
            caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
            verdict = "CAUGHT by " + ", ".join(caught) if caught else "NOT CAUGHT"
        except TimeoutError:
            caught, verdict = [], "TIMED OUT after 600 s"
        except Exception as err:  # noqa: BLE001 - the chapter stops on it: the build catches the bug
            caught, verdict = ["(exception)"], f"CAUGHT: the chapter raised {type(err).__name__}: {str(err)[:80]}"
        finally:
            signal.alarm(0)
        slipped += not caught
        print(f"{name}: {verdict} ({time.perf_counter() - tic:.0f} s)", flush=True)
    return int(slipped > 0)


if __name__ == "__main__":
    sys.exit(main())
