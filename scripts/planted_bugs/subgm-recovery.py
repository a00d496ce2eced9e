"""Planted bugs for the chapter `subgm-recovery`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/subgm-recovery.py [bug ...]``.
Each bug monkeypatches one function of ``theorylab.linear.sensing`` with a plausible mistake (at
least two per core formula: the sub-gradient, the measurement operator, the step schedule, the
initialization, and the three closed forms), runs the chapter's code cells (fast profile, base
seed 0) through ``_runner`` with a time limit, and prints the claims that held without the bug
and fail with it. Exit status 1 if some bug is caught by no claim.
"""

from __future__ import annotations

import math
import signal
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.linear import sensing as sn  # noqa: E402

SLUG, TIMEOUT_S = "subgm-recovery", 600
ORIG = {name: getattr(sn, name) for name in ("subgradient", "gaussian_operator", "adjoint", "geometric_steps",
                                             "sign_scale", "residual_floor", "l2_tangent_error", "small_init",
                                             "sign_noise_edge", "escape_slope")}


def _set(name, fn):
    return lambda: setattr(sn, name, fn)


# -- the sub-gradient --------------------------------------------------------------------------
def _l1_uses_residual(u, a, y, kind="l1"):                    # sign dropped: the l2 gradient in the l1 method
    return ORIG["subgradient"](u, a, y, "l2")


def _no_symmetrization(u, a, y, kind="l1"):                   # 2 G U instead of (G + G^T) U
    r = sn.residuals(u, a, y)
    g = sn.adjoint(a, torch.sign(r) if kind == "l1" else r) / a.shape[-2]
    return 2 * g @ u


def _sum_not_mean(u, a, y, kind="l1"):                        # forgot the 1/m
    return a.shape[-2] * ORIG["subgradient"](u, a, y, kind)


# -- the measurement operator --------------------------------------------------------------------
def _operator_scaled(d, m, gens):                             # entries N(0, 1/m): "normalized" operator
    return ORIG["gaussian_operator"](d, m, gens) / math.sqrt(m)


def _adjoint_transposed(a, v):                                # sum v_i A_i^T (row/column order mixed up)
    return ORIG["adjoint"](a, v).transpose(-2, -1)


# -- the step schedule ---------------------------------------------------------------------------
def _decay_off(lr, rho, n_steps):                             # rho ignored: constant step
    return ORIG["geometric_steps"](lr, 1.0, n_steps)


def _decay_twice(lr, rho, n_steps):                           # decay applied twice: rho^(2t)
    return ORIG["geometric_steps"](lr, rho**2, n_steps)


# -- the closed forms ----------------------------------------------------------------------------
def _scale_no_outlier_term(norm, p, outlier_scale):           # outliers' own correlation ignored
    return np.sqrt(2 / np.pi) * (1 - p) * np.ones_like(np.asarray(norm, dtype=float))


def _scale_no_sqrt(norm, p, outlier_scale):                   # E exp(-s^2/2 sigma^2) without the square root
    s = np.asarray(norm, dtype=float)
    return np.sqrt(2 / np.pi) * (1 - p + p * s**2 / (s**2 + outlier_scale**2))


def _floor_linear(d, r, width, alpha):                        # alpha instead of alpha^2
    return ORIG["residual_floor"](d, r, width, alpha) / np.asarray(alpha, dtype=float)


def _floor_no_1_over_d(d, r, width, alpha):                   # init variance alpha^2 instead of alpha^2/d
    return d * ORIG["residual_floor"](d, r, width, alpha)


def _l2_full_dimension(d, r, m, noise_var):                   # dimension of all symmetric matrices, not of T
    k = d * (d + 1) // 2
    return np.sqrt(np.asarray(noise_var, dtype=float) * k / (m - k - 1))


def _l2_std_not_var(d, r, m, noise_var):                      # noise std where the variance belongs
    return ORIG["l2_tangent_error"](d, r, m, np.sqrt(np.asarray(noise_var, dtype=float)))


# -- the referee's bugs ----------------------------------------------------------------------------
def _l2_variance_doubled(d, r, m, noise_var):                 # 2 sigma^2 k / (m - k - 1): symmetrized-operator variance
    return math.sqrt(2) * ORIG["l2_tangent_error"](d, r, m, noise_var)


def _edge_outliers_only(d, r, m):                             # only the outliers push E (the first account of the bend)
    return ORIG["sign_noise_edge"](d, r, m) * math.sqrt(0.2)


# Not listed: kappa = 2 phi without the 1/|X*|_F (slope 1.71 instead of 1.59 at p = 0). The fast profile's
# slope spreads by ~0.1 per base seed, so clean_alpha_slope (tolerance 0.35) cannot tell these apart.


def _stein_without_two(norm, p, outlier_scale):               # Stein's lemma with h' = delta, not 2 delta
    return ORIG["sign_scale"](norm, p, outlier_scale) / 2


def _init_unit_variance(d, widths, alphas, gens):             # B_jk ~ N(0, 1): the 1/sqrt(d) forgotten
    return math.sqrt(d) * ORIG["small_init"](d, widths, alphas, gens)


BUGS = {
    "l1 sub-gradient uses the residual, not its sign": _set("subgradient", _l1_uses_residual),
    "sub-gradient 2 G U, not (G + G^T) U": _set("subgradient", _no_symmetrization),
    "sub-gradient without the 1/m": _set("subgradient", _sum_not_mean),
    "operator entries N(0, 1/m)": _set("gaussian_operator", _operator_scaled),
    "adjoint returns sum v_i A_i^T": _set("adjoint", _adjoint_transposed),
    "step decay off (constant step)": _set("geometric_steps", _decay_off),
    "step decay applied twice (rho^2t)": _set("geometric_steps", _decay_twice),
    "sign scale without the outlier term": _set("sign_scale", _scale_no_outlier_term),
    "sign scale without the square root": _set("sign_scale", _scale_no_sqrt),
    "floor linear in alpha": _set("residual_floor", _floor_linear),
    "floor without the 1/d of the init variance": _set("residual_floor", _floor_no_1_over_d),
    "l2 error with dim of all symmetric matrices": _set("l2_tangent_error", _l2_full_dimension),
    "l2 error with noise std for variance": _set("l2_tangent_error", _l2_std_not_var),
    "init B with unit variance": _set("small_init", _init_unit_variance),
    "l2 error with the noise variance doubled": _set("l2_tangent_error", _l2_variance_doubled),
    "sign-noise edge of the outliers alone": _set("sign_noise_edge", _edge_outliers_only),
    "Stein's lemma without the factor 2": _set("sign_scale", _stein_without_two),
}


def _alarm(signum, frame):
    raise TimeoutError(f"a run took more than {TIMEOUT_S} s")


def main() -> int:
    signal.signal(signal.SIGALRM, _alarm)
    names = sys.argv[1:] or list(BUGS)
    signal.alarm(TIMEOUT_S)
    clean = _runner.run(SLUG, None)
    signal.alarm(0)
    failing = sorted(k for k, ok in clean.items() if not ok)
    print(f"clean run: {len(clean)} claims" + (f", FAILING WITHOUT A BUG: {failing}" if failing else ", all pass"), flush=True)
    slipped = 0
    for name in names:
        signal.alarm(TIMEOUT_S)
        try:
            with np.errstate(all="ignore"):
                buggy = _runner.run(SLUG, BUGS[name])
            caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
            verdict = "CAUGHT by " + ", ".join(caught) if caught else "NOT CAUGHT"
        except Exception as exc:  # a crash or a timeout is a loud failure: it counts as caught
            caught, verdict = ["<run failed>"], f"CAUGHT (the run fails: {type(exc).__name__}: {str(exc)[:80]})"
        finally:
            signal.alarm(0)
        slipped += not caught
        print(f"{name:48s} {verdict}", flush=True)
    return 1 if slipped else 0


if __name__ == "__main__":
    raise SystemExit(main())
