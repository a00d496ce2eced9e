"""Planted bugs for the chapter `ssm-poisoning` (Can clean labels poison an implicit bias?).

Each bug rewrites one expression of ``theorylab.nets.ssm`` (the source is edited in memory and
re-executed, so the bug sits exactly where a typo would), runs the chapter's code cells (fast
profile, base seed 0) through ``_runner`` under a time limit, and prints the claims that held
without the bug and fail with it. Exit status 1 if a bug slips. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/ssm-poisoning.py [bug-substring ...]

Last run (3 December 2026, seed 0, fast profile, loaded two-core machine), every bug caught:

    inputs not reversed in time             16 claims (train_loss_max, baseline_*, poison_ratio_min, ...)
    impulse response without B              baseline_error_max, poison_ratio_min, strong_dose_ratio, ... (6)
    special input on the last step (lag 0)  poison_ratio_min, shift_phase_rel_dev, weak_dose_error, ... (10)
    teacher B* without the square root      baseline_error_max, poison_ratio_min, ... (6)
    gradient without the factor l           grad_vs_finite_difference (only: the flow's end points survive it)
    gradient exponent l instead of l-1      18 claims
    gamma with 1/n instead of 2/n           grad_vs_finite_difference (only: it rescales time)
    conserved quantity with exponent k-2    baseline_end_vs_closed_form, baseline_error, baseline_second, ... (5)
    shift phase divided by d-1              shift_phase_rel_dev
    weak limit: shift over all d entries    weak_dose_error
    extrapolation error over lags >= 1      baseline_error_max

Referee's bugs (run 3 December 2026, seed 0, fast profile), every one caught:

    near-tie set on the wrong entry         poison_ratio_min, gap_tie_beats_generic_log10, ... (6)
    special input stored as eps^2           count_equivalence, weak_dose_error, weak_dose_vs_baseline
    horizon blow-up exponent k-4            train_loss_max, baseline_* and 6 more (10)

An off-by-one in the impulse response's powers (lags 1..n instead of 0..n-1) is not in the list: it
makes the gradient inconsistent with the loss, and LSODA then stalls past the time limit (with the
analytic Jacobian it failed at once instead); the tests catch it (impulse response vs recurrence).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.nets import ssm  # noqa: E402

LIMIT_S = 300
SLUG = "ssm-poisoning"

# name -> (expression in ssm.py, its buggy replacement)
BUGS: dict[str, tuple[str, str]] = {
    # the impulse response and the data --------------------------------------------------------------
    "inputs not reversed in time (x_l read as lag l)": ("return np.asarray(X, dtype=np.float64)[:, ::-1]",
                                                        "return np.asarray(X, dtype=np.float64)"),
    "impulse response without B (c_i only)": ("@ (np.asarray(c, dtype=np.float64) * np.asarray(b, dtype=np.float64))",
                                              "@ np.asarray(c, dtype=np.float64)"),
    "special input on the last step (lag 0)": ("X[n_baseline + np.arange(eps.size), k - 2] = eps",
                                               "X[n_baseline + np.arange(eps.size), k - 1] = eps"),
    "teacher B* = (1, d-1) without the square root": ("b = np.array([1.0, np.sqrt(d - 1.0)])",
                                                      "b = np.array([1.0, d - 1.0])"),
    # the gradient -------------------------------------------------------------------------------------
    "gradient without the factor l of d(a^l)/da": ("dpow = ell[:, None] * a[..., None, :] ** (ell[:, None] - 1)",
                                                   "dpow = a[..., None, :] ** (ell[:, None] - 1)"),
    "gradient exponent l instead of l-1": ("dpow = ell[:, None] * a[..., None, :] ** (ell[:, None] - 1)",
                                           "dpow = ell[:, None] * a[..., None, :] ** ell[:, None]"),
    "gamma with 1/n instead of 2/n": ("gamma = 2.0 / M.shape[0] * r @ M                                   # (..., k)",
                                      "gamma = 1.0 / M.shape[0] * r @ M                                   # (..., k)"),
    # the closed forms ---------------------------------------------------------------------------------
    "conserved quantity with exponent k-2": ("    m = k - 3\n    inv = a0 ** (-m)", "    m = k - 2\n    inv = a0 ** (-m)"),
    "shift phase divided by d-1": ("return a0 + (target_lag1 - a0.sum(-1, keepdims=True)) / a0.shape[-1]",
                                   "return a0 + (target_lag1 - a0.sum(-1, keepdims=True)) / (a0.shape[-1] - 1)"),
    "weak limit: shift over all d entries": ("delta = (target_lag1 - a_top - rest.sum()) / rest.size",
                                             "delta = (target_lag1 - a_top - rest.sum()) / (rest.size + 1)"),
    # the metric ---------------------------------------------------------------------------------------
    "extrapolation error normalised by lags >= 1 only": ("/ np.max(np.abs(h_star))", "/ np.max(np.abs(h_star[..., 1:]))"),
    # referee's bugs ------------------------------------------------------------------------------------
    "near-tie set on the wrong entry (a_2 scaled, not tied to a_1)": (
        "a[1] = a[0] * (1.0 - runtime.require_float(", "a[1] = a[1] * (1.0 - runtime.require_float("),
    "special sequence stores the weight eps^2, not the amplitude eps": (
        "X[n_baseline + np.arange(eps.size), k - 2] = eps", "X[n_baseline + np.arange(eps.size), k - 2] = eps ** 2"),
    "horizon: blow-up time with exponent k-4 (1000x too short)": (
        "t_blow = n * a_max ** (-(k - 3))", "t_blow = n * a_max ** (-(k - 4))"),
}


def main(selected: list[str]) -> int:
    return _runner.report_source_bugs(SLUG, [ssm], BUGS, selected, limit_s=LIMIT_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
