r"""Max-margin linear classifiers in the l1, l2 and l_inf norms, and the margins of a given vector.

For separable data :math:`(x_i, y_i)_{i \le n}`, :math:`y_i \in \{\pm 1\}`, the normalized margin of
:math:`w \ne 0` in the norm :math:`\|\cdot\|_p` and the max margin are

.. math::  \gamma_p(w) = \min_i \frac{y_i \langle w, x_i\rangle}{\|w\|_p}, \qquad
           \gamma_p^\star = \max_{\|w\|_p \le 1} \min_i y_i \langle w, x_i\rangle .

The l_inf and l1 problems are linear programs (scipy's HiGHS):

.. math::  \max_{w, t} t \ \text{s.t.}\ y_i\langle w, x_i\rangle \ge t,\ -1 \le w_j \le 1
           \qquad\text{and, with } w = u - v,\ u, v \ge 0:\ \sum_j (u_j + v_j) \le 1 .

The l2 problem is the hard-margin SVM without bias, the quadratic program
:math:`\min \tfrac12\|w\|_2^2` s.t. :math:`y_i\langle w, x_i\rangle \ge 1`, solved here through its
dual, a bound-constrained QP :math:`\max_{\alpha \ge 0} \sum_i\alpha_i - \tfrac12\|\sum_i
\alpha_i y_i x_i\|^2` (L-BFGS-B), then polished on its support set. Its solution
:math:`w = \sum_i \alpha_i y_i x_i` gives :math:`\gamma_2^\star = 1/\|w\|_2`.

Reference: Gunasekar, Lee, Soudry & Srebro (2018), Section 3, for why these are the limits of
steepest descent in the respective norms; Tsilivis, Vardi & Kempe (2025) for homogeneous networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, minimize

NORMS = ("l2", "linf", "l1")
_ORD = {"l2": 2, "linf": np.inf, "l1": 1}
DUAL = {"l2": "l2", "linf": "l1", "l1": "linf"}


def require_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
    return norm


def norm_of(w: np.ndarray, norm: str) -> np.ndarray:
    """The norm of the last axis: (..., d) -> (...)."""
    return np.linalg.norm(np.asarray(w, dtype=np.float64), ord=_ORD[require_norm(norm)], axis=-1)


def _check_data(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (n, d) and y (n,); got {x.shape} and {y.shape}")
    if not np.all(np.abs(y) == 1):
        raise ValueError("y must hold labels +1 and -1")
    return x, y


def margin(w: np.ndarray, x: np.ndarray, y: np.ndarray, norm: str) -> np.ndarray:
    r"""Normalized margin :math:`\min_i y_i\langle w, x_i\rangle / \|w\|_p` of one or many w: (..., d) -> (...)."""
    x, y = _check_data(x, y)
    w = np.asarray(w, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # w = 0 gives nan
        return ((w @ x.T) * y).min(axis=-1) / norm_of(w, norm)


@dataclass(frozen=True)
class MaxMargin:
    """The max-margin direction ``w`` (unit norm), its margin ``gamma`` and the norm's name."""

    w: np.ndarray
    gamma: float
    norm: str


def max_margin(x: np.ndarray, y: np.ndarray, norm: str) -> MaxMargin:
    """Solve the max-margin problem in ``norm`` ("l2", "linf" or "l1"); raises if not separable.

    Args: x: (n, d) inputs; y: (n,) labels in {-1, +1}. Returns: :class:`MaxMargin` with ``w`` of
    unit ``norm`` and ``gamma`` = its margin (> 0).
    """
    x, y = _check_data(x, y)
    norm = require_norm(norm)
    w = _max_margin_l2(x, y) if norm == "l2" else _max_margin_lp(x, y, norm)
    w = w / norm_of(w, norm)
    gamma = float(margin(w, x, y, norm))
    if not gamma > 0:
        raise ValueError("the data are not linearly separable through the origin")
    return MaxMargin(w=w, gamma=gamma, norm=norm)


def _max_margin_lp(x: np.ndarray, y: np.ndarray, norm: str) -> np.ndarray:
    n, d = x.shape
    z = y[:, None] * x  # (n, d): rows y_i x_i
    if norm == "linf":  # variables (w, t)
        c = np.r_[np.zeros(d), -1.0]
        a_ub = np.c_[-z, np.ones(n)]  # t - y_i <w, x_i> <= 0
        res = linprog(c, A_ub=a_ub, b_ub=np.zeros(n), bounds=[(-1, 1)] * d + [(None, None)],
                      method="highs")
        w = res.x[:d] if res.success else None
    else:  # l1: variables (u, v, t), w = u - v
        c = np.r_[np.zeros(2 * d), -1.0]
        a_ub = np.vstack([np.c_[-z, z, np.ones(n)], np.r_[np.ones(2 * d), 0.0][None]])
        res = linprog(c, A_ub=a_ub, b_ub=np.r_[np.zeros(n), 1.0],
                      bounds=[(0, None)] * (2 * d) + [(None, None)], method="highs")
        w = res.x[:d] - res.x[d:2 * d] if res.success else None
    if w is None or -res.fun <= 0:
        raise ValueError("the data are not linearly separable through the origin")
    return w


def _max_margin_l2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = y[:, None] * x
    gram = z @ z.T

    def neg_dual(a: np.ndarray) -> tuple[float, np.ndarray]:
        ga = gram @ a
        return 0.5 * a @ ga - a.sum(), ga - 1.0

    res = minimize(neg_dual, np.zeros(len(y)), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * len(y), options=dict(maxiter=20_000, ftol=1e-15, gtol=1e-12))
    a = res.x
    if not np.isfinite(a).all() or a.sum() > 1e12:
        raise ValueError("the data are not linearly separable through the origin")
    # polish: on the support set the constraints are tight, z_S w = 1 with w = z_S^T a_S
    support = a > 1e-8 * a.max()
    a_s, *_ = np.linalg.lstsq(gram[np.ix_(support, support)], np.ones(support.sum()), rcond=None)
    if (a_s > 0).all():
        polished = z[support].T @ a_s
        if (z @ polished).min() >= 1 - 1e-9:
            return polished
    return z.T @ a


def brute_force_2d(x: np.ndarray, y: np.ndarray, norm: str, n_angles: int = 200_001,
                   margin_of=None) -> MaxMargin:
    """The max margin in 2-D by scanning the unit sphere of ``norm`` on a fine grid of angles.

    A second route for tests: w(phi) = (cos phi, sin phi) / ||(cos phi, sin phi)||_p. The error in
    gamma is O((2 pi / n_angles)^2) near a smooth optimum and O(2 pi / n_angles) at a kink.
    ``margin_of(w, x, y, norm)`` replaces the plain margin (the robust margin uses it).
    """
    x, y = _check_data(x, y)
    if x.shape[1] != 2:
        raise ValueError(f"brute_force_2d needs d = 2; got d = {x.shape[1]}")
    phi = np.linspace(0.0, 2 * np.pi, int(n_angles), endpoint=False)
    w = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    w /= norm_of(w, norm)[:, None]
    m = (margin if margin_of is None else margin_of)(w, x, y, norm)
    best = int(np.argmax(m))
    return MaxMargin(w=w[best], gamma=float(m[best]), norm=norm)


def sparse_teacher_data(n: int, d: int, k: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Gaussian inputs :math:`x_i \sim N(0, I_d)` labelled by a k-sparse Gaussian teacher, :math:`y_i = \operatorname{sign}\langle w_0, x_i\rangle`.

    Separable through the origin by construction; the l1, l2 and l_inf max-margin solutions differ
    (sparse, spread, and saturated at the cube's vertices). Returns x (n, d), y (n,).
    """
    if not 1 <= k <= d:
        raise ValueError(f"k must be in [1, d={d}]; got {k}")
    teacher = np.zeros(d)
    teacher[:k] = gen.standard_normal(k)
    x = gen.standard_normal((n, d))
    return x, np.where(x @ teacher >= 0, 1.0, -1.0)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean cosine of the last axes (the angle between two directions, whatever their norm)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
