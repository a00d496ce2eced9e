"""Planted bugs for the chapter ensemble-bias-variance: plausible slips in the formulas it rests on
(the central prediction eq-ebv-central, the variance eq-ebv-jensen, the law of total variance
eq-ebv-total, the pooled 1/k law eq-ebv-pool and its leak correction, the Jensen gap eq-ebv-gap and
the bias shift eq-ebv-shift). Each bug monkeypatches one function of theorylab.nets.bregman and
reruns the chapter (fast profile, base seed 0, about 10 s of CPU each); the chapter's claims must
catch every one. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/ensemble-bias-variance.py [bug name ...]
"""

from __future__ import annotations

import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _runner import report  # noqa: E402

from theorylab.nets import bregman as bg, ensembles  # noqa: E402

_train, _pools = ensembles.train_pool, {}


def _memo_train(task, counts, labels, n_inits, **kw):      # the bugs patch the analysis only: train the pool once
    key = (counts.tobytes(), labels.tobytes(), n_inits, tuple(sorted((k, str(v)) for k, v in kw.items() if k != "gen")))
    if key not in _pools:
        _pools[key] = _train(task, counts, labels, n_inits, **kw)
    return _pools[key]


ensembles.train_pool = _memo_train

REAL = {name: getattr(bg, name) for name in ("central", "variance", "total_variance_split", "pooled_ensemble_variance",
                                             "data_variance", "jensen_gap", "bias_shift", "dual_ensemble",
                                             "primal_ensemble", "subset_ensemble_variance")}


def central_arithmetic():  # eq-ebv-central: the arithmetic mean of the probabilities, not the geometric one
    def bad(loss, eta):
        if loss == "ce":
            return bg.canonical("ce", np.log(bg.to_primal("ce", eta).mean(0)))
        return REAL["central"](loss, eta)
    bg.central = bad


def central_median():  # eq-ebv-central: a "robust" median of the log-probabilities instead of their mean
    bg.central = lambda loss, eta: bg.canonical(loss, np.median(bg.canonical(loss, eta), axis=0))


# Not a bug, and so not planted: averaging the raw logits instead of the log-probabilities gives the
# same central prediction (they differ by a constant per image, which the softmax ignores).


def variance_reversed_kl():  # eq-ebv-jensen: E KL(P || p_c) instead of E KL(p_c || P)
    def bad(loss, eta):
        if loss != "ce":
            return REAL["variance"](loss, eta)
        c = bg.to_primal("ce", REAL["central"](loss, eta))
        return bg.divergence("ce", bg.to_primal("ce", eta), np.log(c)[None]).mean(0)
    bg.variance = bad


def between_in_probability_space():  # eq-ebv-total: data part from arithmetic-mean conditional centrals
    def bad(loss, eta):
        total, within, _ = REAL["total_variance_split"](loss, eta)
        if loss != "ce":
            return total, within, _
        cond = np.log(bg.to_primal("ce", eta).mean(1))                  # (B, ..., C)
        return total, within, REAL["variance"]("ce", cond)
    bg.total_variance_split = bad


def pool_plain_one_over_k():  # eq-ebv-pool: the textbook 1/k law, without the pool's correction
    bg.pooled_ensemble_variance = lambda within, between, k, s: np.asarray(between) + np.asarray(within) / k


def pool_off_by_one():  # eq-ebv-pool: (S - k) / (k S) instead of (S - k) / (k (S - 1))
    bg.pooled_ensemble_variance = lambda within, between, k, s: np.asarray(between) + np.asarray(within) * (s - k) / (k * s)


def leak_divided_by_s():  # data_variance: leak within / s instead of within / (s - 1)
    bg.data_variance = lambda within, between, s, b: np.asarray(between) - np.asarray(within) * (1 - 1 / b) / s


def leak_not_removed():  # data_variance: the conditional estimate taken at face value
    bg.data_variance = lambda within, between, s, b: np.asarray(between)


def gap_reversed():  # eq-ebv-gap: mean of logs minus log of mean
    bg.jensen_gap = lambda eta, k: -REAL["jensen_gap"](eta, k)


def shift_sign_swapped():  # eq-ebv-shift: gain minus cost instead of cost minus gain
    bg.bias_shift = lambda y_bar, central_eta, gap: -REAL["bias_shift"](y_bar, central_eta, gap)


def shift_uses_arithmetic_weights():  # eq-ebv-shift: log sum_c ybar_c e^J (label weights) in the cost
    def bad(y_bar, central_eta, gap):
        return np.log((np.asarray(y_bar) * np.exp(gap)).sum(-1)) - (np.asarray(y_bar) * gap).sum(-1)
    bg.bias_shift = bad


def dual_ensemble_sums():  # prop-ebv-ensembles: logits summed, not averaged (a k-fold temperature)
    def bad(loss, eta, k):
        g = bg.canonical(loss, eta)
        return bg.canonical(loss, g.reshape(g.shape[0] // k, k, *g.shape[1:]).sum(1))
    bg.dual_ensemble = bad


# Added by the referee.

def within_wrong_axis():  # eq-ebv-total: the init part averaged over the wrong axis (variance over Z given W)
    def bad(loss, eta):
        total, _, between = REAL["total_variance_split"](loss, eta)
        return total, bg.variance(loss, bg.canonical(loss, eta)).mean(0), between
    bg.total_variance_split = bad


def primal_averages_logits():  # prop-ebv-ensembles: the "primal" ensemble averages logits, like the dual one
    bg.primal_ensemble = lambda loss, eta, k: REAL["dual_ensemble"](loss, eta, k)


def leak_without_finite_b():  # data_variance: the leak within / (s - 1) without the factor (1 - 1/B)
    bg.data_variance = lambda within, between, s, b: np.asarray(between) - np.asarray(within) / (s - 1)


def subsets_around_own_set():  # subset_ensemble_variance: ensembles measured around their data set's centre
    def bad(loss, eta, k, chunk=16):
        return np.mean([REAL["subset_ensemble_variance"](loss, e[None], k, chunk) for e in eta], 0)
    bg.subset_ensemble_variance = bad


BUGS = {
    "central = arithmetic mean of probabilities": (central_arithmetic, {}),
    "central = median of the log-probabilities": (central_median, {}),
    "variance = E KL(P || p_c), reversed": (variance_reversed_kl, {}),
    "data part from arithmetic conditional means": (between_in_probability_space, {}),
    "pool law: plain 1/k": (pool_plain_one_over_k, {}),
    "pool law: (S-k)/(kS), off by one": (pool_off_by_one, {}),
    "leak correction: within/s": (leak_divided_by_s, {}),
    "leak correction forgotten": (leak_not_removed, {}),
    "Jensen gap reversed": (gap_reversed, {}),
    "bias shift sign swapped": (shift_sign_swapped, {}),
    "bias shift normalised under y_bar": (shift_uses_arithmetic_weights, {}),
    "dual ensemble sums the logits": (dual_ensemble_sums, {}),
    "init part over the wrong axis (referee)": (within_wrong_axis, {}),
    "primal ensemble averages logits (referee)": (primal_averages_logits, {}),
    "leak correction without (1 - 1/B) (referee)": (leak_without_finite_b, {}),
    "subset ensembles around their own data set (referee)": (subsets_around_own_set, {}),
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BUGS)
    sys.exit(report("ensemble-bias-variance", {k: BUGS[k] for k in names}))
