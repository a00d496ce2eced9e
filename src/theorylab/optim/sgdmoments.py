r"""The exact mean of multi-pass SGD on least squares at finite n and d, by the recursion of its first
two moments, and the step size at which that recursion becomes unstable.

This is what homogenized SGD (:mod:`theorylab.optim.hsgd`) approximates: no homogenization of the
residuals, no diffusion limit, only the law of one SGD step averaged over the row it draws. With
:math:`e_k = x_k - x_\delta` the error is an affine random recursion, so its mean and second moment
obey closed linear recursions; every quadratic statistic's mean follows from them exactly. The cost
is O(n d^2) per step, hence small d only.

Reference: the comparison object of Paquette, Paquette, Adlam & Pennington (2022),
arXiv:2206.07252 and arXiv:2205.07069 (their theorems bound the distance between SGD and HSGD);
the recursion is elementary and written for this book. Functions share the signature and the
``Risk`` return shape of :func:`theorylab.optim.hsgd.volterra_risk`.
"""

from __future__ import annotations

import numpy as np

from theorylab import runtime
from theorylab.optim import hsgd

__all__ = ["exact_sgd_risk", "exact_critical_lr"]


def exact_sgd_risk(problem: hsgd.Problem, lr, times, ridge: float = 0.0, x0=None, reps: int = 1) -> hsgd.Risk:
    r"""Exact mean loss and risk of multi-pass SGD at finite n and d, by the recursion of its first two moments.

    With :math:`e_k = x_k - x_\delta`, :math:`P_i = (1-\gamma\delta/n)I - \gamma a_ia_i^\top` and
    :math:`g_i = a_i(b_i - a_i^\top x_\delta) - \tfrac\delta n x_\delta` (so :math:`\sum_i g_i = 0`):
    :math:`e_{k+1} = P_ie_k + \gamma g_i`, hence :math:`m_{k+1} = \bar P m_k` and
    :math:`M_{k+1} = \tfrac1n\sum_i[P_iM_kP_i + \gamma(P_im_kg_i^\top + g_im_k^\top P_i) + \gamma^2g_ig_i^\top]`.
    No approximation: this is the target the Volterra equation approximates. Cost O(n d^2) per step.
    """
    t, lrs = hsgd._grid(times), hsgd._lrs(lr)
    ridge = runtime.require_float("ridge", ridge, low=0.0)
    reps = runtime.require_int("reps", reps, minimum=1)
    a, b, n, d = problem.a, problem.b, problem.n, problem.d
    steps = hsgd._record_steps(t, n)
    hm = a.T @ a
    x_delta = np.linalg.lstsq(hm + ridge * np.eye(d), a.T @ b, rcond=None)[0]
    grads = a * (b - a @ x_delta)[:, None] - ridge / n * x_delta     # (n, d) rows g_i
    noise = grads.T @ grads / n
    start = np.zeros(d) if x0 is None else np.asarray(x0, dtype=np.float64)
    loss, pop = np.empty((lrs.size, t.size)), np.empty((lrs.size, t.size))
    lq = lambda x: 0.5 * np.sum((a @ x - b) ** 2)                    # noqa: E731
    pq = lambda x: 0.5 * (x - problem.x_star) @ problem.pop_hessian @ (x - problem.x_star) + problem.floor  # noqa: E731
    for gi, gamma in enumerate(lrs):
        c = 1 - gamma * ridge / n
        m = start - x_delta
        mm = np.outer(m, m)
        rec = 0
        for k in range(steps[-1] + 1):
            while rec < steps.size and steps[rec] == k:
                loss[gi, rec] = lq(x_delta) + (a.T @ (a @ x_delta - b)) @ m + 0.5 * np.sum(hm * mm)
                pop[gi, rec] = (pq(x_delta) + (problem.pop_hessian @ (x_delta - problem.x_star)) @ m
                                + 0.5 * np.sum(problem.pop_hessian * mm))
                rec += 1
            if k == steps[-1]:
                break
            quad = np.sum((a @ mm) * a, axis=1)                       # a_i^T M a_i
            hmm = hm @ mm
            cross = -gamma * (a.T * (a @ m)) @ grads / n                # (1/n) sum_i P_i m g_i^T (sum g_i = 0)
            mm = (c**2 * mm - c * gamma / n * (hmm + hmm.T) + gamma**2 / n * (a.T * quad) @ a
                  + gamma * (cross + cross.T) + gamma**2 * noise)
            m = c * m - gamma / n * hm @ m
    shape = (lrs.size, reps, t.size)
    return hsgd.Risk(t, np.broadcast_to(loss[:, None], shape).copy(), np.broadcast_to(pop[:, None], shape).copy())


def exact_critical_lr(problem: hsgd.Problem, tol: float = 1e-4) -> float:
    r"""The step size at which the exact second-moment map of SGD becomes unstable (finite n, d; d <= 24).

    The homogeneous part of the recursion of :func:`exact_sgd_risk` is the linear map
    :math:`T = \tfrac1n\sum_i P_i\otimes P_i` on d x d matrices; its spectral radius crosses 1 at this step
    size, which tends to 2n / tr H as d grows. Found by bisection on [0, 4n / tr H].
    """
    a, n, d = problem.a, problem.n, problem.d
    if d > 24:
        raise ValueError(f"exact_critical_lr builds a d^2 x d^2 matrix; d must be <= 24, got {d}")
    outer = np.einsum("ij,ik->ijk", a, a).reshape(n, d * d)
    quartic = outer.T @ outer / n                                    # (1/n) sum_i (a a^T) kron (a a^T)
    hkron = np.kron(problem.a.T @ a, np.eye(d)) + np.kron(np.eye(d), a.T @ a)

    def radius(gamma: float) -> float:
        t = np.eye(d * d) - gamma / n * hkron + gamma**2 * quartic
        return float(np.abs(np.linalg.eigvalsh(t)).max())

    lo, hi = 0.0, 2 * hsgd.critical_lr(problem)
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if radius(mid) < 1 else (lo, mid)
    return (lo + hi) / 2
