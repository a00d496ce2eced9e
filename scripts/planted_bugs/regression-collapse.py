#!/usr/bin/env python3
"""Planted bugs for the chapter ``regression-collapse``: each one must turn at least one claim red.

Every bug monkeypatches one formula of ``theorylab.linear.highdim`` the chapter rests on, then runs
the chapter's code cells (fast profile, seed 0) in this process and lists the claims that failed.

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/regression-collapse.py            # every bug
    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/regression-collapse.py --only mixed_naive_d_over_t_minus_d
    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/regression-collapse.py --baseline # no bug: all green

Exit status 0 when every bug is caught (and, with --baseline, the unpatched chapter passes).

Last run (3 December 2026, base seed 0, fast profile, after the 20-seed recalibration; 59 s wall):
every bug caught.

    generations_dof_t_minus_d          caught (8 s): ols_small_max_rel_dev
    generations_sigma0_not_squared     caught (2 s): ols_max_rel_dev
    mixed_approx_d_plus_1_over_t_minus_d_minus_1 caught (12 s): mix_small_max_rel_dev
    mixed_floor_p2_not_squared         caught (13 s): mix_max_rel_dev
    mixed_naive_d_over_t_minus_d       caught (13 s): mix_small_max_rel_dev
    ridge_de_collapse_without_df2      caught (3 s): ridge_de_max_rel_dev
    ridge_de_u_from_df1                caught (3 s): ridge_de_max_rel_dev
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

from theorylab import claims
from theorylab.linear import highdim

ROOT = Path(__file__).resolve().parents[2]
SKIP: tuple[str, ...] = ()
CHAPTER = ROOT / "notebooks" / "regression-collapse.md"


def _generations(dof_shift: int = 0, square: bool = True):
    """eq-rc-ols with T-d-1+dof_shift degrees of freedom, and sigma0 squared or not."""
    def error(d, t, t0, n_gen, sigma, sigma0):
        s02 = sigma0**2 if square else sigma0
        return sigma**2 * d / (t - d - 1 + dof_shift) + np.asarray(n_gen, float) * s02 * d / (t0 - d - 1 + dof_shift)
    return error


def _mixed(spread_of, floor_power: int = 2):
    """eq-rc-mix-iso with another middle fraction, or the floor p2 instead of p2^2."""
    def error(d, t, p2, sigma, delta_sq):
        t, p2 = np.asarray(t, float), np.asarray(p2, float)
        return sigma**2 * d / (t - d - 1) + p2**floor_power * delta_sq + p2 * (1 - p2) * delta_sq * spread_of(d, t)
    return error


def _exact_spread(d, t):
    return ((d + 1) * t**2 - (d + 5) * t + 2 * (d + 1)) / ((t - 1) * (t + 2) * (t - d - 1))


def _ridge_de(variant: str):
    """eq-rc-de with one piece wrong: u from df1, or the collapse term without df2."""
    def error(spectrum, w0, t, ridge, sigma, collapse=0.0):
        ev, w0 = np.asarray(spectrum, float), np.asarray(w0, float)
        collapse = np.asarray(collapse, float)
        kappa = highdim.solve_kappa(ev, t, ridge)[..., None]
        t = np.asarray(t, dtype=np.float64)[..., None]
        shrink = kappa / (ev + kappa)
        with np.errstate(invalid="ignore", divide="ignore"):
            df1 = np.sum(ev / (ev + kappa), axis=-1)
            df2 = np.sum((ev / (ev + kappa)) ** 2, axis=-1)
            u = (df1 if variant == "u_from_df1" else df2) / t[..., 0]
            bias = np.sum(ev * w0**2 * shrink**2, axis=-1)
            first = 0.0 if variant == "no_df2_in_collapse" else df2
            out = (bias + sigma**2 * u) / (1 - u) + collapse * (first + u / (1 - u) * np.sum(shrink**2, -1))
        return np.where(u < 1, out, np.inf)
    return error


BUGS = {
    # formula: generations, eq-rc-ols
    "generations_dof_t_minus_d": ("ols_generations_error", _generations(dof_shift=1)),
    "generations_sigma0_not_squared": ("ols_generations_error", _generations(square=False)),
    # formula: strong collapse, eq-rc-mix-iso
    "mixed_naive_d_over_t_minus_d": ("mixed_ols_error", _mixed(lambda d, t: d / (t - d))),
    "mixed_approx_d_plus_1_over_t_minus_d_minus_1": ("mixed_ols_error", _mixed(lambda d, t: (d + 1) / (t - d - 1))),
    "mixed_floor_p2_not_squared": ("mixed_ols_error", _mixed(_exact_spread, floor_power=1)),
    # formula: ridge deterministic equivalent, eq-rc-de
    "ridge_de_u_from_df1": ("ridge_collapse_error", _ridge_de("u_from_df1")),
    "ridge_de_collapse_without_df2": ("ridge_collapse_error", _ridge_de("no_df2_in_collapse")),
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
        attr, bug = BUGS[name]
        module = highdim
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
