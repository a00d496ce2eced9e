r"""Diagonal linear state space models (SSMs): impulse response, square loss, gradient flow on A.

Model (one input and one output channel, state dimension :math:`d`, diagonal :math:`A`):

.. math::  h_t = A h_{t-1} + B x_t,\quad h_0 = 0, \qquad \hat y = C h_k
           = \sum_{\ell=0}^{k-1} \bar h_\ell\, x_{k-\ell}, \qquad
           \bar h_\ell = \sum_{i=1}^d c_i b_i a_i^{\ell}.

The output of a length-:math:`k` sequence only sees the impulse response :math:`\bar h_\ell` at lags
:math:`\ell < k`. With labels from a teacher :math:`(A^*, B^*, C^*)`, the residual of sequence
:math:`s` is :math:`r_s = \sum_\ell(\bar h_\ell - \bar h^*_\ell)x^{(s)}_{k-\ell}` and the loss
:math:`L = \frac1n\sum_s r_s^2`. With :math:`B, C` fixed, gradient flow on the diagonal is

.. math::  \dot a_i = -\partial L/\partial a_i
           = -\sum_{\ell=1}^{k-1} \gamma_\ell\, c_i b_i\, \ell\, a_i^{\ell-1}, \qquad
           \gamma_\ell = \frac2n \sum_s r_s\, x^{(s)}_{k-\ell},

a polynomial in :math:`a_i` whose coefficients :math:`\gamma_\ell(t)` are shared by all :math:`i`.
"Baseline" sequences (input only at the first position) excite lag :math:`k-1` alone; "special"
sequences (input only at position :math:`k-1`) excite lag 1.

Reference: Y. Slutzky, Y. Alexander, N. Razin, N. Cohen, *The Implicit Bias of Structured State Space
Models Can Be Poisoned With Clean Labels*, NeurIPS 2025, arXiv:2410.10473 (dynamical
characterization, Proposition 1; poisoning, Theorem 1; section numbers differ between versions). The conserved quantity of
:func:`baseline_limit` and the limits :func:`shift_phase`, :func:`weak_special_limit` are this book's
derivations.

Shapes: ``a`` is (..., d); sequences are rows of ``X`` (n, k), inputs in time order
:math:`x_1..x_k`. Everything is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from theorylab import runtime

__all__ = ["impulse_response", "run_recurrence", "teacher", "sequences", "labels", "lag_weights",
           "loss", "loss_grad", "flow_rhs", "flow_jac", "Flow", "integrate_flow", "gradient_descent",
           "extrapolation_error", "second_largest", "baseline_limit", "shift_phase", "weak_special_limit",
           "small_init", "horizon"]


def impulse_response(a: np.ndarray, b: np.ndarray, c: np.ndarray, n_lags: int) -> np.ndarray:
    """Impulse response h_l = sum_i c_i b_i a_i^l for l = 0..n_lags-1; a (..., d) gives (..., n_lags)."""
    n_lags = runtime.require_int("n_lags", n_lags, minimum=1)
    a = np.asarray(a, dtype=np.float64)
    powers = a[..., None, :] ** np.arange(n_lags)[:, None]          # (..., n_lags, d)
    return powers @ (np.asarray(c, dtype=np.float64) * np.asarray(b, dtype=np.float64))


def run_recurrence(a: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Outputs C h_k of the recurrence h_t = diag(a) h_{t-1} + b x_t, h_0 = 0, for each row of X (n, k)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    h = np.zeros((X.shape[0], len(a)))
    for t in range(X.shape[1]):
        h = h * a + X[:, t:t + 1] * b
    return h @ c


def teacher(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's dimension-2 teacher: A* = diag(1, 0), B* = C*^T = (1, sqrt(d-1)).

    Its impulse response is d at lag 0 and 1 at every lag >= 1; a student with B = C = 1 matches
    lag 0 for free (sum_i 1 = d), so only lags >= 1 are learned."""
    d = runtime.require_int("d", d, minimum=2)
    b = np.array([1.0, np.sqrt(d - 1.0)])
    return np.array([1.0, 0.0]), b, b.copy()


def sequences(k: int, n_baseline: int = 1, special: float | np.ndarray = ()) -> np.ndarray:
    """Training inputs (n, k): n_baseline rows e_1 (input at the first step only: excites lag k-1),
    then one row eps * e_{k-1} per entry eps of `special` (input one step before the end: lag 1)."""
    k = runtime.require_int("k", k, minimum=3)
    n_baseline = runtime.require_int("n_baseline", n_baseline, minimum=0)
    eps = np.atleast_1d(np.asarray(special, dtype=np.float64))
    X = np.zeros((n_baseline + eps.size, k))
    X[:n_baseline, 0] = 1.0
    X[n_baseline + np.arange(eps.size), k - 2] = eps
    return X


def labels(X: np.ndarray, a_star: np.ndarray, b_star: np.ndarray, c_star: np.ndarray) -> np.ndarray:
    """Clean labels: the teacher's output on each sequence (same formula as the student)."""
    return run_recurrence(a_star, b_star, c_star, X)


def lag_weights(X: np.ndarray) -> np.ndarray:
    """M[s, l] = x^{(s)}_{k-l}: the input that multiplies lag l in sequence s (X reversed in time)."""
    return np.asarray(X, dtype=np.float64)[:, ::-1]


def loss(a: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L(a) = (1/n) sum_s (yhat_s - y_s)^2; a (..., d) gives (...)."""
    M = lag_weights(X)
    r = impulse_response(a, b, c, M.shape[1]) @ M.T - y
    return np.mean(r ** 2, axis=-1)


def loss_grad(a: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/da_i = sum_{l>=1} gamma_l c_i b_i l a_i^{l-1}, gamma_l = (2/n) sum_s r_s x^{(s)}_{k-l}."""
    a = np.asarray(a, dtype=np.float64)
    M = lag_weights(X)
    k = M.shape[1]
    r = impulse_response(a, b, c, k) @ M.T - y                       # (..., n)
    gamma = 2.0 / M.shape[0] * r @ M                                   # (..., k)
    ell = np.arange(1, k)
    dpow = ell[:, None] * a[..., None, :] ** (ell[:, None] - 1)       # (..., k-1, d)
    return (gamma[..., None, 1:] @ dpow)[..., 0, :] * (np.asarray(c) * np.asarray(b))


def flow_rhs(t: float, a: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Right-hand side of gradient flow, da/dt = -grad L(a) (signature for scipy's solve_ivp)."""
    return -loss_grad(a, b, c, X, y)


def flow_jac(t: float, a: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Jacobian of flow_rhs: -Hessian of L = -(2/n) J^T J - diag(sum_l gamma_l cb l(l-1) a^{l-2})."""
    M = lag_weights(X)
    k, n = M.shape[1], M.shape[0]
    cb = np.asarray(c) * np.asarray(b)
    ell = np.arange(k)
    r = impulse_response(a, b, c, k) @ M.T - y
    gamma = 2.0 / n * r @ M
    dpow = ell[:, None] * np.where(ell[:, None] >= 1, a ** np.maximum(ell[:, None] - 1, 0), 0.0)   # (k, d)
    J = M @ dpow * cb                                                  # dr_s/da_i, (n, d)
    d2 = ell[:, None] * (ell[:, None] - 1) * np.where(ell[:, None] >= 2, a ** np.maximum(ell[:, None] - 2, 0), 0.0)
    return -(2.0 / n * J.T @ J + np.diag(gamma @ d2 * cb))


@dataclass(frozen=True)
class Flow:
    """A gradient-flow trajectory: times t (T,), states a (T, d), training loss (T,)."""
    t: np.ndarray
    a: np.ndarray
    loss: np.ndarray


def integrate_flow(a0: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray, y: np.ndarray,
                   t_end: float, n_eval: int = 200, t_start: float = 1e-3,
                   rtol: float = 1e-10, atol: float = 1e-14, analytic_jac: bool = False) -> Flow:
    """Integrate da/dt = -grad L from t = 0 to t_end with scipy's LSODA (switches to a stiff method
    when needed), reporting on a log-spaced grid (gradient flow from small init spends decades of
    time near a = 0). With analytic_jac, LSODA uses :func:`flow_jac`; by default it differences
    :func:`flow_rhs` itself, which is as fast here and keeps the flow defined by one function."""
    t_end = runtime.require_float("t_end", t_end, low=0.0, low_open=True)
    t_eval = np.concatenate([[0.0], np.geomspace(min(t_start, t_end), t_end, n_eval - 1)])
    sol = solve_ivp(flow_rhs, (0.0, t_end), np.asarray(a0, dtype=np.float64), method="LSODA",
                    t_eval=t_eval, jac=flow_jac if analytic_jac else None, args=(b, c, X, y), rtol=rtol, atol=atol)
    if not sol.success:
        raise FloatingPointError(f"LSODA failed: {sol.message}")
    a = sol.y.T
    return Flow(t=sol.t, a=a, loss=loss(a, b, c, X, y))


def gradient_descent(a0: np.ndarray, b: np.ndarray, c: np.ndarray, X: np.ndarray, y: np.ndarray,
                     lr: float, n_steps: int) -> np.ndarray:
    """Plain gradient descent a <- a - lr * grad L(a); a0 (..., d) runs a batch of inits at once."""
    lr = runtime.require_float("lr", lr, low=0.0, low_open=True)
    a = np.array(a0, dtype=np.float64)
    for _ in range(runtime.require_int("n_steps", n_steps, minimum=0)):
        a = a - lr * loss_grad(a, b, c, X, y)
    return a


def extrapolation_error(a: np.ndarray, b: np.ndarray, c: np.ndarray,
                        teacher_abc: tuple[np.ndarray, np.ndarray, np.ndarray], n_lags: int = 20) -> np.ndarray:
    """max_{l < n_lags} |h_l - h*_l| / max_l |h*_l| (the paper's normalised sup error over lags)."""
    h = impulse_response(a, b, c, n_lags)
    h_star = impulse_response(*teacher_abc, n_lags)
    return np.max(np.abs(h - h_star), axis=-1) / np.max(np.abs(h_star))


def second_largest(a: np.ndarray) -> np.ndarray:
    """The second-largest |a_i| along the last axis: near 0 for a rank-one (one dominant mode) state."""
    return np.sort(np.abs(np.asarray(a)), axis=-1)[..., -2]


def baseline_limit(a0: np.ndarray, k: int, target: float = 1.0) -> np.ndarray:
    """Closed-form end point of gradient flow on baseline sequences only (B = C = 1, all a_i(0) > 0, k >= 4).

    Then da_i/dt = -gamma(t) (k-1) a_i^{k-2} with one shared gamma(t), so
    d/dt a_i^{-(k-3)} = (k-3)(k-1) gamma(t) is the same for every i: the differences
    a_i^{-(k-3)} - a_j^{-(k-3)} are conserved. At the end sum_i a_i^{k-1} = target (the fit), which
    fixes the one remaining unknown, u = a_i^{-(k-3)} - a_i(0)^{-(k-3)} (common to all i)."""
    a0 = np.asarray(a0, dtype=np.float64)
    k = runtime.require_int("k", k, minimum=4)
    if np.any(a0 <= 0):
        raise ValueError("a0 must be positive (the invariant needs a_i > 0)")
    m = k - 3
    inv = a0 ** (-m)
    gap = inv - inv.min()                         # conserved: a_i^{-m} - a_max^{-m} (>= 0, exactly 0 at the max)

    def excess(log_z):                            # z = a_max(end)^{-m}; sum_i a_i^{k-1} - target, decreasing in z
        return np.sum((gap + np.exp(log_z)) ** (-(k - 1) / m)) - target

    log_z = brentq(excess, np.log(1e-12), np.log(1e12), xtol=1e-15, rtol=1e-15, maxiter=500)
    return (gap + np.exp(log_z)) ** (-1.0 / m)


def shift_phase(a0: np.ndarray, target_lag1: float = 1.0) -> np.ndarray:
    """State after the first phase of a poisoned run (B = C = 1): while a is small the lag-1 term
    gamma_1 dominates, it pushes every a_i by the same amount, and it stops when sum_i a_i hits the
    teacher's lag-1 response, so a_i -> a_i(0) + (target - sum_j a_j(0)) / d."""
    a0 = np.asarray(a0, dtype=np.float64)
    return a0 + (target_lag1 - a0.sum(-1, keepdims=True)) / a0.shape[-1]


def weak_special_limit(a0: np.ndarray, k: int, target: float = 1.0, target_lag1: float = 1.0) -> np.ndarray:
    """End point when special sequences are so weak that the lag-1 fit starts after the greedy phase.

    First the baseline limit a^B (:func:`baseline_limit`). Then the lag-1 term pushes every a_i by the
    same amount Delta; the small entries feel nothing else (their lag-(k-1) force ~ a^{k-2} is
    negligible), while the dominant one stays pinned by sum_i a_i^{k-1} = target. So
    a_i = a^B_i + Delta for the d-1 small entries, a_1 = (target - sum_{i>1} a_i^{k-1})^{1/(k-1)}, and
    sum_i a_i = target_lag1 fixes Delta (solved by a few fixed-point steps)."""
    aB = baseline_limit(a0, k, target)
    top = int(np.argmax(aB))
    rest = np.delete(aB, top)
    a_top = aB[top]
    for _ in range(50):
        delta = (target_lag1 - a_top - rest.sum()) / rest.size
        a_top = (target - np.sum((rest + delta) ** (k - 1))) ** (1.0 / (k - 1))
    return np.insert(rest + delta, top, a_top)


def small_init(gen: np.random.Generator, d: int, scale: float, rho: float | None = None) -> np.ndarray:
    """Initial diagonal a_i(0) ~ U(0, scale), sorted in decreasing order; if rho is given, the
    second entry is set to a_1(0) (1 - rho), a near-tie of the two largest (the paper's repository
    uses a relative gap of about 1.5e-5 at scale 1e-3)."""
    a = np.sort(runtime.require_float("scale", scale, low=0.0, low_open=True) * gen.random(d))[::-1].copy()
    if rho is not None:
        a[1] = a[0] * (1.0 - runtime.require_float("rho", rho, low=0.0, high=1.0, low_open=True))
    return a


def horizon(a_max: float, k: int, n: int, special_weight: float = 0.0, d: int = 1, factor: float = 100.0) -> float:
    """A flow time long enough to converge: `factor` times the longer of the greedy blow-up time of
    the largest entry, n a_max^{-(k-3)} / (2 (k-1)(k-3)) (one baseline sequence out of n), and the
    lag-1 relaxation time n / (2 d w) of total special weight w."""
    t_blow = n * a_max ** (-(k - 3)) / (2.0 * (k - 1) * (k - 3))
    t_special = n / (2.0 * d * special_weight) if special_weight > 0 else 0.0
    return factor * max(t_blow, t_special)
