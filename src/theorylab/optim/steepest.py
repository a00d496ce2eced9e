r"""Steepest descent in the l2, l_inf and l1 norms on the exponential loss, tracked in log domain.

For a norm :math:`\|\cdot\|` with dual :math:`\|\cdot\|_*`, the steepest direction of a gradient
:math:`g` is a unit vector :math:`u` with :math:`\langle u, g\rangle = \|g\|_*`:

.. math::  u_{\ell_2} = g/\|g\|_2, \qquad u_{\ell_\infty} = \operatorname{sign}(g), \qquad
           u_{\ell_1} = \operatorname{sign}(g_j)\, e_j,\ j = \arg\max_k |g_k| ,

so normalized steepest descent :math:`\theta \leftarrow \theta - \eta u` is normalized gradient
descent, sign descent and greedy coordinate descent. Unnormalized steepest descent
(:math:`\theta \leftarrow \theta - \eta \|g\|_* u`) traces the same path in continuous time at
another speed. The loss is :math:`L(\theta) = \sum_i \exp(-y_i f(\theta; x_i))`; we only ever
compute :math:`\log L` (a logsumexp) and :math:`\nabla L / L = \nabla \log L` (softmax weights),
which stay finite long after :math:`L` itself underflows. The smoothed margin of a
:math:`K`-homogeneous model is :math:`\tilde\gamma = -\log L / \|\theta\|^K`.

References: Gunasekar, Lee, Soudry & Srebro (2018), steepest descent on linear models;
Tsilivis, Vardi & Kempe (2025), Flavors of Margin (homogeneous networks); Kingma & Ba (2015), Adam.
Everything is float64 and batched over a leading seed axis ``S``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from ..runtime import require_float, require_int
from .margin import norm_of, require_norm

ALGORITHMS = {"l2": "gradient descent", "linf": "sign descent", "l1": "coordinate descent"}


def direction(g: np.ndarray, norm: str) -> np.ndarray:
    r"""Unit-``norm`` steepest direction :math:`u` with :math:`\langle u, g\rangle = \|g\|_*` (last axis)."""
    g = np.asarray(g, dtype=np.float64)
    norm = require_norm(norm)
    if norm == "l2":
        return g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), np.finfo(float).tiny)
    if norm == "linf":
        return np.sign(g)
    j = np.argmax(np.abs(g), axis=-1)[..., None]
    u = np.zeros_like(g)
    np.put_along_axis(u, j, np.sign(np.take_along_axis(g, j, axis=-1)), axis=-1)
    return u


# ------------------------------------------------------------------------------- linear model
def log_loss_linear(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\log L = \log \sum_i e^{-y_i\langle w, x_i\rangle}` and :math:`\nabla L / L = -\sum_i p_i y_i x_i`.

    :math:`p = \mathrm{softmax}(-y_i\langle w, x_i\rangle)`. Shapes: w (S, d), x (S, n, d), y (S, n)
    -> (S,) and (S, d).
    """
    m = y * (x @ w[:, :, None])[:, :, 0]
    log_l, p = _log_sum_exp_and_softmax(-m)
    return log_l, -((p * y)[:, None, :] @ x)[:, 0, :]


def _log_sum_exp_and_softmax(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log sum_i exp(z_i) and softmax(z) over the last axis, shifted by the max (no overflow)."""
    top = z.max(axis=-1, keepdims=True)
    e = np.exp(z - top)
    total = e.sum(axis=-1, keepdims=True)
    return (top + np.log(total))[..., 0], e / total


@dataclass(frozen=True)
class Trajectory:
    """Snapshots of a run: ``step`` (R,), parameters ``theta`` (R, S, P) and ``log_loss`` (R, S)."""

    step: np.ndarray
    theta: np.ndarray
    log_loss: np.ndarray

    def smoothed_margin(self, norm: str, degree: int = 1) -> np.ndarray:
        r""":math:`-\log L / \|\theta\|^K` at every snapshot: (R, S) (nan where theta = 0)."""
        size = norm_of(self.theta, norm) ** degree
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(size > 0, -self.log_loss / size, np.nan)


def _adam_direction(g: np.ndarray, state: dict, t: int, betas: tuple[float, float], eps: float) -> np.ndarray:
    r"""Adam's step :math:`\hat m_t/(\sqrt{\hat v_t} + \epsilon)` for the true gradient :math:`L_t g`, g = grad log L.

    ``state["log_l"]`` holds :math:`\log L_t`. The moments are stored as :math:`m = e^{\sigma} m'` and
    :math:`v = e^{2\sigma} v'` with a per-run log-scale :math:`\sigma` renormalized every step so that
    :math:`\max_j v'_j = 1`: they stay finite after :math:`L` (below 1e-308) or :math:`g^2` underflows,
    and the step, which depends only on ratios, is Adam's on :math:`\nabla L` (exactly so for ``eps = 0``).
    """
    b1, b2 = betas
    log_l = state["log_l"][:, None]
    sigma = np.maximum(state.get("log_scale", log_l), log_l)  # the new term is at most scale 1
    shrink = np.exp(state.get("log_scale", sigma) - sigma)
    rel = np.exp(log_l - sigma)  # L_t / e^sigma <= 1 (0 when negligible, as in Adam)
    m = b1 * state["m"] * shrink + (1 - b1) * rel * g
    v = b2 * state["v"] * shrink**2 + (1 - b2) * (rel * g) ** 2
    c = np.sqrt(v.max(axis=-1, keepdims=True))
    c = np.where(c > 0, c, 1.0)
    state["m"], state["v"], state["log_scale"] = m / c, v / c**2, sigma + np.log(c)
    m_hat, v_hat = state["m"] / (1 - b1 ** t), state["v"] / (1 - b2 ** t)
    with np.errstate(over="ignore"):  # eps / e^sigma = inf once the scale underflows: the step is 0
        eps_rel = eps * np.exp(-state["log_scale"]) if eps else 0.0
    return m_hat / (np.sqrt(v_hat) + eps_rel)


def _run(theta0: np.ndarray, loss_and_grad, algorithms: Sequence[str], lr: float, steps: int,
         record_every: int, betas: tuple[float, float], eps: float) -> dict[str, Trajectory]:
    """Run every algorithm from theta0 (S, P) in one loop: the batch is (algorithm, seed)."""
    lr = require_float("lr", lr, low=0.0, low_open=True)
    steps = require_int("steps", steps, minimum=1)
    record_every = require_int("record_every", record_every, minimum=1)
    algorithms = [algorithms] if isinstance(algorithms, str) else list(algorithms)
    for a in algorithms:
        if a not in (*ALGORITHMS, "adam"):
            raise ValueError(f"algorithm must be one of {(*ALGORITHMS, 'adam')}; got {a!r}")
    n_alg, (s, p) = len(algorithms), theta0.shape
    theta = np.tile(np.asarray(theta0, dtype=np.float64), (n_alg, 1))  # (A*S, P)
    state = {"m": np.zeros((s, p)), "v": np.zeros((s, p))}
    rec_step, rec_theta, rec_loss = [], [], []
    for t in range(steps + 1):
        log_l, g = loss_and_grad(theta)  # g = grad L / L: the direction of grad L, never underflows
        if t % record_every == 0 or t == steps:
            rec_step.append(t), rec_theta.append(theta.copy()), rec_loss.append(log_l)
        if t == steps:
            break
        for k, a in enumerate(algorithms):
            rows = slice(k * s, (k + 1) * s)
            if a == "adam":  # Adam sees the true gradient grad L = L * grad log L, kept relative to L
                state["log_l"] = log_l[rows]
                theta[rows] -= lr * _adam_direction(g[rows], state, t + 1, betas, eps)
            else:
                theta[rows] -= lr * direction(g[rows], a)
    th, ls = np.stack(rec_theta), np.stack(rec_loss)
    return {a: Trajectory(np.array(rec_step), th[:, k * s:(k + 1) * s], ls[:, k * s:(k + 1) * s])
            for k, a in enumerate(algorithms)}


def train_linear(x: np.ndarray, y: np.ndarray, algorithms: str | Sequence[str], lr: float, steps: int,
                 record_every: int = 100, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 0.0) -> dict[str, Trajectory]:
    r"""Normalized steepest descent (``"l2"``, ``"linf"``, ``"l1"``) or Adam on a linear model, from w = 0.

    Steepest descent steps :math:`w \leftarrow w - \eta\, u(\nabla L)` have length ``lr`` in the
    algorithm's norm. Adam (``"adam"``) uses the true gradient and bias correction, with its moments
    stored relative to the loss so that they survive the underflow of L (see ``_adam_direction``);
    ``eps = 0`` makes it invariant to the gradient's scale (its first step is a sign-descent step).
    Args: x (S, n, d), y (S, n). Returns: one :class:`Trajectory` per algorithm (theta = w, (R, S, d)).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 3 or y.shape != x.shape[:2]:
        raise ValueError(f"x must be (S, n, d) and y (S, n); got {x.shape} and {y.shape}")
    k = 1 if isinstance(algorithms, str) else len(algorithms)
    xs, ys = np.tile(x, (k, 1, 1)), np.tile(y, (k, 1))
    return _run(np.zeros((x.shape[0], x.shape[2])), lambda w: log_loss_linear(w, xs, ys), algorithms,
                lr, steps, record_every, betas, eps)


# ------------------------------------------------------------------------------- two-layer ReLU net
def relu_net(theta: np.ndarray, x: np.ndarray, width: int) -> np.ndarray:
    r"""Bias-free two-layer ReLU net :math:`f(x) = \sum_j a_j \max(0, \langle w_j, x\rangle)`, 2-homogeneous in theta.

    theta (S, width*(d+1)) packs W (width, d) row-major and then a (width,); x (S, n, d) -> (S, n).
    """
    s, n, d = x.shape
    w, a = theta[:, : width * d].reshape(s, width, d), theta[:, width * d:]
    return np.einsum("snm,sm->sn", np.maximum(np.einsum("snd,smd->snm", x, w), 0.0), a)


def relu_net_log_loss(theta: np.ndarray, x: np.ndarray, y: np.ndarray,
                      width: int) -> tuple[np.ndarray, np.ndarray]:
    """log L and grad log L of :func:`relu_net` (the ReLU's derivative at 0 taken as 0): (S,), (S, P)."""
    s, n, d = x.shape
    w, a = theta[:, : width * d].reshape(s, width, d), theta[:, width * d:]
    pre = np.einsum("snd,smd->snm", x, w)
    h = np.maximum(pre, 0.0)
    m = y * (h @ a[:, :, None])[:, :, 0]
    log_l, p = _log_sum_exp_and_softmax(-m)
    c = -p * y  # d log L / d f_i, (S, n)
    grad_a = (c[:, None, :] @ h)[:, 0, :]
    grad_w = ((c[:, :, None] * (pre > 0)) * a[:, None, :]).transpose(0, 2, 1) @ x  # (S, m, d)
    return log_l, np.concatenate([grad_w.reshape(s, -1), grad_a], axis=1)


def train_relu_net(x: np.ndarray, y: np.ndarray, theta0: np.ndarray, width: int,
                   algorithms: str | Sequence[str],
                   lr: float, steps: int, record_every: int = 100, betas: tuple[float, float] = (0.9, 0.999),
                   eps: float = 0.0) -> dict[str, Trajectory]:
    """The same algorithms as :func:`train_linear` on :func:`relu_net` (gradients by hand, float64).

    Args: x (S, n, d), y (S, n), theta0 (S, width*(d+1)). Returns: one :class:`Trajectory` per algorithm.
    """
    width = require_int("width", width, minimum=1)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if theta0.shape != (x.shape[0], width * (x.shape[2] + 1)):
        raise ValueError(f"theta0 must be (S, width*(d+1)) = {(x.shape[0], width * (x.shape[2] + 1))}; "
                         f"got {theta0.shape}")
    k = 1 if isinstance(algorithms, str) else len(algorithms)
    xs, ys = np.tile(x, (k, 1, 1)), np.tile(y, (k, 1))
    return _run(theta0, lambda th: relu_net_log_loss(th, xs, ys, width), algorithms, lr, steps,
                record_every, betas, eps)


def sector_data(n: int, gap: float, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""2-D XOR by angle: unit vectors at angle :math:`\phi`, label :math:`\operatorname{sign}\sin 2\phi`.

    Angles stay ``gap`` radians away from the axes, so a bias-free ReLU net separates the classes
    with a positive margin while no linear classifier can. Returns x (n, 2), y (n,).
    """
    if not 0 <= gap < np.pi / 4:
        raise ValueError(f"gap must be in [0, pi/4); got {gap}")
    phi = gen.uniform(gap, np.pi / 2 - gap, n) + np.pi / 2 * gen.integers(0, 4, n)
    return np.stack([np.cos(phi), np.sin(phi)], axis=1), np.sign(np.sin(2 * phi))


def relu_net_margin(theta: np.ndarray, x: np.ndarray, y: np.ndarray, width: int, norm: str) -> np.ndarray:
    r"""Normalized margin :math:`\min_i y_i f(\theta; x_i) / \|\theta\|^2` of the 2-homogeneous net: (..., S)."""
    theta = np.asarray(theta, dtype=np.float64)
    flat = theta.reshape(-1, *theta.shape[-2:])
    out = np.stack([(y * relu_net(t, x, width)).min(-1) for t in flat]) / norm_of(flat, norm) ** 2
    return out.reshape(theta.shape[:-1])


def two_point_l2_direction(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    r"""Closed-form l2 max-margin direction for two positive points when both are support vectors.

    With :math:`X = [x_1; x_2]`, the minimum-norm :math:`w` with :math:`Xw = \mathbf 1` is
    :math:`X^\top (XX^\top)^{-1}\mathbf 1`; it is the SVM solution iff both dual weights
    :math:`(XX^\top)^{-1}\mathbf 1` are positive, i.e. :math:`\langle x_1, x_2\rangle < \min(\|x_1\|^2, \|x_2\|^2)`.
    Returns the unit vector, or raises ``ValueError`` when one point alone is the support vector.
    """
    xs = np.stack([np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)])
    alpha = np.linalg.solve(xs @ xs.T, np.ones(2))
    if not (alpha > 0).all():
        raise ValueError("only one point is a support vector; the direction is that point's")
    w = xs.T @ alpha
    return w / np.linalg.norm(w)
