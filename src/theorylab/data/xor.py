r"""XOR cluster data with label noise, and its Bayes-optimal accuracy.

A clean example is :math:`x = z + \xi` with :math:`z` uniform on the four cluster means
:math:`\{\pm\mu_1, \pm\mu_2\}`, :math:`\mu_1 \perp \mu_2`, :math:`\|\mu_1\| = \|\mu_2\| = r`, noise
:math:`\xi \sim N(0, I_d)`, and clean label :math:`\tilde y = +1` on :math:`\pm\mu_1`, :math:`-1` on
:math:`\pm\mu_2` (an XOR: no linear classifier beats chance). The observed label is
:math:`y = \tilde y` with probability :math:`1-\eta` and :math:`-\tilde y` otherwise.

Reference: Xu, Wang, Frei, Vardi & Hu, *Benign Overfitting and Grokking in ReLU Networks for XOR
Cluster Data*, ICLR 2024 (arXiv 2310.02541), Section 2 (the distribution).

Two samplers produce the same law. :func:`sample` draws explicit vectors in :math:`\mathbb R^d`.
:func:`frame` draws the coordinates of the training points *and* of the network's Gaussian initial
weights in an orthonormal frame of their span (dimension :math:`k = 2 + n + m`, not :math:`d`):
gradient descent on a two-layer network keeps every weight vector in that span and is rotation
equivariant, so the frame coordinates give exactly the same training run in distribution, at a cost
that does not grow with :math:`d`. The noise vectors and initial weights are rows of a Gaussian
matrix; their components orthogonal to :math:`\mu_1, \mu_2` are drawn through the Bartlett
decomposition :math:`Z = L Q` (:math:`L` lower triangular with :math:`L_{ii} \sim \chi_{d-1-i}`,
:math:`L_{ij} \sim N(0, 1)` below the diagonal, :math:`Q` orthonormal rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ..runtime import require_float, require_int


@dataclass(frozen=True)
class XorSample:
    """A training set (and, from :func:`frame`, the initial weights) for a batch of replicas.

    x: (S, n, k) inputs; y: (S, n) observed labels in {-1, +1}; y_clean: (S, n) clean labels;
    flipped: (S, n) bool, y != y_clean; cluster: (S, n) in {0, 1, 2, 3} for +mu1, -mu1, +mu2, -mu2;
    w0: (S, m, k) initial first-layer weights (None from :func:`sample`); r: the mean norm;
    d: the ambient dimension (k = d for :func:`sample`).
    """

    x: np.ndarray
    y: np.ndarray
    y_clean: np.ndarray
    flipped: np.ndarray
    cluster: np.ndarray
    w0: np.ndarray | None
    r: float
    d: int


SIGNS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])   # cluster c has mean r * SIGNS[c] in (e1, e2)
CLEAN_LABEL = np.array([1.0, 1.0, -1.0, -1.0])


def _labels(n: int, eta: float, gen: np.random.Generator, balanced: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cluster indices (n,) and flip flags (n,): i.i.d., or exactly n/4 per cluster with round(eta n/4) flips each."""
    if not balanced:
        return gen.integers(0, 4, n), gen.random(n) < eta
    q = n // 4
    cluster, flipped = np.repeat(np.arange(4), q), np.tile(np.arange(q) < round(eta * q), 4)
    order = gen.permutation(n)
    return cluster[order], flipped[order]


def _check(n: int, d: int, r: float, eta: float, balanced: bool) -> None:
    require_int("n", n, minimum=1)
    require_int("d", d, minimum=3)
    require_float("r", r, low=0.0)
    require_float("eta", eta, low=0.0, high=0.5)
    if balanced and n % 4:
        raise ValueError(f"n must be a multiple of 4 when balanced=True; got {n}")


def _assemble(z_noise: np.ndarray, cluster: np.ndarray, flipped: np.ndarray, r: float) -> tuple[np.ndarray, ...]:
    x = z_noise.copy()
    x[..., :2] += r * SIGNS[cluster]
    y_clean = CLEAN_LABEL[cluster]
    return x, np.where(flipped, -y_clean, y_clean), y_clean


def sample(n: int, d: int, r: float, eta: float, gens: list[np.random.Generator], *,
           balanced: bool = False) -> XorSample:
    """Explicit training sets in R^d, one per generator (mu1 = r e1, mu2 = r e2).

    ``balanced`` puts exactly n/4 points in each cluster and flips exactly round(eta n/4) labels in
    each (the sample then has no net linear signal; see the chapter). Returns x of shape (S, n, d).
    """
    _check(n, d, r, eta, balanced)
    out = []
    for g in gens:
        cluster, flipped = _labels(n, eta, g, balanced)
        out.append((*_assemble(g.standard_normal((n, d)), cluster, flipped, r), flipped, cluster))
    x, y, yc, fl, cl = (np.stack(a) for a in zip(*out))
    return XorSample(x, y, yc, fl, cl, None, float(r), int(d))


def bartlett(p: int, dof: int, gen: np.random.Generator) -> np.ndarray:
    r"""Lower-triangular L (p, p) with L L^T distributed as the Gram matrix of p standard Gaussian vectors in R^dof.

    .. math:: L_{ii} \sim \chi_{\mathrm{dof}-i+1},\quad L_{ij} \sim N(0, 1)\ (j < i)

    (Bartlett decomposition of the Wishart law; rows of L are the vectors' coordinates in the
    orthonormal frame that Gram-Schmidt builds from them).
    """
    if dof < p:
        raise ValueError(f"dof must be >= p = {p}; got {dof}")
    low = np.tril(gen.standard_normal((p, p)), -1)
    return low + np.diag(np.sqrt(gen.chisquare(dof - np.arange(p))))


def frame(n: int, m: int, d: int, r: float, eta: float, omega: float, gens: list[np.random.Generator], *,
          balanced: bool = False) -> XorSample:
    r"""Training set and initial weights w_j(0) ~ N(0, omega^2 I_d) in frame coordinates (k = 2 + n + m).

    Coordinates 0, 1 are along mu1/r, mu2/r; the other n + m are the Bartlett frame of the noise
    vectors and initial weights orthogonal to the means. Exact in distribution for any rotation-
    equivariant training of a network whose first layer starts at w0 (see the module docstring).
    Returns x (S, n, k) and w0 (S, m, k).
    """
    _check(n, d, r, eta, balanced)
    require_int("m", m, minimum=1)
    require_float("omega", omega, low=0.0)
    if d - 2 < n + m:
        raise ValueError(f"d must be >= n + m + 2 = {n + m + 2} for the frame; got {d}")
    xs, ws, ys, ycs, fls, cls = [], [], [], [], [], []
    for g in gens:
        cluster, flipped = _labels(n, eta, g, balanced)
        z = np.concatenate([g.standard_normal((n + m, 2)), bartlett(n + m, d - 2, g)], axis=1)   # (n + m, k)
        x, y, yc = _assemble(z[:n], cluster, flipped, r)
        xs.append(x), ws.append(omega * z[n:]), ys.append(y), ycs.append(yc), fls.append(flipped), cls.append(cluster)
    return XorSample(np.stack(xs), np.stack(ys), np.stack(ycs), np.stack(fls), np.stack(cls), np.stack(ws),
                     float(r), int(d))


def test_points(n_test: int, k: int, r: float, gens: list[np.random.Generator], *,
                balanced: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh clean test points in a k-dimensional frame (their projection on it), one set per generator.

    A fresh noise vector projects to N(0, I_k) on any orthonormal frame independent of it, which is
    all a network whose weights lie in the frame can see. ``balanced`` puts n_test/4 points in each
    cluster (removes the sampling noise of the cluster proportions). Returns x (S, n_test, k),
    clean labels (S, n_test) and clusters (S, n_test).
    """
    out = []
    for g in gens:
        cluster, _ = _labels(n_test, 0.0, g, balanced and n_test % 4 == 0)
        x, _, yc = _assemble(g.standard_normal((n_test, k)), cluster, np.zeros(n_test, bool), r)
        out.append((x, yc, cluster))
    return tuple(np.stack(a) for a in zip(*out))


def bayes_accuracy(r: float | np.ndarray, eta: float = 0.0) -> np.ndarray:
    r"""Accuracy of the Bayes-optimal classifier on XOR cluster data (closed form).

    The Bayes rule is :math:`\operatorname{sign}(|\langle x, \mu_1\rangle| - |\langle x, \mu_2\rangle|)`.
    With :math:`U, V` the noise components along the means, it is right on a clean point iff
    :math:`(r + U - V)(r + U + V) > 0`, and :math:`(U \mp V)/\sqrt2` are independent standard normals, so

    .. math:: A^*_{\text{clean}} = \Phi(r/\sqrt2)^2 + \Phi(-r/\sqrt2)^2,
              \qquad A^*_\eta = \eta + (1 - 2\eta)\,A^*_{\text{clean}}

    against labels flipped with probability :math:`\eta < 1/2` (the rule is the same).
    """
    require_float("eta", eta, low=0.0, high=0.5)
    p = ndtr(np.asarray(r, dtype=np.float64) / np.sqrt(2.0))
    clean = p**2 + (1.0 - p) ** 2
    return eta + (1.0 - 2.0 * eta) * clean


def bayes_predict(x: np.ndarray) -> np.ndarray:
    """The Bayes-optimal prediction sign(|x_1| - |x_2|) for points in frame or explicit coordinates (..., k)."""
    return np.where(np.abs(x[..., 0]) > np.abs(x[..., 1]), 1.0, -1.0)


def bayes_accuracy_mc(r: float, eta: float, n_points: int, gen: np.random.Generator) -> float:
    """Monte Carlo twin of :func:`bayes_accuracy`: the Bayes rule on ``n_points`` noisy-label draws."""
    cluster, flipped = _labels(n_points, eta, gen, False)
    x, y, _ = _assemble(gen.standard_normal((n_points, 2)), cluster, flipped, r)
    return float(np.mean(bayes_predict(x) == y))


def net_linear_signal(sample: XorSample) -> np.ndarray:
    r"""The mean-direction part of :math:`\sum_i y_i x_i`, in units of r: (S, 2) = sum_i y_i * SIGNS[c_i].

    XOR cancels it in expectation; a finite i.i.d. sample leaves a random remainder of order
    :math:`\sqrt n` that a balanced sample removes exactly (see the chapter's *Where it breaks*).
    """
    return np.einsum("sn,snk->sk", sample.y, SIGNS[sample.cluster])


def to_frame(x: np.ndarray, w0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate explicit vectors of R^d onto the frame (e1, e2, Gram-Schmidt of the data and of w0).

    x: (n, d) with the means along e1, e2; w0: (m, d). Returns (x q, w0 q, q) with q (d, 2 + n + m)
    orthonormal columns, the first two being e1 and e2 (the coordinates :func:`frame` samples).
    """
    d = x.shape[-1]
    q, _ = np.linalg.qr(np.concatenate([np.eye(2, d), x, w0]).T)
    q[:, :2] = np.eye(d, 2)                                   # QR returns +-e1, +-e2 there: fix the signs
    return x @ q, w0 @ q, q
