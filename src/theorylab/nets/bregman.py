"""Bias and variance for Bregman losses: the central prediction is a mean in the dual space.

A strictly convex generator phi defines the Bregman divergence

    D(y, p) = phi(y) - phi(p) - <grad phi(p), y - p>,

and the dual coordinate of a prediction p is eta = grad phi(p) (so p = grad phi*(eta), phi* the
convex conjugate). Two losses are implemented, both with labels y that are one-hot vectors over C
classes drawn from a label distribution y_bar:

* ``"ce"``, cross-entropy: phi(p) = sum_k p_k log p_k on the simplex, D = KL(y || p), dual
  coordinates are logits (any additive constant), phi*(eta) = logsumexp(eta), p = softmax(eta);
* ``"se"``, squared error: phi(p) = |p|^2 / 2, D = |y - p|^2 / 2, eta = p, phi*(eta) = |eta|^2 / 2.

For a random prediction P independent of the label Y (Pfau's decomposition, in the dual form of
Adlam, Gupta, Mariet & Smith, arXiv 2202.04167, and Gupta, Smith, Adlam & Mariet, arXiv 2206.10566)

    E D(Y, P) = E D(Y, y_bar) + D(y_bar, p_c) + E D(p_c, P),    p_c = grad phi*(E eta),

noise + bias + variance, with the central prediction p_c the mean of the dual coordinate mapped
back; for cross-entropy it is the normalised geometric mean of the predicted distributions
(softmax of the mean logit). The variance is a Jensen gap of the conjugate,
E D(p_c, P) = E phi*(eta) - phi*(E eta), which gives the generalized law of total variance.

Arrays: ``eta`` has the ensemble axis first, shape (M, ..., C); labels ``y_bar`` (..., C).
Everything is float64 numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOSSES = ("ce", "se")


def _loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def logsumexp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log sum_k exp(a_k) along ``axis`` (stable)."""
    a = np.asarray(a, dtype=np.float64)
    top = a.max(axis=axis, keepdims=True)
    return np.log(np.exp(a - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def canonical(loss: str, eta: np.ndarray) -> np.ndarray:
    """Dual coordinates in canonical form: log-probabilities for "ce" (logits minus their
    logsumexp), unchanged for "se". Shape preserved."""
    eta = np.asarray(eta, dtype=np.float64)
    if _loss(loss) == "ce":
        return eta - logsumexp(eta)[..., None]
    return eta


def to_primal(loss: str, eta: np.ndarray) -> np.ndarray:
    """p = grad phi*(eta): softmax for "ce", identity for "se"."""
    return np.exp(canonical(loss, eta)) if _loss(loss) == "ce" else np.asarray(eta, dtype=np.float64)


def to_dual(loss: str, p: np.ndarray) -> np.ndarray:
    """eta = grad phi(p): log p for "ce" (on the simplex, up to a constant), p for "se"."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) if _loss(loss) == "ce" else p


def conjugate(loss: str, eta: np.ndarray) -> np.ndarray:
    """phi*(eta) = logsumexp(eta) for "ce", |eta|^2 / 2 for "se"; shape (...,) from (..., C)."""
    eta = np.asarray(eta, dtype=np.float64)
    return logsumexp(eta) if _loss(loss) == "ce" else 0.5 * (eta**2).sum(-1)


def divergence(loss: str, y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    r"""D(y, p) between a primal point y (..., C) and a prediction given by its dual eta (..., C).

    .. math::  D_{\rm ce}(y, p) = \sum_k y_k\log(y_k/p_k),\qquad D_{\rm se}(y, p) = \tfrac12|y-p|^2

    (0 log 0 = 0). Returns shape (...,).
    """
    y = np.asarray(y, dtype=np.float64)
    if _loss(loss) == "ce":
        logy = np.log(np.where(y > 0, y, 1.0))
        return (y * (logy - canonical(loss, eta))).sum(-1)
    return 0.5 * ((y - np.asarray(eta, dtype=np.float64)) ** 2).sum(-1)


def central(loss: str, eta: np.ndarray) -> np.ndarray:
    r"""Central prediction of the members ``eta`` (M, ..., C), in dual coordinates (..., C).

    .. math::  p_c = \nabla\phi^*\big(\mathbb E\,\nabla\phi(P)\big) = \arg\min_z \mathbb E\,D(z, P)

    For "ce": the mean log-probability, i.e. the normalised geometric mean of the members'
    distributions (Adlam et al. 2022, Sec. 3; Gupta et al. 2022, Sec. 2).
    """
    return canonical(loss, canonical(loss, eta).mean(0))


def variance(loss: str, eta: np.ndarray) -> np.ndarray:
    r"""Variance E D(p_c, P) of the members (M, ..., C) about their central prediction, (...,).

    Computed as the Jensen gap of the conjugate (the linear term vanishes at the mean):

    .. math::  \mathbb E\,D(p_c, P) = \mathbb E\,\phi^*(\eta) - \phi^*(\mathbb E\,\eta)

    For "ce" with log-probabilities this is -log sum_k exp(E log p_k), minus the log of the
    normaliser of the geometric mean.
    """
    eta = canonical(loss, eta)
    return conjugate(loss, eta).mean(0) - conjugate(loss, eta.mean(0))


def variance_direct(loss: str, eta: np.ndarray) -> np.ndarray:
    """Variance by its definition, the mean of D(p_c, P_m) over members (second route)."""
    return divergence(loss, to_primal(loss, central(loss, eta)), eta).mean(0)


def noise(loss: str, y_bar: np.ndarray) -> np.ndarray:
    r"""E D(Y, y_bar) for one-hot Y ~ y_bar (..., C): the entropy H(y_bar) for "ce",
    (1 - |y_bar|^2) / 2 for "se"."""
    y_bar = np.asarray(y_bar, dtype=np.float64)
    if _loss(loss) == "ce":
        return -(y_bar * np.log(np.where(y_bar > 0, y_bar, 1.0))).sum(-1)
    return 0.5 * (1.0 - (y_bar**2).sum(-1))


def expected_loss(loss: str, y_bar: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """E_Y E_P D(Y, P) for one-hot Y ~ y_bar (..., C) and members eta (M, ..., C), computed directly:
    sum_k y_bar_k D(e_k, P), averaged over members. Shape (...,)."""
    y_bar = np.asarray(y_bar, dtype=np.float64)
    c = y_bar.shape[-1]
    per_class = np.stack([divergence(loss, np.broadcast_to(np.eye(c)[k], y_bar.shape), eta) for k in range(c)], -1)
    return (per_class * y_bar).sum(-1).mean(0)


@dataclass(frozen=True)
class Decomposition:
    """Per-point terms of E D(Y, P) = noise + bias + variance (arrays of the same shape)."""

    loss: np.ndarray
    noise: np.ndarray
    bias: np.ndarray
    variance: np.ndarray


def decompose(loss: str, y_bar: np.ndarray, eta: np.ndarray) -> Decomposition:
    r"""Expected loss and its three terms for members ``eta`` (M, ..., C) and labels ``y_bar`` (..., C).

    .. math::  \mathbb E\,D(Y,P) = \underbrace{\mathbb E\,D(Y,\bar y)}_{\rm noise}
               + \underbrace{D(\bar y, p_c)}_{\rm bias} + \underbrace{\mathbb E\,D(p_c, P)}_{\rm variance}

    The loss is computed directly (:func:`expected_loss`), the terms separately, so their sum is
    a check (Pfau 2013; Gupta et al. 2022, Eq. of Sec. 2).
    """
    c = central(loss, eta)
    return Decomposition(loss=expected_loss(loss, y_bar, eta), noise=noise(loss, y_bar),
                         bias=divergence(loss, y_bar, c), variance=variance(loss, eta))


def total_variance_split(loss: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Generalized law of total variance for members indexed by (Z, W): ``eta`` (B, S, ..., C).

    .. math::  \mathbb E\,D(p_c, P) = \mathbb E_Z\,\mathbb E\big[D(p_c(Z), P)\mid Z\big]
               + \mathbb E_Z\,D\big(p_c, p_c(Z)\big)

    with p_c(Z) the central prediction given Z (Adlam et al. 2022, Thm. on the law of total
    variance; Gupta et al. 2022, Sec. 3). Returns (total, within, between), each (...,): the
    variance over all B*S members, the mean over Z of the variance given Z, and the variance of
    the conditional central predictions.
    """
    eta = canonical(loss, eta)
    if eta.ndim < 3:
        raise ValueError(f"eta must have shape (B, S, ..., C), got {eta.shape}")
    total = variance(loss, eta.reshape(-1, *eta.shape[2:]))
    within = variance(loss, np.moveaxis(eta, 1, 0)).mean(0)
    between = variance(loss, eta.mean(1))
    return total, within, between


def _groups(eta: np.ndarray, k: int) -> np.ndarray:
    m = eta.shape[0]
    if not isinstance(k, (int, np.integer)) or k < 1 or m % k:
        raise ValueError(f"k must be a positive divisor of the number of members {m}, got {k!r}")
    return eta.reshape(m // k, k, *eta.shape[1:])


def dual_ensemble(loss: str, eta: np.ndarray, k: int) -> np.ndarray:
    r"""Disjoint k-member ensembles of the members (M, ..., C), averaged in the dual space.

    .. math::  \hat P_k = \nabla\phi^*\Big(\tfrac1k\sum_{i\le k}\nabla\phi(P_i)\Big)

    (for "ce": average the log-probabilities, i.e. a normalised geometric mean). Returns the
    ensembles' dual coordinates, (M // k, ..., C); members i*k .. i*k + k - 1 form ensemble i.
    """
    return canonical(loss, _groups(canonical(loss, eta), k).mean(1))


def primal_ensemble(loss: str, eta: np.ndarray, k: int) -> np.ndarray:
    r"""Disjoint k-member ensembles averaged in the primal (label) space: mean of probabilities.

    .. math::  \hat P_k = \tfrac1k\sum_{i\le k}P_i

    Returns dual coordinates (M // k, ..., C): log of the mean probability for "ce" (the same as
    :func:`dual_ensemble` for "se", where the two spaces coincide).
    """
    g = _groups(canonical(loss, eta), k)
    if _loss(loss) == "se":
        return g.mean(1)
    return logsumexp(np.moveaxis(g, 1, -1), axis=-1) - np.log(k)


def jensen_gap(eta: np.ndarray, k: int) -> np.ndarray:
    r"""Per-class Jensen gap of primal ensembling for cross-entropy, (..., C).

    .. math::  J_k = \mathbb E\log\hat P^{\rm primal}_{k} - \mathbb E\log P_{k} \;\ge\; 0

    (the log of a mean exceeds the mean of the logs). Expectations over the members (M, ..., C).
    """
    return primal_ensemble("ce", eta, k).mean(0) - canonical("ce", eta).mean(0)


def bias_shift(y_bar: np.ndarray, central_eta: np.ndarray, gap: np.ndarray) -> np.ndarray:
    r"""Change of the cross-entropy bias when the dual mean moves by the Jensen gap J (..., C).

    .. math::  D(\bar y, p_c') - D(\bar y, p_c) = \log\sum_k p_{c,k}\,e^{J_k} - \sum_k \bar y_k J_k,
               \qquad p_c' = \mathrm{softmax}(\log p_c + J)

    Negative (the bias falls) exactly when the gap is larger, on average under y_bar, than its
    softmax average under p_c. Returns (...,).
    """
    pc = to_primal("ce", central_eta)
    return logsumexp(np.log(pc) + gap) - (np.asarray(y_bar) * gap).sum(-1)


def quadratic_variance(loss: str, eta: np.ndarray) -> np.ndarray:
    r"""Second-order (delta-method) variance: (1/2) E (eta - mu)^T H (eta - mu), H = Hess phi*(mu).

    For "ce", H = diag(p_c) - p_c p_c^T; for "se", H = I (and the result is exact). A k-member dual
    ensemble of independent members has this variance divided by k. Shape (...,).
    """
    eta = canonical(loss, eta)
    dev = eta - eta.mean(0)
    if _loss(loss) == "se":
        return 0.5 * (dev**2).sum(-1).mean(0)
    pc = to_primal(loss, eta.mean(0))
    return 0.5 * ((pc * dev**2).sum(-1) - (pc * dev).sum(-1) ** 2).mean(0)


def pooled_ensemble_variance(within: np.ndarray, between: np.ndarray, k: int, s: int) -> np.ndarray:
    r"""Predicted variance of k-member dual ensembles over W (same Z), from the split of a pool.

    For a pool of s members per value of Z whose dual coordinates are independent given Z, and to
    second order in their spread, the plug-in variances of the pool have expectations
    within = v_W (1 - 1/s) and between = (v_Z + v_W / s)(1 - 1/B); disjoint k-member ensembles over
    W then have plug-in variance, in expectation,

    .. math::  V_k = \text{between} + \text{within}\,\frac{s - k}{k\,(s - 1)}

    so V_1 = within + between and V_s = between (exact at both ends). The ``within`` part falls
    like 1/k (a finite-pool correction of the 1/k law); the ``between`` part is untouched.
    """
    if not 1 <= k <= s:
        raise ValueError(f"k must lie in [1, s] = [1, {s}], got {k}")
    return np.asarray(between) + np.asarray(within) * (s - k) / (k * (s - 1))


def data_variance(within: np.ndarray, between: np.ndarray, s: int, b: int) -> np.ndarray:
    r"""Estimate of the data part v_Z (1 - 1/B), corrected for the initialisation noise that leaks
    into the conditional central predictions of a pool with s members per data set.

    .. math::  \widehat{v_Z}\,(1 - 1/B) = \text{between} - \text{within}\,\frac{1 - 1/B}{s - 1}

    (second order, members independent given Z; see :func:`pooled_ensemble_variance`). The plain
    ``between`` over-counts by v_W (1 - 1/B) / s: a conditional estimate made from finitely many
    initialisations per data set carries part of the initialisation variance.
    """
    if s < 2 or b < 1:
        raise ValueError(f"s must be >= 2 and b >= 1, got s={s}, b={b}")
    return np.asarray(between) - np.asarray(within) * (1 - 1 / b) / (s - 1)


def subset_ensemble_variance(loss: str, eta: np.ndarray, k: int, chunk: int = 16) -> np.ndarray:
    r"""Variance of *all* C(S, k) dual ensembles of k members that share a value of Z, (...,).

    ``eta`` has shape (B, S, ..., C). Every k-subset of the S members of each data set is averaged
    in the dual space, and the mean of D(p_c, ensemble) is taken over all B * C(S, k) ensembles,
    p_c the central prediction of the whole pool (which is also the ensembles' central prediction,
    by symmetry). For squared error this is exactly, for every pool, the finite-population law

    .. math::  V_k = \text{between} + \text{within}\,\frac{S - k}{k\,(S - 1)}

    of :func:`pooled_ensemble_variance` ((S - k)/(S - 1) is the correction for sampling without
    replacement); for cross-entropy it holds to second order. Subsets are visited in chunks.
    """
    from itertools import combinations, islice

    eta = canonical(loss, eta)
    if eta.ndim < 3:
        raise ValueError(f"eta must have shape (B, S, ..., C), got {eta.shape}")
    s = eta.shape[1]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= s:
        raise ValueError(f"k must be an integer in [1, S] = [1, {s}], got {k!r}")
    p_c = to_primal(loss, central(loss, eta.reshape(-1, *eta.shape[2:])))
    subsets, total, count = combinations(range(s), k), 0.0, 0
    while idx := list(islice(subsets, chunk)):
        ens = eta[:, np.array(idx)].mean(2)                               # (B, m, ..., C)
        total = total + divergence(loss, p_c, ens).sum((0, 1))
        count += ens.shape[0] * ens.shape[1]
    return total / count
