r"""Synthetic labels from a linear generator, selected by a linear verifier or an oracle.

Data: the two-class mixture of :mod:`theorylab.linear.mixtures`,

.. math::  y = \pm 1, \qquad x \mid y \sim \mathcal N(y\mu, I_d), \qquad \|\mu\| = m .

A **generator** labels an input by a linear rule :math:`\hat y = \mathrm{sign}(w_g^\top x)`, with
:math:`w_g` a unit vector at angle :math:`\theta_g` to :math:`\mu`. Its mistakes depend on the input
(they sit near its own boundary), unlike the label flips of :mod:`theorylab.linear.mixtures`.
A **selection rule** decides which synthetic pairs :math:`(x,\hat y)` to keep:

- ``"none"``: keep everything;
- ``"verifier"``: keep the pair when a linear verifier agrees,
  :math:`\hat y\, w_v^\top x > 0`, with :math:`w_v` a unit vector at signed angle :math:`\theta_v`
  to :math:`\mu` in the plane of :math:`(\mu, w_g)` (positive: the generator's side). At
  :math:`\theta_v = \theta_g` it keeps everything; at :math:`\theta_v = -\theta_g` (the mirror image
  of the generator) the kept set is symmetric about :math:`\mu`; at :math:`\theta_v = \pi-\theta_g`
  (the mirror image through the Bayes boundary) half the kept labels are wrong: the breakdown point;
- ``"oracle"``: keep the pair when :math:`\hat y = y`.

The learner is the mean-difference classifier :math:`\hat w = \frac1N\sum_{\text{kept}} \hat y_i x_i`
on the ``N`` kept pairs. As :math:`N\to\infty`, :math:`\hat w \to g = \E[\hat y x \mid \text{kept}]`
and its accuracy tends to :math:`\Phi(m\, g^\top\hat\mu/\|g\|)`; at finite ``N`` (large ``d``)

.. math::  \mathrm{acc}(N) \approx \Phi\!\left(\frac{m\, g^\top\hat\mu}{\sqrt{\|g\|^2 + d/N}}\right).

Everything reduces to the plane of :math:`(\mu, w_g, w_v)`: with :math:`x = y\mu + z`, the
statistics are Gaussian orthant integrals of the pair :math:`(a, b) = (w_g^\top x, w_v^\top x)`.
Setting after Feng, Dohmatob, Yang, Charton & Kempe (2025), *Beyond Model Collapse* (Gaussian
mixture, linear generator and verifier); the formulas here are our derivation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize
from scipy.special import ndtr

from theorylab.runtime import require_choice, require_float, require_int

__all__ = ["RULES", "Selection", "selection", "limit_accuracy", "accuracy", "iid_flip_accuracy",
           "breakdown_angle", "proxy_breakdown_angle", "simulate_accuracy", "audit_flip_rate"]

RULES = ("none", "verifier", "oracle")


def _phi(x):
    return np.exp(-0.5 * np.square(x)) / np.sqrt(2 * np.pi)


@dataclass(frozen=True)
class Selection:
    """Population statistics of the kept synthetic data (plane coordinates: along mu, across)."""

    keep_rate: float      # P(kept)
    flip_rate: float      # p' = P(y_hat != y | kept): the error rate of the kept labels
    g: np.ndarray         # E[y_hat x | kept] in the (mu_hat, e2) plane, shape (2,)

    @property
    def cos(self) -> float:
        """Cosine between the limit classifier g and mu."""
        return float(self.g[0] / np.hypot(*self.g))


def _directions(theta_gen: float, theta_ver: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of generator and verifier in the plane (angles from mu, counter-clockwise)."""
    return (np.array([np.cos(theta_gen), np.sin(theta_gen)]),
            np.array([np.cos(theta_ver), np.sin(theta_ver)]))


def _tail_moment(h: float, k: float, rho: float) -> float:
    r""":math:`\E[A\,1\{A>h, B>k\}]` for standard normals with correlation rho."""
    s = np.sqrt(1 - rho**2)
    return float(_phi(h) * ndtr((rho * h - k) / s) + rho * _phi(k) * ndtr((rho * k - h) / s))


def _orthant(h: float, k: float, rho: float) -> float:
    r""":math:`P(A>h, B>k)` for standard normals with correlation rho (one-dimensional quadrature)."""
    s = np.sqrt(1 - rho**2)
    val, _ = integrate.quad(lambda a: _phi(a) * ndtr((rho * a - k) / s), h, np.inf, epsabs=1e-13, epsrel=1e-11)
    return float(val)


def selection(m: float, theta_gen: float, rule: str = "none", theta_ver: float = 0.0) -> Selection:
    r"""Keep rate, error rate :math:`p'` and limit :math:`g = \E[\hat y x\mid\text{kept}]` of a rule.

    By the symmetry :math:`(y, z) \to (-y, -z)` it suffices to take :math:`y = +1`, so
    :math:`x = \mu + z`. With :math:`W = [w_g\; w_v]` and :math:`(A, B) = W^\top z`,
    :math:`z = W^{-\top}(A, B)` in the plane, so for :math:`s = \hat y\,1\{\text{kept}\}`

    .. math::  \E[s\,x] = \mu\,\E[s] + W^{-\top}\big(\E[sA], \E[sB]\big).

    none: :math:`\E[s] = 2\Phi(\alpha_g)-1`, :math:`\E[s z] = 2\varphi(\alpha_g) w_g`
    (:math:`\alpha_g = m\cos\theta_g`); oracle: :math:`\E[s] = \Phi(\alpha_g)`,
    :math:`\E[s z] = \varphi(\alpha_g) w_g`; verifier: :math:`s = 1\{a>0,b>0\} - 1\{a<0,b<0\}`, two
    orthants of a correlated Gaussian pair (:math:`\rho = w_g^\top w_v`).
    """
    m = require_float("m", m, low=0.0, low_open=True)
    theta_gen = require_float("theta_gen", theta_gen, low=0.0, high=np.pi / 2, high_open=True)
    rule = require_choice("rule", rule, RULES)
    theta_ver = require_float("theta_ver", theta_ver, low=-np.pi, high=np.pi)
    w_g, w_v = _directions(theta_gen, theta_ver)
    mu = np.array([m, 0.0])
    alpha_g = m * np.cos(theta_gen)
    if rule == "none":
        return Selection(1.0, float(ndtr(-alpha_g)), mu * (2 * ndtr(alpha_g) - 1) + 2 * _phi(alpha_g) * w_g)
    if rule == "oracle":
        keep = float(ndtr(alpha_g))
        return Selection(keep, 0.0, (mu * keep + _phi(alpha_g) * w_g) / keep)
    rho = float(w_g @ w_v)
    if rho >= 1 - 1e-12:            # the verifier is the generator: it keeps everything
        return selection(m, theta_gen, "none")
    if rho <= -1 + 1e-12:
        raise ValueError("the verifier is the generator's opposite: it keeps nothing")
    alpha_v = m * np.cos(theta_ver)
    p_pp = _orthant(-alpha_g, -alpha_v, rho)         # generator says +1 and verifier agrees (y = +1)
    p_mm = _orthant(alpha_g, alpha_v, rho)           # generator says -1 (wrong) and verifier agrees
    e_a = _tail_moment(-alpha_g, -alpha_v, rho) + _tail_moment(alpha_g, alpha_v, rho)
    e_b = _tail_moment(-alpha_v, -alpha_g, rho) + _tail_moment(alpha_v, alpha_g, rho)
    keep = p_pp + p_mm
    e_s = p_pp - p_mm
    e_sz = np.linalg.solve(np.stack([w_g, w_v]), np.array([e_a, e_b]))   # W^{-T} (E[sA], E[sB])
    return Selection(keep, p_mm / keep, (mu * e_s + e_sz) / keep)


def limit_accuracy(m: float, theta_gen: float, rule: str = "none", theta_ver: float = 0.0) -> float:
    r"""Accuracy as :math:`N\to\infty`: :math:`\Phi(m\cos\angle(g,\mu))`."""
    return float(ndtr(m * selection(m, theta_gen, rule, theta_ver).cos))


def accuracy(n_generated, m: float, d: int, theta_gen: float, rule: str = "none",
             theta_ver: float = 0.0) -> np.ndarray:
    r"""Accuracy after training on the kept part of ``n_generated`` synthetic pairs.

    :math:`N = \kappa n` pairs are kept (:math:`\kappa` the keep rate) and
    :math:`\mathrm{acc} \approx \Phi(m\,g_1/\sqrt{\|g\|^2 + d/N})`, :math:`g_1 = g^\top\hat\mu`.
    """
    n = np.asarray(n_generated, dtype=float)
    if np.any(n <= 0):
        raise ValueError(f"n_generated must be positive; got {n_generated!r}")
    d = require_int("d", d, minimum=1)
    sel = selection(m, theta_gen, rule, theta_ver)
    return ndtr(m * sel.g[0] / np.sqrt(sel.g @ sel.g + d / (sel.keep_rate * n)))


def iid_flip_accuracy(n_kept, m: float, d: int, flip_rate: float) -> np.ndarray:
    r"""The rival: the same error rate, but flips independent of ``x`` (:mod:`theorylab.linear.mixtures`).

    Then :math:`g = (1-2p')\mu`, the limit is Bayes (:math:`p'<1/2`) whatever :math:`p'`.
    """
    from theorylab.linear import mixtures
    return mixtures.verified_accuracy(n_kept, flip_rate, m, d)


def breakdown_angle(m: float, theta_gen: float) -> float:
    r"""Verifier angle :math:`\theta_v^* \in (\theta_g, \pi)` at which :math:`g^\top\mu = 0` (root of the closed form).

    Past it the limit accuracy is below 1/2. By the reflection :math:`x \mapsto x - 2(\hat\mu^\top x)\hat\mu`,
    which swaps the classes and maps :math:`w_g` to the direction at angle :math:`\pi-\theta_g`, the root is
    exactly :math:`\pi - \theta_g`; this function finds it numerically, as a check of :func:`selection`.
    """
    f = lambda t: selection(m, theta_gen, "verifier", t).g[0]
    return float(optimize.brentq(f, theta_gen + 1e-6, np.pi, xtol=1e-12))


def proxy_breakdown_angle(m: float, theta_gen: float) -> float:
    r"""Verifier angle at which the kept error rate :math:`p'` crosses 1/2 (the flip-model breakdown)."""
    f = lambda t: selection(m, theta_gen, "verifier", t).flip_rate - 0.5
    return float(optimize.brentq(f, theta_gen + 1e-6, np.pi, xtol=1e-12))


def simulate_accuracy(n_generated, m: float, d: int, theta_gen: float, rule: str, theta_ver,
                      gen: np.random.Generator, reps: int = 1) -> np.ndarray:
    r"""Train on real synthetic samples: test accuracies, shape (reps, len(theta_ver), len(n_generated)).

    Each replica draws ``max(n_generated)`` pairs :math:`(y, x)` in the plane of :math:`(\mu, w_g, w_v)`,
    labels them with the generator, lets the rule (a real linear verifier applied to each ``x``, or the
    true labels) decide which to keep, and forms the in-plane part of :math:`\hat w` from the kept
    prefix of length ``n``. The other :math:`d-2` coordinates of :math:`\hat y_i z_i` are independent
    of everything else and standard normal, so their sum over the ``N`` kept pairs has squared norm
    :math:`\chi^2_{d-2}\cdot N`, drawn exactly. The accuracy of the trained direction is exact:
    :math:`\Phi(\hat w^\top\mu/\|\hat w\|)`. All verifier angles see the same samples.
    """
    rule = require_choice("rule", rule, RULES)
    d, reps = require_int("d", d, minimum=3), require_int("reps", reps, minimum=1)
    m = require_float("m", m, low=0.0, low_open=True)
    ns = np.atleast_1d(np.asarray(n_generated, dtype=np.int64))
    thetas = np.atleast_1d(np.asarray(theta_ver, dtype=float))
    if np.any(ns < 1):
        raise ValueError(f"n_generated must be positive integers; got {n_generated!r}")
    n_max = int(ns.max())
    out = np.empty((reps, thetas.size, ns.size))
    for r in range(reps):
        y = np.where(gen.random(n_max) < 0.5, -1.0, 1.0)
        xy = gen.standard_normal((n_max, 2))
        xy[:, 0] += y * m
        chi = gen.chisquare(d - 2, size=(thetas.size, ns.size))
        y_hat = np.where(xy @ _directions(theta_gen, 0.0)[0] > 0, 1.0, -1.0)
        yx = y_hat[:, None] * xy
        for j, tv in enumerate(thetas):
            if rule == "none":
                keep = np.ones(n_max, bool)
            elif rule == "oracle":
                keep = y_hat == y
            else:
                keep = y_hat * (xy @ _directions(theta_gen, tv)[1]) > 0
            if ns.size == 1:                                                  # one size: a plain masked sum
                s = yx[:n_max][keep].sum(0)[None, :]
                kept = np.array([keep.sum()], dtype=float)
            else:                                                             # sum of y_hat x over each kept prefix
                s = np.cumsum(keep[:, None] * yx, axis=0)[ns - 1]
                kept = np.cumsum(keep)[ns - 1].astype(float)
            along, across = s[:, 0], s[:, 1]
            norm2 = along**2 + across**2 + chi[j] * np.maximum(kept, 1.0)
            acc = ndtr(m * along / np.sqrt(norm2))
            out[r, j] = np.where(kept > 0, acc, 0.5)
    return out


def audit_flip_rate(n_audit: int, m: float, theta_gen: float, theta_ver, gen: np.random.Generator) -> np.ndarray:
    r"""The measurable proxy: error rate of the verifier-kept labels on ``n_audit`` pairs with known truth.

    Simulated twin of ``selection(..., "verifier", theta_ver).flip_rate``; one audit set (shared by all
    angles), shape ``(len(theta_ver),)``; NaN where the verifier keeps nothing.
    """
    n_audit = require_int("n_audit", n_audit, minimum=1)
    thetas = np.atleast_1d(np.asarray(theta_ver, dtype=float))
    y = np.where(gen.random(n_audit) < 0.5, -1.0, 1.0)
    xy = gen.standard_normal((n_audit, 2))
    xy[:, 0] += y * m
    out = np.full(thetas.size, np.nan)
    for j, tv in enumerate(thetas):
        w_g, w_v = _directions(theta_gen, tv)
        y_hat = np.where(xy @ w_g > 0, 1.0, -1.0)
        keep = y_hat * (xy @ w_v) > 0
        if keep.any():
            out[j] = float(np.mean(y_hat[keep] != y[keep]))
    return out
