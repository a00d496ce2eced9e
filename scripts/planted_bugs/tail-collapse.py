#!/usr/bin/env python3
"""Planted bugs for the chapter ``tail-collapse``: each one must turn at least one claim red.

Every bug monkeypatches one formula of ``theorylab.data`` the chapter rests on, then runs the
chapter's code cells (fast profile, seed 0) in this process and lists the claims that failed.

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/tail-collapse.py            # every bug
    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/tail-collapse.py --only swap_verifier_labels
    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/tail-collapse.py --baseline # no bug: all green

Exit status 0 when every bug is caught (and, with --baseline, the unpatched chapter passes).

Last run (3 December 2026, base seed 0, fast profile, after the 20-seed recalibration; 380 s wall on a
loaded two-core machine): every bug caught.

    capacity_bound_forgets_memory      caught (42 s): capacity_knee_excess
    exponent_one_over_beta_train       caught (34 s): the eight slope and constant claims at
                                                beta = 1.5 and 2.5 (beta1p5_clean_slope, ...)
    generations_rate_1_over_n_plus_1   caught (47 s): gen_plateau_worst_dev
    generations_rate_2_over_n          caught (61 s): gen_plateau_worst_dev
    law_without_gamma                  caught (9 s): clean_constant_ratio
    swap_keep_rates                    caught (56 s): verify_run_max_dev
    swap_verifier_labels               caught (55 s): verify_run_max_dev
    tail_mass_off_by_one               caught (60 s): capacity_plateau_dev
    train_test_swapped                 caught (10 s): narrow_constant_ratio
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import jupytext
import numpy as np
from scipy import special

from theorylab import claims
from theorylab.data import collapse, memorizer

ROOT = Path(__file__).resolve().parents[2]
SKIP: tuple[str, ...] = ("train_memorizer", "nn_")  # the neural memorizer: slow, and no bug below touches it
CHAPTER = ROOT / "notebooks" / "tail-collapse.md"

_orig = {name: getattr(collapse, name) for name in
         ("narrowed_exponent", "narrowed_law", "memorizer_error", "generations_plateau", "verified_error",
          "tail_mass")}
_orig_bound = memorizer.capacity_bound


def _law_without_gamma(n_samples, beta, beta_train):
    expo = collapse.narrowed_exponent(beta, beta_train)
    t = np.asarray(n_samples, dtype=float)
    out = 1.0 / (beta_train * special.zeta(beta)) * (t / special.zeta(beta_train)) ** (-expo)
    return float(out) if t.ndim == 0 else out


def _plateau_rate(rate_of_n):
    def plateau(p, n_samples, generations, *, exact=True):
        p, n = np.asarray(p, float), np.asarray(generations)
        if exact:
            return _orig["generations_plateau"](p, n_samples, generations, exact=True)
        out = np.array([np.dot(p, np.exp(-n_samples * rate_of_n(m) * p)) for m in n.ravel()])
        return float(out[0]) if n.ndim == 0 else out.reshape(n.shape)
    return plateau


def _verified(swap):
    def verified(p, n_samples, flip, keep_correct=1.0, keep_wrong=1.0):
        if swap == "labels":   # right and wrong kept labels exchanged: P(C > W) + P(C = W)/2 = 1 - E
            return 1.0 - _orig["verified_error"](p, n_samples, flip, keep_correct, keep_wrong)
        return _orig["verified_error"](p, n_samples, flip, keep_wrong, keep_correct)
    return verified


BUGS = {
    # formula: the narrowing law, eq-tail-narrow
    "exponent_one_over_beta_train": ("collapse", "narrowed_exponent", lambda b, bt: 1.0 / bt),
    "law_without_gamma": ("collapse", "narrowed_law", _law_without_gamma),
    # formula: the memorizer error, eq-tail-error (train on q, test on p)
    "train_test_swapped": ("collapse", "memorizer_error", lambda p, q, t: _orig["memorizer_error"](q, p, t)),
    # formula: the generations plateau, eq-tail-generations
    "generations_rate_2_over_n": ("collapse", "generations_plateau", _plateau_rate(lambda n: 2.0 / n)),
    "generations_rate_1_over_n_plus_1": ("collapse", "generations_plateau", _plateau_rate(lambda n: 1.0 / (n + 1))),
    # formula: the verifier curve, prop-tail-verify
    "swap_verifier_labels": ("collapse", "verified_error", _verified("labels")),
    "swap_keep_rates": ("collapse", "verified_error", _verified("keep")),
    # formula: capacity, eq-tail-capacity
    "tail_mass_off_by_one": ("collapse", "tail_mass", lambda p, k: _orig["tail_mass"](p, k + 1)),
    "capacity_bound_forgets_memory": ("memorizer", "capacity_bound",
                                      lambda p, t, m: collapse.memorizer_error(p, p, t)),
}


def run_chapter(stop_early: bool = True, skip: tuple[str, ...] = SKIP) -> list[str]:
    """Execute the chapter's code cells; return the names of the failed claims ([] if all hold).

    With ``stop_early`` it stops at the first cell after which some claim has failed (the bug is
    caught); cells that mention a name in ``skip`` (self-contained, slow, and not touched by any bug
    here) are left out.
    """
    cells = [c.source for c in jupytext.read(CHAPTER).cells if c.cell_type == "code"]
    scope: dict = {"__name__": "__chapter__"}
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            for src in cells:
                if any(word in src for word in skip):
                    continue
                exec(compile(src, str(CHAPTER), "exec"), scope)
                if stop_early and "ledger" in scope and scope["ledger"].failed:
                    break
        except claims.ClaimsFailed:
            pass
    return [c.name for c in scope["ledger"].failed]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(BUGS), default=sorted(BUGS))
    ap.add_argument("--baseline", action="store_true", help="also run the chapter without any bug")
    ap.add_argument("--all-claims", action="store_true", help="run every cell and list every failed claim")
    args = ap.parse_args()
    ok = True
    if args.baseline:
        failed = run_chapter(stop_early=False, skip=())
        print(f"baseline: {'all claims hold' if not failed else 'FAILED ' + ', '.join(failed)}", flush=True)
        ok &= not failed
    for name in args.only:
        where, attr, bug = BUGS[name]
        module = collapse if where == "collapse" else memorizer
        original = getattr(module, attr)
        setattr(module, attr, bug)
        started = time.perf_counter()
        try:
            failed = run_chapter(stop_early=not args.all_claims, skip=() if args.all_claims else SKIP)
        finally:
            setattr(module, attr, original)
        caught = bool(failed)
        ok &= caught
        print(f"{name:34s} {'caught' if caught else 'MISSED'} ({time.perf_counter() - started:.0f} s): "
              f"{', '.join(failed) or '-'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
