"""Planted bugs for the chapter `infinite-compute` (When data is fixed and compute is not, what should we spend it on?).

Each bug rewrites one expression of ``theorylab.data.markovlm`` or ``theorylab.nets.tinylm`` (the
source is edited in memory and re-executed, so the bug sits exactly where a typo would), runs the
chapter's code cells (fast profile, base seed 0) through ``_runner.run`` under a time limit, and
prints the claims that held without the bug and fail with it. Two or more bugs per formula the
chapter rests on: the stationary law and entropy rate, the population loss, the ensemble average
and its Jensen gap, the subset ensembles, and the weight-decay objective. Exit status 1 if a bug
slips. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/infinite-compute.py [bug-substring ...]

Last run (3 December 2026, seed 0, fast profile, loaded two-core machine; each bug 35-70 s, none
timed out). Every bug of this list is caught:

    stationary law from P instead of P^T             entropy_mc_vs_exact
    entropy rate weighted uniformly, not by pi       entropy_mc_vs_exact
    population loss with P transposed                asymptote_ens_minus_single, ensemble_identity_err, wd_small_over_rich
    population loss without pi                       ensemble_identity_err, loss_above_entropy
    ensemble averages log-probabilities              ensemble_identity_err, gain_law_err
    Jensen gap with sum instead of mean              ensemble_identity_err
    subset ensembles of k - 1 members                gain_law_err
    weight decay on E only                           asymptote_above_floor, gain_shrinks_with_width, power_law_resid,
                                                     tuned_max_step
    weight decay 100x too weak                       asymptote_above_floor, asymptote_ens_minus_single,
                                                     gain_shrinks_with_width, power_law_resid,
                                                     tuned_asymptote_beats_default, tuned_max_step, wd_small_over_rich
    width mask off by one                            rank_minus_width (added for it: nothing else saw it)

Added by the referee (3 December 2026, seed 0, fast profile):

    bigram counts transposed                         asymptote_above_floor, asymptote_ens_minus_single,
                                                     tuned_max_step, wd_small_over_rich
    training weights normalised over all models      asymptote_above_floor, default_rise, tuned_wd_ratio,
                                                     tuned_asymptote_beats_default, wd_small_over_rich
    minibatch members share one minibatch stream     NOT CAUGHT: it halves minibatch_gain_wide (about 0.009
                                                     against 0.018 on seeds 0-2) but stays above its bound
                                                     0.005; raising the bound to about 0.012 (calibrated min
                                                     0.0131) would catch it and needs a recalibration.

Drawing the subsets with replacement was tried first and is not caught: it is not a bug for the
claims, since the 1 - 1/k law holds for sampling with replacement as well.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.data import markovlm  # noqa: E402
from theorylab.nets import tinylm  # noqa: E402

LIMIT_S = 600
SLUG = "infinite-compute"

# name -> (expression in markovlm.py or tinylm.py, its buggy replacement)
BUGS: dict[str, tuple[str, str]] = {
    # stationary law and entropy rate ---------------------------------------------------------------
    "stationary law from P instead of P^T (right eigenvector)": ("A = np.vstack([(P - np.eye(v)).T, np.ones((1, v))])",
                                                                 "A = np.vstack([(P - np.eye(v)), np.ones((1, v))])"),
    "entropy rate weighted uniformly, not by pi": ("return float(-(np.asarray(pi) @ (P * logs).sum(1)))",
                                                   "return float(-(P * logs).sum(1).mean())"),
    # population loss -------------------------------------------------------------------------------
    "population loss with P transposed": ('return -np.einsum("i,ij,...ij->...", lang.pi, lang.P, log_q)',
                                          'return -np.einsum("i,ji,...ij->...", lang.pi, lang.P, log_q)'),
    "population loss without pi (rows weighted 1/V)": ('return -np.einsum("i,ij,...ij->...", lang.pi, lang.P, log_q)',
                                                       'return -np.einsum("ij,...ij->...", lang.P, log_q) / lang.vocab'),
    # ensemble average and Jensen gap ---------------------------------------------------------------
    "ensemble averages log-probabilities (geometric, unnormalised)":
        ("out = np.log(np.exp(log_q - top).mean(axis=axis, keepdims=True)) + top",
         "out = log_q.mean(axis=axis, keepdims=True)"),
    "Jensen gap with sum instead of mean (off by log K)": ("return np.log(np.mean(np.exp(d), axis=axis))",
                                                           "return np.log(np.sum(np.exp(d), axis=axis))"),
    # (drawing the subsets with replacement is not a bug for the claims: the 1 - 1/k law holds for it too)
    "subset ensembles of k - 1 members (off by one)": ("itertools.combinations(range(k_max), k)",
                                                       "itertools.combinations(range(k_max), max(k - 1, 1))"),
    # the weight-decay objective --------------------------------------------------------------------
    "weight decay on E only (W forgotten)": ("((E * E).sum((1, 2)) + (W * W).sum((1, 2)))", "(E * E).sum((1, 2))"),
    "weight decay 100x too weak (lambda / 200 instead of lambda / 2)":
        ("penalty = 0.5 * lam_t * ", "penalty = 0.005 * lam_t * "),
    "width mask off by one (R + 1 hidden units)": ("mask = torch.tensor(np.arange(n_max)[None, :] < widths[:, None]",
                                                   "mask = torch.tensor(np.arange(n_max + 1)[None, :-1] <= widths[:, None]"),
    # added by the referee -------------------------------------------------------------------------
    "bigram counts transposed (j -> i counted as i -> j)":
        ("np.bincount(x[:-1] * vocab + x[1:], minlength", "np.bincount(x[1:] * vocab + x[:-1], minlength"),
    "training weights normalised over all models, not per model (weight decay M times too strong)":
        ("wts = torch.tensor(counts / counts.sum((1, 2), keepdims=True)", "wts = torch.tensor(counts / counts.sum()"),
    "minibatch members share one stream of minibatches":
        ("idx = torch.randint(0, len(pairs), (m, batch), generator=gen)",
         "idx = torch.randint(0, len(pairs), (1, batch), generator=gen).expand(m, batch)"),
}


def main(selected: list[str]) -> int:
    return _runner.report_source_bugs(SLUG, [markovlm, tinylm], BUGS, selected, limit_s=LIMIT_S,
                                      private={tinylm: ["_log_probs"]})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
