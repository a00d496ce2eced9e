"""Planted bugs for the chapter universality-lens: plausible slips in the formulas it rests on (the
mixture's joint log-loss and its online twin eq-ul-regret, the likelihood of eq-ul-model, the KL rate
eq-ul-kl and the resolvability bound eq-ul-resolvability, the Monte-Carlo prior). At least two per
formula; the chapter's claims must catch every one.  Run (fast profile, base seed 0; each bug reruns
the chapter, about 8 s of CPU):

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/universality-lens.py [bug name ...]
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _runner import report  # noqa: E402

from theorylab.nets import bayes  # noqa: E402

ALL: dict = {}


def mixture_without_prior():  # eq-ul-regret: -log sum_f P_f, the weights forgotten
    bayes.mixture_logloss = lambda log_w, loglik: -logsumexp(loglik, axis=1)


def mixture_max_not_sum():  # eq-ul-regret: the MAP term instead of the mixture's sum
    bayes.mixture_logloss = lambda log_w, loglik: -(log_w + loglik).max(1)


def online_peeks_at_label():  # online route: posterior updated with y_t before predicting it
    def bad(log_w, loglik):
        post = log_w + loglik[1:]
        post = post - logsumexp(post, axis=1, keepdims=True)
        return np.concatenate([[0.0], -np.cumsum(logsumexp(post + np.diff(loglik, axis=0), axis=1))])
    bayes.sequential_logloss = bad


def likelihood_swapped():  # eq-ul-model: log eps and log(1 - eps) exchanged
    real = bayes.cumulative_loglik
    bayes.cumulative_loglik = lambda tabs, x, y, eps, at=None: real(tabs, x, y, 1 - eps, at)


def likelihood_zeros_agree_with_ones():  # eq-ul-model: label-0 examples counted as agreeing where f = 1
    def bad(tabs, x, y, eps, at=None):
        n, n_inputs = len(x), tabs.shape[1]
        at = np.arange(n + 1) if at is None else np.asarray(at)
        ones, zeros = np.zeros((n + 1, n_inputs)), np.zeros((n + 1, n_inputs))
        np.add.at(ones, (np.arange(1, n + 1), x), y == 1)
        np.add.at(zeros, (np.arange(1, n + 1), x), y == 0)
        ones, zeros = np.cumsum(ones, 0)[at], np.cumsum(zeros, 0)[at]
        t = tabs.T.astype(float)
        agree = ones @ t + zeros @ t
        return agree * np.log1p(-eps) + (at[:, None] - agree) * np.log(eps)
    bayes.cumulative_loglik = bad


def kl_without_inputs():  # eq-ul-kl: d / N^2 instead of d / N
    real = bayes.kl_rate
    bayes.kl_rate = lambda hamming, n_inputs, eps: real(hamming, n_inputs, eps) / n_inputs


def kl_eps_factor():  # eq-ul-kl: eps instead of (1 - 2 eps)
    bayes.kl_rate = lambda hamming, n_inputs, eps: np.asarray(hamming) / n_inputs * eps * np.log((1 - eps) / eps)


def ball_off_by_one():  # eq-ul-resolvability: the ball of radius r + 1 charged the divergence of radius r
    def bad(weights, tabs, target, ns, eps):
        n_inputs = tabs.shape[1]
        ham = (tabs != tabs[target]).sum(1)
        radii = np.arange(n_inputs + 1)
        mass = np.array([weights[ham <= r + 1].sum() for r in radii])
        terms = np.outer(np.asarray(ns, float), bayes.kl_rate(radii, n_inputs, eps)) - np.log(mass)[None, :]
        return terms.min(1)
    bayes.resolvability = bad


def prior_ascending():  # Monte-Carlo prior sorted by increasing weight
    real = bayes.empirical_prior
    def bad(codes):
        u, w = real(codes)
        return u[::-1], w[::-1]
    bayes.empirical_prior = bad


def net_without_hidden_bias():  # the random network without its hidden biases b
    real = bayes.sample_net_codes
    bayes.sample_net_codes = lambda k, n, width, gen, **kw: real(k, n, width, gen, **{**kw, "sigma_b": 0.0})


def kl_drops_second_term():  # eq-ul-kl: (1 - eps) log((1-eps)/eps), the eps log(eps/(1-eps)) term forgotten
    bayes.kl_rate = lambda hamming, n_inputs, eps: np.asarray(hamming) / n_inputs * (1 - eps) * np.log((1 - eps) / eps)


def kl_in_bits():  # eq-ul-kl: log base 2 in the divergence while the likelihoods use nats
    bayes.kl_rate = lambda hamming, n_inputs, eps: np.asarray(hamming) / n_inputs * (1 - 2 * eps) * np.log2((1 - eps) / eps)


def regret_wrong_column():  # eq-ul-regret: log P of the next function in the weight order, not of f0
    real = bayes.regret
    bayes.regret = lambda log_w, loglik, target: real(log_w, loglik, target) - loglik[:, target] + loglik[:, target + 1]


BUGS = {
    "mixture without prior": (mixture_without_prior, {}),
    "mixture max instead of sum": (mixture_max_not_sum, {}),
    "online route peeks at the label": (online_peeks_at_label, {}),
    "likelihood eps swapped": (likelihood_swapped, {}),
    "likelihood: zeros agree with ones": (likelihood_zeros_agree_with_ones, {}),
    "KL rate d/N^2": (kl_without_inputs, {}),
    "KL rate eps instead of 1-2eps": (kl_eps_factor, {}),
    "Hamming ball off by one": (ball_off_by_one, {}),
    "prior sorted ascending": (prior_ascending, {}),
    "network without hidden bias": (net_without_hidden_bias, {}),
    # added by the referee: two KL slips that make the resolvability bound larger (no bound can catch
    # those; llr_ratio does) and an indexing slip
    "KL rate (1-eps) instead of (1-2eps)": (kl_drops_second_term, {}),
    "KL rate in bits": (kl_in_bits, {}),
    "regret against the neighbouring function": (regret_wrong_column, {}),
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BUGS)
    sys.exit(report("universality-lens", {k: BUGS[k] for k in names}))
