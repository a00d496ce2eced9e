r"""Adversarially robust linear classification: the dual-norm robust loss, robust max margins, robust error.

Under perturbations :math:`\|\delta\|_p \le \epsilon` the worst case of a linear score is exact
(Hölder's inequality, attained at a vertex of the ball for :math:`p = \infty`):

.. math::  \min_{\|\delta\|_p \le \epsilon} y\langle w, x + \delta\rangle = y\langle w, x\rangle - \epsilon\|w\|_{p^*},
           \qquad \tfrac1p + \tfrac1{p^*} = 1 ,

so robust ERM with a decreasing loss :math:`\ell` minimizes :math:`\sum_i \ell(y_i\langle w, x_i\rangle - \epsilon\|w\|_{p^*})`.
Steepest descent in :math:`\ell_r` on this loss converges in direction to the robust max-margin solution

.. math::  \arg\min \|w\|_r \ \text{s.t.}\ y_i\langle w, x_i\rangle - \epsilon\|w\|_{p^*} \ge 1
           \;\propto\; \arg\max_{\|w\|_r \le 1} \min_i \big(y_i\langle w, x_i\rangle - \epsilon\|w\|_{p^*}\big).

The threat model here is :math:`\ell_\infty` (:math:`p^* = 1`). For :math:`r \in \{1, \infty\}` the problem is
a linear program; for :math:`r = 2` it is a convex QP solved through its dual,
:math:`\max_{\alpha \ge 0} \sum_i \alpha_i - \tfrac12\|S_{\epsilon\sum\alpha}(\sum_i \alpha_i y_i x_i)\|_2^2` with the
soft threshold :math:`S_\tau(g) = \operatorname{sign}(g)\max(|g| - \tau, 0)` and :math:`w = S_\tau(\cdot)`.
The diagonal network :math:`w = u\odot u - v\odot v` trained from a small initialization carries an
:math:`\ell_1` bias instead of gradient descent's :math:`\ell_2` one.

Reference: Tsilivis, Frank, Srebro & Kempe (2024), The Price of Implicit Bias in Adversarially Robust
Generalization (NeurIPS), Sections 3-4. Everything is float64; losses are kept in the log domain.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import linprog, minimize

from ..runtime import require_float, require_int
from . import margin as _margin
from . import steepest
from .margin import MaxMargin, _check_data, norm_of, require_norm

GEOMETRIES = ("l2", "l1", "linf")
__all__ = ["GEOMETRIES", "RobustRun", "brute_force_2d", "margin_bound", "rademacher_bound", "rademacher_monte_carlo",
           "rademacher_teacher_data", "robust_error", "robust_error_exact", "robust_log_loss", "robust_margin",
           "robust_margins", "robust_max_margin", "soft_threshold", "teacher", "train_diagonal", "train_steepest",
           "worst_case_brute_force"]


# ------------------------------------------------------------------------------- robust margin
def robust_margins(w: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""Worst-case margins :math:`y_i\langle w, x_i\rangle - \epsilon\|w\|_1` under :math:`\ell_\infty` attacks.

    Args: w (..., d), x (n, d), y (n,), eps a scalar or an array broadcasting against w's batch shape.
    Returns (..., n).
    """
    w = np.asarray(w, dtype=np.float64)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return y * (w @ x.T) - np.asarray(eps, dtype=np.float64)[..., None] * np.abs(w).sum(-1, keepdims=True)


def worst_case_brute_force(w: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    r""":math:`\min_\delta y_i\langle w, x_i + \delta\rangle` over the :math:`2^d` vertices :math:`\delta \in \epsilon\{\pm1\}^d`.

    A second route to :func:`robust_margins` (a linear function on the cube is smallest at a vertex);
    only for small d. Args: w (d,), x (n, d), y (n,). Returns (n,).
    """
    w = np.asarray(w, dtype=np.float64)
    d = w.shape[-1]
    if d > 16:
        raise ValueError(f"brute force over 2^d vertices needs d <= 16; got d = {d}")
    vertices = eps * np.array(list(itertools.product((-1.0, 1.0), repeat=d)))  # (2^d, d)
    scores = y[:, None] * ((np.asarray(x, float)[:, None, :] + vertices[None]) @ w)  # (n, 2^d)
    return scores.min(axis=1)


def robust_log_loss(w: np.ndarray, x: np.ndarray, y: np.ndarray,
                    eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Robust exponential loss in log domain and its gradient, as adversarial training computes it.

    :math:`\log L = \epsilon\|w\|_1 + \log\sum_i e^{-y_i\langle w, x_i\rangle}` and
    :math:`\nabla\log L = \epsilon\operatorname{sign}(w) - \sum_i p_i y_i x_i` with :math:`p = \mathrm{softmax}(-y_i\langle w, x_i\rangle)`:
    the gradient at the worst-case points :math:`x_i - \epsilon y_i\operatorname{sign}(w)` (Danskin; sign(0) = 0).
    Shapes: w (K, S, d), x (S, n, d), y (S, n), eps (K, S) -> (K, S) and (K, S, d).
    """
    m = y * (x @ w[..., None])[..., 0]  # (K, S, n)
    top = (-m).max(axis=-1, keepdims=True)
    e = np.exp(-m - top)
    total = e.sum(axis=-1, keepdims=True)
    p = e / total
    log_l = eps * np.abs(w).sum(-1) + (top + np.log(total))[..., 0]
    grad = eps[..., None] * np.sign(w) - ((p * y)[..., None, :] @ x)[..., 0, :]
    return log_l, grad


@dataclass(frozen=True)
class RobustRun:
    """Snapshots of robust training: ``step`` (R,), ``w`` (R, K, S, d) and ``log_loss`` (R, K, S)."""

    step: np.ndarray
    w: np.ndarray
    log_loss: np.ndarray


def train_steepest(x: np.ndarray, y: np.ndarray, eps: Sequence[float], norm: str, lr: float, steps: int,
                   record_every: int = 100) -> RobustRun:
    r"""Normalized steepest descent in ``norm`` on the robust loss, from w = 0, for every eps and seed at once.

    :math:`w \leftarrow w - \eta\,u(\nabla\log L)` with the unit steepest direction of
    :func:`theorylab.optim.steepest.direction` (``"l2"`` gradient descent, ``"l1"`` coordinate descent).
    Args: x (S, n, d), y (S, n), eps (K,). Returns a :class:`RobustRun` with K = len(eps).
    """
    norm = require_norm(norm)
    lr = require_float("lr", lr, low=0.0, low_open=True)
    steps = require_int("steps", steps, minimum=1)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    e = np.broadcast_to(np.asarray(eps, dtype=np.float64)[:, None], (len(eps), x.shape[0])).copy()
    w = np.zeros((len(eps), x.shape[0], x.shape[2]))
    rec = []
    for t in range(steps + 1):
        log_l, g = robust_log_loss(w, x, y, e)
        if t % record_every == 0 or t == steps:
            rec.append((t, w.copy(), log_l))
        if t < steps:
            w -= lr * steepest.direction(g, norm)
    return RobustRun(np.array([r[0] for r in rec]), np.stack([r[1] for r in rec]), np.stack([r[2] for r in rec]))


def train_diagonal(x: np.ndarray, y: np.ndarray, eps: Sequence[float], init: float, lr: float, steps: int,
                   record_every: int = 100) -> RobustRun:
    r"""Gradient descent on a diagonal network :math:`w = u\odot u - v\odot v` with the robust loss.

    Starts from :math:`u = v = \alpha\mathbf 1` (so w = 0) and steps
    :math:`\theta \leftarrow \theta - \eta\,\|\theta\|_2\,\nabla_\theta L/\|\nabla_\theta L\|_2` for
    :math:`\theta = (u, v)`, with :math:`\nabla_u L \propto 2u\odot g`, :math:`\nabla_v L \propto -2v\odot g` and
    :math:`g = \nabla_w\log L` of :func:`robust_log_loss`. Every step has the same length relative to
    :math:`\theta`: a change of clock of gradient flow (same path as :math:`\eta \to 0`), which keeps the
    early steps small next to the initialization and the late steps large enough to follow the
    direction while the weights grow. Small :math:`\alpha` gives the :math:`\ell_1` bias. Returns w's snapshots.
    """
    init = require_float("init", init, low=0.0, low_open=True)
    lr = require_float("lr", lr, low=0.0, low_open=True)
    steps = require_int("steps", steps, minimum=1)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    e = np.broadcast_to(np.asarray(eps, dtype=np.float64)[:, None], (len(eps), x.shape[0])).copy()
    u = np.full((len(eps), x.shape[0], x.shape[2]), init)
    v = u.copy()
    rec = []
    for t in range(steps + 1):
        w = u * u - v * v
        log_l, g = robust_log_loss(w, x, y, e)
        if t % record_every == 0 or t == steps:
            rec.append((t, w.copy(), log_l))
        if t < steps:
            gu, gv = 2 * u * g, -2 * v * g  # chain rule through w = u*u - v*v
            size = np.sqrt((u * u + v * v).sum(-1, keepdims=True) / ((gu * gu + gv * gv).sum(-1, keepdims=True)
                                                                     + np.finfo(float).tiny))
            u, v = u - lr * size * gu, v - lr * size * gv
    return RobustRun(np.array([r[0] for r in rec]), np.stack([r[1] for r in rec]), np.stack([r[2] for r in rec]))


# ------------------------------------------------------------------------------- robust max margin
def robust_margin(w: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float, norm: str) -> np.ndarray:
    r"""Normalized robust margin :math:`\min_i (y_i\langle w, x_i\rangle - \epsilon\|w\|_1)/\|w\|_r`: (..., d) -> (...)."""
    x, y = _check_data(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return robust_margins(w, x, y, eps).min(-1) / norm_of(w, norm)


def robust_max_margin(x: np.ndarray, y: np.ndarray, eps: float, norm: str) -> MaxMargin:
    r"""Solve :math:`\max_{\|w\|_r \le 1} \min_i (y_i\langle w, x_i\rangle - \epsilon\|w\|_1)` for r = ``norm``.

    ``"l1"`` and ``"linf"``: a linear program in :math:`w = a - b`, :math:`a, b \ge 0`; ``"l2"``: the dual
    described in the module docstring (L-BFGS-B), polished on its support. Raises ``ValueError`` if the
    data are not robustly separable at this eps. Returns :class:`~theorylab.optim.margin.MaxMargin`
    with ``w`` of unit r-norm and ``gamma`` its robust margin.
    """
    x, y = _check_data(x, y)
    norm = require_norm(norm)
    eps = require_float("eps", eps, low=0.0)
    w = _robust_l2(x, y, eps) if norm == "l2" else _robust_lp(x, y, eps, norm)
    w = w / norm_of(w, norm)
    gamma = float(robust_margin(w, x, y, eps, norm))
    if not gamma > 0:
        raise ValueError(f"the data are not robustly separable at eps = {eps}")
    return MaxMargin(w=w, gamma=gamma, norm=norm)


def _robust_lp(x: np.ndarray, y: np.ndarray, eps: float, norm: str) -> np.ndarray:
    n, d = x.shape
    z = y[:, None] * x
    # variables (a, b, t), w = a - b; eps * sum(a + b) >= eps * ||w||_1, tight at the optimum
    c = np.r_[np.zeros(2 * d), -1.0]
    rows = np.c_[-z + eps, z + eps, np.ones(n)]  # t - z_i (a - b) + eps 1'(a + b) <= 0
    if norm == "l1":
        a_ub, b_ub = np.vstack([rows, np.r_[np.ones(2 * d), 0.0][None]]), np.r_[np.zeros(n), 1.0]
    else:  # linf: a_j + b_j <= 1
        a_ub = np.vstack([rows, np.c_[np.eye(d), np.eye(d), np.zeros(d)]])
        b_ub = np.r_[np.zeros(n), np.ones(d)]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * (2 * d) + [(None, None)], method="highs")
    if not res.success or -res.fun <= 0:
        raise ValueError(f"the data are not robustly separable at eps = {eps}")
    w = res.x[:d] - res.x[d:2 * d]
    # certificate: at the optimum a + b = |w|, so the LP value is the robust margin of its own solution
    if abs(-res.fun - (z @ w - eps * np.abs(w).sum()).min()) > 1e-6:
        raise ArithmeticError("the robust LP's value is not the robust margin of its solution")
    return w


def soft_threshold(g: np.ndarray, tau: float | np.ndarray) -> np.ndarray:
    r""":math:`S_\tau(g) = \operatorname{sign}(g)\max(|g| - \tau, 0)`, the minimizer of :math:`\tfrac12\|w\|^2 - \langle g, w\rangle + \tau\|w\|_1`."""
    return np.sign(g) * np.maximum(np.abs(g) - tau, 0.0)


def _robust_l2(x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    z = y[:, None] * x

    def neg_dual(a: np.ndarray) -> tuple[float, np.ndarray]:
        w = soft_threshold(z.T @ a, eps * a.sum())
        return 0.5 * w @ w - a.sum(), z @ w - eps * np.abs(w).sum() - 1.0

    res = minimize(neg_dual, np.full(len(y), 1e-3), jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(y),
                   options=dict(maxiter=50_000, ftol=1e-16, gtol=1e-12))
    a = res.x
    w = soft_threshold(z.T @ a, eps * a.sum())
    if not np.isfinite(a).all() or a.sum() > 1e12 or not np.any(w):
        raise ValueError(f"the data are not robustly separable at eps = {eps}")
    # polish: with the sign pattern s of w on its support J fixed, the tight constraints read
    # (z_SJ - eps 1 s') w_J = 1 and w_J = (z_SJ - eps 1 s')' a_S: a linear system (an SVM on shifted data)
    support, coords = a > 1e-8 * a.max(), np.flatnonzero(w)
    s = np.sign(w[coords])
    m = z[np.ix_(support, coords)] - eps * s[None, :]
    a_s, *_ = np.linalg.lstsq(m @ m.T, np.ones(support.sum()), rcond=None)
    polished = np.zeros_like(w)
    polished[coords] = m.T @ a_s
    a_full = np.zeros_like(a)
    a_full[support] = a_s
    kkt = np.allclose(polished, soft_threshold(z.T @ a_full, eps * a_full.sum()), atol=1e-9)
    if (a_s > 0).all() and kkt and (z @ polished - eps * np.abs(polished).sum()).min() >= 1 - 1e-9:
        return polished
    return w


def brute_force_2d(x: np.ndarray, y: np.ndarray, eps: float, norm: str, n_angles: int = 200_001) -> MaxMargin:
    """The robust max margin in 2-D by scanning the unit sphere of ``norm`` (a second route for tests)."""
    return _margin.brute_force_2d(x, y, norm, n_angles,
                                  margin_of=lambda w, x_, y_, p: robust_margin(w, x_, y_, eps, p))


# ------------------------------------------------------------------------------- data and robust error
def rademacher_teacher_data(n: int, d: int, k: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Inputs uniform on :math:`\{\pm1\}^d`, labels :math:`y = \operatorname{sign}(x_1 + \dots + x_k)` (k odd: no ties).

    The teacher :math:`w^\star = \mathbf 1_{[k]}/k` has robust margin :math:`1/k - \epsilon`, so the data are
    robustly separable for every :math:`\epsilon < 1/k`. Returns x (n, d), y (n,).
    """
    n, d, k = require_int("n", n, minimum=1), require_int("d", d, minimum=1), require_int("k", k, minimum=1)
    if k > d or k % 2 == 0:
        raise ValueError(f"k must be odd and at most d = {d}; got {k}")
    x = gen.choice(np.array([-1.0, 1.0]), size=(n, d))
    return x, np.sign(x[:, :k].sum(axis=1))


def teacher(d: int, k: int) -> np.ndarray:
    """The teacher direction of :func:`rademacher_teacher_data`, normalized in l1: (d,)."""
    w = np.zeros(d)
    w[:k] = 1.0 / k
    return w


def robust_error(w: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    r"""Fraction of points that some :math:`\|\delta\|_\infty \le \epsilon` misclassifies: mean of :math:`y\langle w, x\rangle \le \epsilon\|w\|_1`.

    Evaluated on a large fresh sample this is the Monte Carlo robust test error (standard error
    :math:`\sqrt{p(1-p)/n}`). Args: w (..., d), x (n, d), y (n,). Returns (...).
    """
    return (robust_margins(w, x, y, eps) <= 0).mean(-1)


def robust_error_exact(w: np.ndarray, k: int, eps: float) -> float:
    r"""Exact robust test error on Rademacher inputs with teacher :math:`\operatorname{sign}(x_1 + \dots + x_k)`.

    Only the coordinates in the support of w and of the teacher matter, so the probability is an
    average over their :math:`2^{|J|}` sign patterns (needs :math:`|J| \le 16`). Weights below
    :math:`10^{-6}\|w\|_\infty` (a solver's tolerance: HiGHS leaves dust of order 1e-9) count as zero. Args: w (d,).
    """
    w = np.asarray(w, dtype=np.float64)
    w = np.where(np.abs(w) > 1e-6 * np.abs(w).max(), w, 0.0)
    coords = np.union1d(np.arange(k), np.flatnonzero(w))
    if len(coords) > 16:
        raise ValueError(f"exact enumeration needs at most 16 active coordinates; got {len(coords)}")
    patterns = np.array(list(itertools.product((-1.0, 1.0), repeat=len(coords))))  # (2^J, J); coords[:k] = teacher
    return float(robust_error(w[coords], patterns, np.sign(patterns[:, :k].sum(1)), eps))


# ------------------------------------------------------------------------------- Rademacher bound
def rademacher_bound(norm: str, n: int, d: int, eps: float | np.ndarray) -> np.ndarray:
    r"""Upper bound on the Rademacher complexity of the robust scores over the unit :math:`\ell_r` ball, inputs in :math:`\{\pm1\}^d`.

    For :math:`G_r = \{(x, y) \mapsto y\langle w, x\rangle - \epsilon\|w\|_1 : \|w\|_r \le 1\}`,
    :math:`\mathfrak R_n(G_r) \le \tfrac1n\mathbb E\|\sum_i\sigma_i x_i\|_{r^*} + \epsilon\, b_r/\sqrt n` with
    :math:`b_r = \sup_{\|w\|_r \le 1}\|w\|_1`. So :math:`\sqrt{d/n} + \epsilon\sqrt{d/n}` for r = 2 (Jensen) and
    :math:`\sqrt{2\log(2d)/n} + \epsilon/\sqrt n` for r = 1 (Massart's finite-class lemma).
    """
    norm = require_norm(norm)
    eps = np.asarray(eps, dtype=np.float64)
    if norm == "l2":
        return np.sqrt(d / n) + eps * np.sqrt(d) / np.sqrt(n)
    if norm == "l1":
        return np.sqrt(2 * np.log(2 * d) / n) + eps / np.sqrt(n)
    return d / np.sqrt(n) + eps * d / np.sqrt(n)  # linf: ||sum sigma x||_1 <= d sqrt(n), b = d


def rademacher_monte_carlo(x: np.ndarray, y: np.ndarray, eps: float, norm: str, draws: int,
                           gen: np.random.Generator) -> tuple[float, float]:
    r"""Empirical Rademacher complexity of :math:`G_r` on the sample, by Monte Carlo over the signs :math:`\sigma`.

    Returns the estimate and its standard error (over ``draws`` sign vectors).

    The supremum is exact: with :math:`a = \tfrac1n\sum_i\sigma_i y_i x_i` and :math:`c = \tfrac1n\sum_i\sigma_i`,
    :math:`\sup_{\|w\|_2\le1}\langle w, a\rangle - \epsilon c\|w\|_1` is :math:`\|S_{\epsilon c}(a)\|_2` for
    :math:`c \ge 0` and :math:`\|\,|a| + \epsilon|c|\,\|_2` otherwise; over the :math:`\ell_1` ball it is
    :math:`\max(\|a\|_\infty - \epsilon c, 0)`.
    """
    x, y = _check_data(x, y)
    norm = require_norm(norm)
    sigma = gen.choice(np.array([-1.0, 1.0]), size=(require_int("draws", draws, minimum=1), len(y)))
    a, c = (sigma * y) @ x / len(y), sigma.mean(1)
    if norm == "l2":
        sup = np.where(c >= 0, np.linalg.norm(soft_threshold(a, eps * np.maximum(c, 0)[:, None]), axis=1),
                       np.linalg.norm(np.abs(a) + eps * np.abs(c)[:, None], axis=1))
    elif norm == "l1":
        sup = np.maximum(np.abs(a).max(1) - eps * c, 0.0)
    else:
        raise ValueError("rademacher_monte_carlo supports norm 'l2' and 'l1'")
    return float(sup.mean()), float(sup.std(ddof=1) / np.sqrt(len(sup)))


def margin_bound(gamma: float | np.ndarray, norm: str, n: int, d: int, eps: float | np.ndarray,
                 delta: float = 0.05) -> np.ndarray:
    r"""Robust margin bound for a unit-:math:`\ell_r` classifier with robust margin :math:`\gamma` on all n points.

    :math:`\Pr(y\langle w, x\rangle \le \epsilon\|w\|_1) \le \tfrac2\gamma\mathfrak R_n(G_r) + \sqrt{\log(1/\delta)/(2n)}`
    with probability :math:`1-\delta` (ramp loss, contraction; for a margin chosen after seeing the data a
    union bound over a grid of :math:`\gamma` adds a :math:`\log\log` term, left out).
    """
    delta = require_float("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    return 2 / np.asarray(gamma, float) * rademacher_bound(norm, n, d, eps) + np.sqrt(np.log(1 / delta) / (2 * n))
