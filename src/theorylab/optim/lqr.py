r"""Policy gradient on a finite-horizon linear quadratic regulator, and how far its controller extrapolates.

System and cost (column vectors; a linear state-feedback controller :math:`u = Kx`):

.. math::  x_{h+1} = A x_h + B u_h = (A + BK)\,x_h, \qquad
           J(K) = \frac1{|\mathcal X_0|}\sum_{x_0\in\mathcal X_0}\sum_{h=0}^{H}
                  x_h^\top Q x_h + u_h^\top R u_h .

Policy gradient is gradient descent on :math:`J` over :math:`K`. With costates
:math:`\lambda_H = 2W x_H`, :math:`\lambda_h = 2W x_h + (A+BK)^\top\lambda_{h+1}` and
:math:`W = Q + K^\top R K`, the exact gradient is

.. math::  \nabla J(K) = \frac1{|\mathcal X_0|}\sum_{x_0}\Big(\sum_{h=0}^{H-1} B^\top\lambda_{h+1}x_h^\top
           + 2\sum_{h=0}^{H} R K x_h x_h^\top\Big),

a sum of outer products with the *visited states* :math:`x_h` on the right: from :math:`K_0`, the
controller only ever changes on the span of the states the training trajectories visit.

Extrapolation measure (the paper's normalised optimality measure, for :math:`R = 0`): over test
initial states, :math:`\mathcal E(K) = \mathbb E\,\|Q^{1/2}(A+BK)x_0\|^2 / \mathbb E\,\|Q^{1/2}Ax_0\|^2`;
0 is optimal on the test states, 1 is what the zero controller does.

Shift system (:math:`A e_i = e_{i+1 \bmod d}`, :math:`B = Q = I`, :math:`R = 0`, training states
:math:`e_0,\dots,e_{k-1}`, :math:`K_0 = 0`): the controller stays a negative weighted shift,
:math:`A + K = \sum_i a_i e_{i+1}e_i^\top`, and :math:`J = \frac1k\sum_{s<k}\sum_{h\le H}
\prod_{i=s}^{s+h-1} a_{i \bmod d}^2`, so gradient flow reduces to :math:`d` scalar ODEs
(:func:`chain_flow`); the test measure is the mean of :math:`a_j(\infty)^2` over the test edges.

Reference: N. Razin, Y. Alexander, E. Cohen-Karlik, R. Giryes, A. Globerson, N. Cohen, *Implicit
Bias of Policy Gradient in Linear Quadratic Control: Extrapolation to Unseen Initial States*, ICML
2024, arXiv:2402.07875 (setting, Sections 3-4; the measure, Section 5.1). The chain reduction and
its ODE are this book's derivation.

Shapes: batched arrays carry any leading dims ``...``; ``K`` is (..., m, d), ``A`` (..., d, d),
``B`` (..., d, m), initial states are rows of ``X0`` (n, d). Everything is float64.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from theorylab import runtime

__all__ = ["shift_matrix", "mixed_system", "random_system", "rollout", "lqr_cost", "policy_gradient",
           "lqr_cost_torch", "train", "extrapolation_measure", "min_norm_controller", "chain_exponents", "chain_cost",
           "chain_flow", "chain_gd", "chain_controller", "shift_measure_theory", "block_system"]


def shift_matrix(d: int) -> np.ndarray:
    """The cyclic shift S with S e_i = e_{(i+1) mod d} (the paper's 'shift' system)."""
    d = runtime.require_int("d", d, minimum=1)
    return np.roll(np.eye(d), 1, axis=0)


def mixed_system(d: int, theta) -> np.ndarray:
    """A_theta = (1 - theta) I + theta S: identity at theta = 0, shift at theta = 1; theta of shape (T,) gives (T, d, d)."""
    th = runtime.require_array("theta", np.atleast_1d(theta), low=0.0, high=1.0)
    out = (1 - th)[:, None, None] * np.eye(d) + th[:, None, None] * shift_matrix(d)
    return out if np.ndim(theta) else out[0]


def random_system(d: int, gen: np.random.Generator, n: int = 1) -> np.ndarray:
    """n random transition matrices with i.i.d. N(0, 1/d) entries (the paper's random A), shape (n, d, d)."""
    return gen.standard_normal((runtime.require_int("n", n, minimum=1), d, d)) / np.sqrt(d)


def block_system(d: int, k: int, gen: np.random.Generator, n: int = 1) -> np.ndarray:
    """Random A (entries N(0, 1/d)) with the blocks between span(e_0..e_{k-1}) and the rest zeroed: A maps the training span into itself."""
    A = random_system(d, gen, n)
    A[:, :k, k:] = 0.0
    A[:, k:, :k] = 0.0
    return A


def _closed_loop(K, A, B):
    return A + B @ K


def rollout(K, A, B, X0, H: int) -> np.ndarray:
    """States x_0..x_H of x_{h+1} = (A + BK) x_h for each initial state; shape (..., H+1, n, d)."""
    M = _closed_loop(np.asarray(K, float), np.asarray(A, float), np.asarray(B, float))
    x = np.broadcast_to(np.asarray(X0, float), M.shape[:-2] + np.shape(X0))
    xs = [x]
    for _ in range(runtime.require_int("H", H, minimum=1)):
        x = x @ np.swapaxes(M, -1, -2)
        xs.append(x)
    return np.stack(xs, axis=-3)


def lqr_cost(K, A, B, X0, H: int, Q=None, R=None) -> np.ndarray:
    """J(K): mean over initial states of sum_{h=0}^{H} x_h'Qx_h + u_h'Ru_h; shape (...)."""
    d = np.shape(A)[-1]
    K = np.asarray(K, float)
    Q = np.eye(d) if Q is None else np.asarray(Q, float)
    xs = rollout(K, A, B, X0, H)
    c = np.einsum("...hni,ij,...hnj->...", xs, Q, xs)
    if R is not None:
        us = xs @ np.swapaxes(K, -1, -2)[..., None, :, :]
        c = c + np.einsum("...hni,ij,...hnj->...", us, np.asarray(R, float), us)
    return c / np.shape(X0)[0]


def lqr_cost_torch(K, A, B, X0, H: int, Q=None, R=None):
    """The same cost as :func:`lqr_cost`, as a plain loop over steps in torch (for autograd); a 0-d tensor.

    This is the paper's route to the policy gradient (autograd through the rollout); the notebook
    and the tests compare :func:`policy_gradient` with its ``backward()``. All arguments are float64 tensors.
    """
    import torch

    d = A.shape[-1]
    Q = torch.eye(d, dtype=A.dtype) if Q is None else Q
    x, total = X0, 0.0
    for _ in range(H + 1):
        u = x @ K.T
        total = total + ((x @ Q) * x).sum()
        if R is not None:
            total = total + ((u @ R) * u).sum()
        x = x @ A.T + u @ B.T
    return total / X0.shape[0]


def policy_gradient(K, A, B, X0, H: int, Q=None, R=None) -> np.ndarray:
    """Exact gradient of :func:`lqr_cost` over K by the costate (adjoint) recursion; shape of K."""
    K, A, B = (np.asarray(a, float) for a in (K, A, B))
    d, n = A.shape[-1], np.shape(X0)[0]
    Q = np.eye(d) if Q is None else np.asarray(Q, float)
    W = Q if R is None else Q + np.swapaxes(K, -1, -2) @ np.asarray(R, float) @ K
    M = _closed_loop(K, A, B)
    xs = rollout(K, A, B, X0, H)                               # (..., H+1, n, d)
    lam = 2 * xs[..., H, :, :] @ W                            # rows are lambda_H' (W symmetric)
    g_m = np.zeros(M.shape)
    for h in range(H - 1, -1, -1):
        g_m = g_m + np.swapaxes(lam, -1, -2) @ xs[..., h, :, :]    # sum over n of lambda_{h+1} x_h'
        lam = 2 * xs[..., h, :, :] @ W + lam @ M
    grad = np.swapaxes(B, -1, -2) @ g_m
    if R is not None:
        cov = np.einsum("...hni,...hnj->...ij", xs, xs)
        grad = grad + 2 * np.asarray(R, float) @ K @ cov
    return grad / n


def _clip(step, max_step):
    """Shorten each step (batched over leading dims) to Frobenius norm at most max_step; direction kept."""
    if max_step is None:
        return step
    norm = np.sqrt((step**2).sum((-1, -2), keepdims=True))
    return step * np.minimum(1.0, max_step / np.maximum(norm, 1e-300))


def train(A, B, X0, H: int, lr: float, steps: int, K0=None, Q=None, R=None,
          record_every: int = 0, max_step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Policy gradient K <- K - lr * grad J(K) from K0 (zero by default), batched over A's leading dims.

    ``max_step`` caps the Frobenius norm of each update (direction kept): a change of time scale
    along the same gradient-flow path, so the flow limit is unchanged; it keeps systems with a large
    ||A|| (a huge gradient at K = 0) from diverging at a step size that suits the others.

    Returns (K after ``steps`` steps, training costs (R, ...)): the cost every ``record_every`` steps
    (0: only the final cost) and always after the last step.
    """
    A, B = np.asarray(A, float), np.asarray(B, float)
    lr = runtime.require_float("lr", lr, low=0.0, low_open=True)
    steps = runtime.require_int("steps", steps, minimum=0)
    every = runtime.require_int("record_every", record_every, minimum=0)
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    K = np.zeros(batch + (B.shape[-1], A.shape[-1])) if K0 is None else np.array(K0, float)
    costs = []
    for t in range(steps):
        if every and t % every == 0:
            costs.append(lqr_cost(K, A, B, X0, H, Q, R))
        K = K - _clip(lr * policy_gradient(K, A, B, X0, H, Q, R), max_step)
    costs.append(lqr_cost(K, A, B, X0, H, Q, R))
    return K, np.stack(costs)


def extrapolation_measure(K, A, B, X_test, Q=None) -> np.ndarray:
    """E(K) = mean ||Q^(1/2)(A+BK)x0||^2 / mean ||Q^(1/2) A x0||^2 over test states (R = 0); shape (...)."""
    d = np.shape(A)[-1]
    Q = np.eye(d) if Q is None else np.asarray(Q, float)
    X = np.asarray(X_test, float)
    y = X @ np.swapaxes(_closed_loop(np.asarray(K, float), np.asarray(A, float), np.asarray(B, float)), -1, -2)
    y0 = X @ np.swapaxes(np.asarray(A, float), -1, -2)
    return np.einsum("...ni,ij,...nj->...", y, Q, y) / np.einsum("...ni,ij,...nj->...", y0, Q, y0)


def min_norm_controller(A, B, X_train) -> np.ndarray:
    """The least-Frobenius-norm K with (A + BK) x0 = 0 on the training states: K = -B^+ A P, P the projector on their span."""
    X = np.asarray(X_train, float)
    P = X.T @ np.linalg.pinv(X.T)
    return -np.linalg.pinv(np.asarray(B, float)) @ np.asarray(A, float) @ P


def chain_exponents(d: int, H: int, k: int) -> np.ndarray:
    """N[(s, h), i]: how many times edge i (e_i -> e_{i+1 mod d}) is used in the first h steps from e_s; (k*(H+1), d)."""
    N = np.zeros((runtime.require_int("k", k, minimum=1), runtime.require_int("H", H, minimum=1) + 1, d))
    for s in range(k):
        for h in range(1, H + 1):
            N[s, h] = N[s, h - 1]
            N[s, h, (s + h - 1) % d] += 1
    return N.reshape(k * (H + 1), d)


def chain_cost(a, N, k: int) -> np.ndarray:
    """Training cost of the weighted shift with edge weights a: mean over k starts of sum_h prod_i a_i^(2 N); shape (...)."""
    a = np.asarray(a, float)
    return np.prod(a[..., None, :] ** (2 * N), axis=-1).sum(-1) / k


def _chain_grad(a, N, k):
    """d chain_cost / d a_i = (1/k) sum_r 2 N_ri a_i^(2N_ri - 1) prod_{j != i} a_j^(2 N_rj) (no division by a_i)."""
    pw = a[None, :] ** (2 * N)                                 # (rows, d)
    ones = np.ones((N.shape[0], 1))
    left = np.cumprod(np.hstack([ones, pw[:, :-1]]), axis=1)   # prod_{j < i}
    right = np.cumprod(np.hstack([ones, pw[:, :0:-1]]), axis=1)[:, ::-1]   # prod_{j > i}
    own = np.where(N > 0, 2 * N * a[None, :] ** np.maximum(2 * N - 1, 0), 0.0)
    return (own * left * right).sum(0) / k


def chain_flow(d: int, H: int, k: int = 1, t_end: float = 60.0, times=None, rtol: float = 1e-10) -> np.ndarray:
    """Gradient flow da/dt = -grad chain_cost(a) from a = 1 (K = 0); edge weights at ``times`` (T, d), or at t_end (d,)."""
    N = chain_exponents(d, H, k)
    t_eval = None if times is None else np.asarray(times, float)
    sol = solve_ivp(lambda t, a: -_chain_grad(a, N, k), (0.0, float(times[-1]) if times is not None else t_end),
                    np.ones(d), method="LSODA", rtol=rtol, atol=1e-13, t_eval=t_eval)
    return sol.y.T if times is not None else sol.y[:, -1]


def chain_gd(d: int, H: int, k: int, lr: float, steps: int, max_step: float | None = None) -> np.ndarray:
    """Gradient descent a <- a - lr * grad chain_cost(a) from a = 1: the same steps as :func:`train` on the shift; (d,).

    The full gradient lives on the shift's pattern with entries grad chain_cost, so its norm is the
    norm of the chain gradient and ``max_step`` clips both runs identically.
    """
    N, a = chain_exponents(d, H, k), np.ones(d)
    for _ in range(runtime.require_int("steps", steps, minimum=0)):
        a = a - _clip((lr * _chain_grad(a, N, k))[None, :], max_step)[0]
    return a


def chain_controller(a) -> np.ndarray:
    """The controller K = sum_i (a_i - 1) e_{i+1} e_i' for which A + K is the weighted shift with weights a; (..., d, d)."""
    a = np.asarray(a, float)
    return (a - 1)[..., None, :] * shift_matrix(a.shape[-1])


def shift_measure_theory(d: int, H: int, k: int = 1, t_end: float = 60.0) -> float:
    """Predicted extrapolation measure of policy gradient (flow, K0 = 0) on the shift: mean of a_j(inf)^2 over test edges j >= k."""
    a = chain_flow(d, H, k, t_end)
    return float(np.mean(a[k:] ** 2))
