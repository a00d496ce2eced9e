"""Conjugate gradients, with and without a preconditioner, for kernel ridge systems (K + delta I) alpha = y.

Kernel regression on n examples needs one solve with an n x n positive-definite matrix. A direct
(Cholesky) solve costs n^3/3 operations and n^2 memory for the factor; conjugate gradients needs only
matrix-vector products, ~sqrt(kappa) of them (kappa the condition number), and a preconditioner P
that makes P^-1 A well conditioned cuts that number. Adlam et al. (2023), arXiv:2303.05420, solve
kernel regression on millions of examples with distributed preconditioned CG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import linalg

from ..runtime import require_float, require_int

__all__ = ["CGResult", "conjugate_gradient", "nystrom_factor", "nystrom_preconditioner", "nystrom_error_norm",
           "preconditioned_condition_number", "iteration_bound", "residual_bound", "condition_number"]

Operator = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CGResult:
    """Solution, number of iterations, and the relative residual ||b - A x_k|| / ||b|| for k = 0..iterations."""

    x: np.ndarray
    iterations: int
    residuals: np.ndarray
    converged: bool


def conjugate_gradient(a: np.ndarray | Operator, b: np.ndarray, tol: float = 1e-6, max_iter: int | None = None,
                       precond: Operator | None = None) -> CGResult:
    r"""Solve A x = b (A symmetric positive definite) by (preconditioned) conjugate gradients from x_0 = 0.

    With :math:`z_k = P^{-1}r_k` (:math:`P = I` without a preconditioner):

    .. math::  \alpha_k = \frac{r_k^\top z_k}{p_k^\top A p_k},\quad x_{k+1} = x_k + \alpha_k p_k,\quad
               r_{k+1} = r_k - \alpha_k A p_k,\quad \beta_k = \frac{r_{k+1}^\top z_{k+1}}{r_k^\top z_k},\quad
               p_{k+1} = z_{k+1} + \beta_k p_k .

    Stops when :math:`\|r_k\|/\|b\| \le` tol. Reference: Hestenes & Stiefel (1952); Saad, *Iterative
    Methods for Sparse Linear Systems*, Alg. 6.18 and 9.1.
    Args: a: (n, n) array or a function v -> A v; b: (n,); precond: a function r -> P^{-1} r.
    """
    tol = require_float("tol", tol, low=0.0, low_open=True)
    matvec = (lambda v: a @ v) if isinstance(a, np.ndarray) else a
    b = np.asarray(b, dtype=np.float64)
    n = b.shape[0]
    max_iter = require_int("max_iter", 10 * n if max_iter is None else max_iter, minimum=1)
    apply_p = precond if precond is not None else (lambda r: r)
    x, r = np.zeros(n), b.copy()
    z = apply_p(r)
    p, rz = z.copy(), float(r @ z)
    norm_b = float(np.linalg.norm(b))
    residuals = [1.0]
    for k in range(max_iter):
        if residuals[-1] <= tol:
            break
        ap = matvec(p)
        alpha = rz / float(p @ ap)
        x += alpha * p
        r -= alpha * ap
        z = apply_p(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
        residuals.append(float(np.linalg.norm(r)) / norm_b)
    res = np.array(residuals)
    return CGResult(x=x, iterations=res.size - 1, residuals=res, converged=bool(res[-1] <= tol))


def nystrom_factor(kernel: np.ndarray, rank: int, gen: np.random.Generator) -> np.ndarray:
    r"""Low-rank factor L (n, r) of the Nystrom approximation from ``rank`` landmark columns chosen uniformly.

    .. math::  \hat K = K_{:,S}\,K_{S,S}^{-1}K_{S,:} = LL^\top,\qquad 0 \preceq K - \hat K .

    Reference: Williams & Seeger (2001). Args: kernel: (n, n) PSD; rank: number of landmarks r.
    """
    n = kernel.shape[0]
    rank = require_int("rank", rank, minimum=1, maximum=n)
    idx = np.sort(gen.choice(n, size=rank, replace=False))
    c = kernel[:, idx]                                                    # (n, r)
    w = c[idx] + 1e-10 * np.trace(c[idx]) / rank * np.eye(rank)           # jitter: K_SS may be near singular
    factor = linalg.cholesky(w, lower=True)
    return linalg.solve_triangular(factor, c.T, lower=True).T             # (n, r)


def nystrom_preconditioner(lmat: np.ndarray, ridge: float, power: float = 1.0) -> Operator:
    r"""Apply :math:`P^{-1}` for :math:`P = LL^\top + \delta I` (the Nystrom preconditioner of :math:`K+\delta I`).

    With the thin SVD :math:`L = U\,\mathrm{diag}(s)\,V^\top`,

    .. math::  P^{-1} = U\,\mathrm{diag}\Big(\frac{1}{s^2+\delta}\Big)U^\top + \frac{I - UU^\top}{\delta}.

    Since :math:`0 \preceq K-\hat K`, the eigenvalues of :math:`P^{-1}(K+\delta I)` lie in
    :math:`[1,\ 1 + \|K-\hat K\|/\delta]`. Reference: Cutajar et al. (2016), Sec. 3 (Nystrom-type
    preconditioners); Frangella, Tropp & Udell (2023). Args: lmat: (n, r); ridge: delta > 0;
    power: p, apply :math:`P^{-p}` instead (0.5 for the symmetric split). Returns: a function
    of (n,) or (n, m) arrays.
    """
    ridge = require_float("ridge", ridge, low=0.0, low_open=True)
    u, s, _ = linalg.svd(lmat, full_matrices=False)
    power = require_float("power", power, low=0.0, low_open=True)
    base = ridge ** -power
    scale = (s**2 + ridge) ** -power - base

    def apply(r: np.ndarray) -> np.ndarray:
        coef = u.T @ r
        return base * r + u @ (scale.reshape((-1,) + (1,) * (coef.ndim - 1)) * coef)
    return apply


def nystrom_error_norm(kernel: np.ndarray, lmat: np.ndarray) -> float:
    r"""Spectral norm :math:`\|K - LL^\top\|_2` of the Nystrom residual (Lanczos, largest eigenvalue)."""
    from scipy.sparse.linalg import eigsh

    resid = kernel - lmat @ lmat.T
    return float(eigsh(resid, k=1, which="LA", return_eigenvectors=False, tol=1e-6)[0])


def preconditioned_condition_number(a: np.ndarray, precond_half: Operator) -> float:
    r"""Condition number of :math:`P^{-1/2}AP^{-1/2}` (the matrix preconditioned CG effectively sees),
    given a function applying :math:`P^{-1/2}` (e.g. ``nystrom_preconditioner(..., power=0.5)``)."""
    half = precond_half(np.eye(a.shape[0]))
    return condition_number(half @ a @ half)


def condition_number(a: np.ndarray) -> float:
    """lambda_max / lambda_min of a symmetric positive-definite matrix."""
    ev = np.linalg.eigvalsh(a)
    return float(ev[-1] / ev[0])


def residual_bound(k: np.ndarray, kappa: float, kappa_a: float | None = None) -> np.ndarray:
    r"""Upper bound on the relative residual of (preconditioned) CG after k iterations.

    .. math::  \frac{\|r_k\|}{\|b\|} \le 2\sqrt{\kappa_A}\Big(\frac{\sqrt\kappa-1}{\sqrt\kappa+1}\Big)^k,

    with :math:`\kappa` the condition number of the preconditioned matrix :math:`P^{-1/2}AP^{-1/2}`
    (the A-norm error contracts at this rate; Saad, Thm 6.29) and :math:`\kappa_A` that of A (from
    :math:`\|r\|^2\le\lambda_{\max}\|e\|_A^2` and :math:`\|b\|^2\ge\lambda_{\min}\|x_\star\|_A^2`).
    """
    kappa_a = kappa if kappa_a is None else kappa_a
    rate = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return 2 * np.sqrt(kappa_a) * rate ** np.asarray(k, dtype=np.float64)


def iteration_bound(kappa: float, tol: float, kappa_a: float | None = None) -> int:
    r"""Iterations after which :func:`residual_bound` is below tol:
    :math:`\lceil \log(2\sqrt{\kappa_A}/\epsilon)/\log\frac{\sqrt\kappa+1}{\sqrt\kappa-1}\rceil
    \le \lceil\tfrac{\sqrt\kappa}{2}\log(2\sqrt{\kappa_A}/\epsilon)\rceil`."""
    kappa_a = kappa if kappa_a is None else kappa_a
    if kappa <= 1.0:
        return 1
    return int(np.ceil(np.log(2 * np.sqrt(kappa_a) / tol) / np.log((np.sqrt(kappa) + 1) / (np.sqrt(kappa) - 1))))
