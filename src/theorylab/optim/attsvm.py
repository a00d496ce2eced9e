r"""The attention SVM (Att-SVM): separate each sequence's selected token from the others, in a matrix norm.

For sequences :math:`X_i` with query :math:`z_i` and a selected token :math:`\alpha_i` per sequence,

.. math::  W^{\mathrm{mm}} = \arg\min_W \|W\| \quad\text{s.t.}\quad
           (x_{i\alpha_i} - x_{it})^\top W z_i \ge 1 \quad \forall i,\ t \ne \alpha_i ,

a hard-margin SVM in the space of d x d matrices whose "data points" are the outer products
:math:`A_{it} = (x_{i\alpha_i} - x_{it}) z_i^\top`, all with label +1, since
:math:`(x_{i\alpha_i} - x_{it})^\top W z_i = \langle A_{it}, W\rangle`. With the Frobenius norm it is
the l2 SVM of :mod:`theorylab.optim.margin`; with the nuclear norm :math:`\|W\|_* = \sum_r\sigma_r(W)`
it is a convex program solved here by ADMM, with a duality certificate: since

.. math::  \gamma^\star = \max_{\|W\|_*\le 1}\min_k \langle A_k, W\rangle
           = \min_{p \in \Delta}\Big\|\sum_k p_k A_k\Big\|_{2}

(minimax; the spectral norm is the dual of the nuclear norm), any W gives a lower bound and any
p in the simplex an upper bound on :math:`\gamma^\star = 1/\|W^{\mathrm{mm}}_*\|_*`.

Reference: Tarzanagh, Li, Thrampoulidis & Oymak (2023), *Transformers as Support Vector Machines*,
eq. (Att-SVM) and (Att-SVM*), Theorems 1-2 (regularization path: Frobenius for W, nuclear for
(K, Q)); Tarzanagh, Li, Zhang & Oymak (NeurIPS 2023) for the vector (prompt) version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, cholesky
from scipy.optimize import minimize, nnls

from . import margin as mg


def constraints(x: np.ndarray, z: np.ndarray, sel: np.ndarray) -> np.ndarray:
    r"""The matrices :math:`A_{it} = (x_{i\alpha_i} - x_{it}) z_i^\top`, t != alpha_i: (n (T-1), d, d).

    Args: x (n, T, d) tokens, z (n, d) queries, sel (n,) selected token per sequence.
    """
    x, z = np.asarray(x, dtype=np.float64), np.asarray(z, dtype=np.float64)
    n, T, d = x.shape
    sel = np.asarray(sel, dtype=int)
    if sel.shape != (n,) or sel.min() < 0 or sel.max() >= T:
        raise ValueError(f"sel must be (n,) = ({n},) with entries in [0, {T}); got {sel}")
    rows = [np.outer(x[i, sel[i]] - x[i, t], z[i]) for i in range(n) for t in range(T) if t != sel[i]]
    return np.stack(rows)


def svm_margin(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    r"""Smallest constraint value :math:`\min_k \langle A_k, W\rangle`: w (..., d, d), a (m, d, d) -> (...)."""
    return np.einsum("...de,kde->...k", w, a).min(-1)


def nuclear_norm(w: np.ndarray) -> np.ndarray:
    """Sum of singular values: (..., d, d) -> (...)."""
    return np.linalg.svd(w, compute_uv=False).sum(-1)


def frobenius_svm(a: np.ndarray) -> np.ndarray:
    """Att-SVM in the Frobenius norm: the l2 SVM (no bias, labels +1) on the flattened A_k. Returns W (d, d)."""
    m, d, _ = a.shape
    sol = mg.max_margin(a.reshape(m, d * d), np.ones(m), "l2")   # unit w, margin gamma
    return (sol.w / sol.gamma).reshape(d, d)                       # min_k <A_k, W> = 1


def frobenius_svm_slsqp(a: np.ndarray) -> np.ndarray:
    """Second route: the primal QP min ||W||_F^2 / 2 s.t. <A_k, W> >= 1 by SLSQP. Returns W (d, d)."""
    m, d, _ = a.shape
    flat = a.reshape(m, d * d)
    w0 = np.linalg.lstsq(flat, np.ones(m), rcond=None)[0] * 1.01
    res = minimize(lambda w: (0.5 * w @ w, w), w0, jac=True, method="SLSQP",
                   constraints=[dict(type="ineq", fun=lambda w: flat @ w - 1.0, jac=lambda w: flat)],
                   options=dict(maxiter=1000, ftol=1e-14))
    return res.x.reshape(d, d)


@dataclass(frozen=True)
class NuclearSVM:
    """Solution ``w`` (d, d) scaled so that min_k <A_k, W> = 1, dual weights ``lam`` (m,), relative ``gap``, ``iters``."""

    w: np.ndarray
    lam: np.ndarray
    gap: float
    iters: int


def _svt(m: np.ndarray, tau: float) -> np.ndarray:
    """Singular value soft-thresholding, the proximal map of tau ||.||_*."""
    u, s, vt = np.linalg.svd(m)
    return (u * np.maximum(s - tau, 0.0)) @ vt


def dual_bound(a: np.ndarray, lam: np.ndarray) -> float:
    r"""Upper bound :math:`\|\sum_k p_k A_k\|_2` on :math:`\gamma^\star`, with p = lam / sum(lam) (lam >= 0)."""
    lam = np.maximum(np.asarray(lam, dtype=np.float64), 0.0)
    return float(np.linalg.norm(np.einsum("k,kde->de", lam / lam.sum(), a), 2))


def nuclear_svm(a: np.ndarray, tol: float = 1e-8, max_iter: int = 50_000, rho: float | None = None) -> NuclearSVM:
    r"""Att-SVM in the nuclear norm, :math:`\min \|W\|_*` s.t. :math:`\langle A_k, W\rangle \ge 1`, by ADMM.

    Splitting W = Y with f(W) = ||W||_* (prox: singular value thresholding) and g(Y) the indicator
    of the polyhedron {<A_k, Y> >= 1} (projection: a non-negative least squares problem in the
    multipliers, exact). The multipliers of the last projection, times rho, are dual weights
    :math:`\lambda \ge 0`; the loop stops when the duality gap
    ``dual_bound(a, lam) / (min_k <A_k, W> / ||W||_*) - 1`` is below ``tol``.
    """
    m, d, _ = a.shape
    flat = a.reshape(m, d * d)
    gram = flat @ flat.T
    chol = cholesky(gram + 1e-13 * np.trace(gram) / m * np.eye(m), lower=True)
    y = frobenius_svm_slsqp(a).ravel()                           # a feasible start
    rho = 1.0 / np.linalg.norm(y) if rho is None else rho
    u = np.zeros_like(y)
    w, gap, lam = y, np.inf, np.zeros(m)
    for it in range(1, max_iter + 1):
        w = _svt((y - u).reshape(d, d), 1.0 / rho).ravel()
        target = w + u
        r = 1.0 - flat @ target                                   # projection onto {A y >= 1}
        mu = nnls(chol.T, np.linalg.solve(chol, r), maxiter=50 * m)[0] if (r > 0).any() else np.zeros(m)
        y_old, y = y, target + flat.T @ mu
        u = u + w - y
        if it % 25 == 0 or it == max_iter:
            lam = rho * mu
            low = svm_margin(w.reshape(d, d), a) / max(nuclear_norm(w.reshape(d, d)), 1e-300)
            if lam.sum() > 0 and low > 0:
                gap = dual_bound(a, lam) / low - 1.0
                if gap < tol:
                    break
            # residual balancing: keep the primal and dual residuals within a factor 10
            prim, dual = np.linalg.norm(w - y), rho * np.linalg.norm(y - y_old)
            if prim > 10 * dual:
                rho, u = rho * 2, u / 2
            elif dual > 10 * prim:
                rho, u = rho / 2, u * 2
    w = w.reshape(d, d)
    return NuclearSVM(w=w / svm_margin(w, a), lam=lam, gap=float(gap), iters=it)


def nuclear_svm_factored(a: np.ndarray, gen: np.random.Generator, rank: int | None = None,
                         restarts: int = 3) -> np.ndarray:
    r"""Second route: :math:`\min \tfrac12(\|K\|_F^2 + \|Q\|_F^2)` s.t. :math:`\langle A_k, KQ^\top\rangle \ge 1` by SLSQP.

    Since :math:`\|W\|_* = \min_{KQ^\top = W} \tfrac12(\|K\|_F^2+\|Q\|_F^2)`, the best local solution
    over a few random starts is the nuclear-norm SVM (a non-convex route, for tests). Returns K Q^T.
    """
    m, d, _ = a.shape
    r = d if rank is None else rank
    best, best_val = None, np.inf
    for _ in range(restarts):
        th0 = gen.standard_normal(2 * d * r)
        kq = lambda th: (th[: d * r].reshape(d, r), th[d * r:].reshape(d, r))  # noqa: E731
        k0, q0 = kq(th0)
        th0 = th0 * np.sqrt(1.1 / max(svm_margin(k0 @ q0.T, a), 1e-3)) if svm_margin(k0 @ q0.T, a) > 0 else th0

        def cons(th):
            k, q = kq(th)
            return np.einsum("kde,de->k", a, k @ q.T) - 1.0

        def cons_jac(th):
            k, q = kq(th)
            return np.concatenate([np.einsum("kde,er->kdr", a, q).reshape(m, -1),
                                   np.einsum("kde,dr->ker", a, k).reshape(m, -1)], axis=1)

        res = minimize(lambda th: (0.5 * th @ th, th), th0, jac=True, method="SLSQP",
                       constraints=[dict(type="ineq", fun=cons, jac=cons_jac)],
                       options=dict(maxiter=2000, ftol=1e-13))
        if res.success and cons(res.x).min() > -1e-7 and res.fun < best_val:
            best, best_val = res.x, res.fun
    if best is None:
        raise ValueError("SLSQP found no feasible factorization")
    k, q = kq(best)
    return k @ q.T


def is_locally_optimal(x: np.ndarray, z: np.ndarray, sel: np.ndarray, scores: np.ndarray,
                       w_svm: np.ndarray, tol: float = 1e-6) -> bool:
    r"""Whether the selection is locally optimal: every *support* token (active constraint) scores below the selected one.

    Tarzanagh et al. (2023), Definition of locally-optimal indices: with the Att-SVM solution
    ``w_svm`` for ``sel``, the tokens t with :math:`(x_{i\alpha_i} - x_{it})^\top W z_i \le 1 + tol`
    must have :math:`\gamma_{it} < \gamma_{i\alpha_i}`. Args: scores (n, T).
    """
    n, T, _ = x.shape
    for i in range(n):
        for t in range(T):
            if t == sel[i]:
                continue
            active = (x[i, sel[i]] - x[i, t]) @ w_svm @ z[i] <= 1 + tol
            if active and scores[i, t] >= scores[i, sel[i]]:
                return False
    return True
