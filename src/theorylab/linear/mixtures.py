r"""Two-class Gaussian mixture trained on noisy (synthetic) labels, with and without a verifier.

.. math::  y = \pm 1 \text{ equiprobable}, \qquad x \mid y \sim \mathcal N(y\mu, I_d), \qquad \|\mu\| = m.

A generator hands out labels flipped with rate ``p`` (independently of ``x``); a verifier keeps a
correct label with probability :math:`\psi_c` and a wrong one with probability :math:`\psi_w`,
so the kept labels are flipped with the effective rate

.. math::  p' = \frac{p\,\psi_w}{p\,\psi_w + (1-p)\,\psi_c}.

The learner is the mean-difference (least-squares direction) classifier
:math:`\hat w = \frac1T\sum_i \tilde y_i x_i` on ``T`` kept samples and predicts
:math:`\mathrm{sign}(\hat w^\top x)`; its accuracy is :math:`\Phi(\hat w^\top\mu/\|\hat w\|)`.

Setting after Feng, Dohmatob, Yang, Charton & Kempe (2025), *Beyond Model Collapse* (Sec. 3),
simplified to label flips independent of ``x``; the accuracy formula is our derivation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from theorylab.runtime import require_array, require_int

__all__ = ["effective_flip_rate", "bayes_accuracy", "verified_accuracy",
           "simulate_verified_accuracy"]


def effective_flip_rate(p, psi_correct, psi_wrong) -> np.ndarray:
    r"""Flip rate among verified samples, :math:`p' = p\psi_w / (p\psi_w + (1-p)\psi_c)`."""
    p, psi_c, psi_w = require_array("p", p, low=0.0, high=1.0), require_array("psi_correct", psi_correct, low=0.0, high=1.0), require_array("psi_wrong", psi_wrong, low=0.0, high=1.0)
    kept = p * psi_w + (1 - p) * psi_c
    if np.any(kept <= 0):
        raise ValueError("the verifier keeps nothing: need p*psi_wrong + (1-p)*psi_correct > 0")
    return p * psi_w / kept


def bayes_accuracy(m) -> np.ndarray:
    r"""Bayes accuracy :math:`\Phi(m)` of the mixture (the sign of :math:`\mu^\top x`)."""
    return ndtr(require_array("m", m, low=0.0, low_open=True))


def verified_accuracy(t, p_eff, m, d: int) -> np.ndarray:
    r"""Large-``d`` accuracy of the mean-difference classifier on ``t`` samples with flip rate ``p_eff``.

    .. math::  \mathrm{acc}(T) \approx \Phi\!\left(\frac{(1-2p')\,m^2}{\sqrt{(1-2p')^2m^2 + d/T}}\right)

    :math:`\hat w \approx (1-2p')\mu + g/\sqrt T` with :math:`g\sim\mathcal N(0,I_d)`. As
    :math:`T\to\infty` it tends to :math:`\Phi(m)` if :math:`p'<1/2` and to :math:`1-\Phi(m)` if
    :math:`p'>1/2`: a breakdown point at :math:`p' = 1/2`.
    """
    t, m = require_array("t", t, low=0.0, low_open=True), require_array("m", m, low=0.0, low_open=True)
    p_eff = require_array("p_eff", p_eff, low=0.0, high=1.0)
    d = require_int("d", d, minimum=1)
    a = 1 - 2 * p_eff
    return ndtr(a * m**2 / np.sqrt(a**2 * m**2 + d / t))


def simulate_verified_accuracy(t: int, p_eff: float, m: float, d: int,
                               gen: np.random.Generator, reps: int = 1) -> np.ndarray:
    r"""Simulated twin of :func:`verified_accuracy`: exact test accuracies (reps,) of trained classifiers.

    Sufficient statistics, no data matrix: with :math:`\hat p` the observed flip fraction
    (binomial), :math:`\hat w = (1-2\hat p)\mu + g/\sqrt T`, and only :math:`g^\top\mu/m \sim \mathcal N(0,1)`
    and :math:`\|g\|^2 - (g^\top\mu/m)^2 \sim \chi^2_{d-1}` matter.
    """
    t, d, reps = require_int("t", t, minimum=1), require_int("d", d, minimum=2), require_int("reps", reps, minimum=1)
    p_eff, m = float(require_array("p_eff", p_eff, low=0.0, high=1.0)), float(require_array("m", m, low=0.0, low_open=True))
    a = 1 - 2 * gen.binomial(t, p_eff, size=reps) / t
    along = a * m + gen.standard_normal(reps) / np.sqrt(t)           # w_hat . mu / m
    across = gen.chisquare(d - 1, size=reps) / t                       # |w_hat_perp|^2
    return ndtr(m * along / np.sqrt(along**2 + across))
