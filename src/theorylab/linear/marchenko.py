r"""Gradient flow on least squares in high dimension, averaged over the Marchenko-Pastur law.

Teacher-student model (Advani & Saxe 2017, Sec. 2-3): inputs :math:`x\sim\mathcal N(0, I_d)`, a
noisy linear teacher :math:`y = \bar w^\top x/\sqrt d + \varepsilon` with
:math:`\bar w\sim\mathcal N(0,\sigma_w^2 I)` and :math:`\varepsilon\sim\mathcal N(0,\sigma_\varepsilon^2)`,
and a linear student :math:`\hat y = w^\top x/\sqrt d` started at :math:`w_0\sim\mathcal N(0,\sigma_0^2 I)`,
trained on ``n`` samples by gradient flow on the mean squared error in the time units

.. math::  \dot w = -C\,(w - \bar w) + \frac{\sqrt d}{n} X^\top\varepsilon, \qquad C = \frac{X^\top X}{n}.

Every eigenmode of ``C`` (eigenvalue :math:`\lambda`) relaxes on its own, and the test error
:math:`E_g = \mathbb E_x(y-\hat y)^2 = \|w-\bar w\|^2/d + \sigma_\varepsilon^2` averages, as
:math:`d\to\infty` with :math:`\alpha = n/d` fixed, to

.. math::  E_g(t) = \int \rho_\alpha(\lambda)\Big[(\sigma_w^2+\sigma_0^2)e^{-2\lambda t}
           + \frac{\sigma_\varepsilon^2}{\alpha}\frac{(1-e^{-\lambda t})^2}{\lambda}\Big]d\lambda
           + (1-\alpha)_+(\sigma_w^2+\sigma_0^2) + \sigma_\varepsilon^2,

with :math:`\rho_\alpha` the continuous part of the Marchenko-Pastur law of ``C`` (mass
:math:`\min(1,\alpha)`). Reference: Advani & Saxe (2017), *High-dimensional dynamics of
generalization error in neural networks*, arXiv:1710.03667, Sec. 3 (their Eq. for
:math:`E_g(t)`; the notation here is the book's: ``n`` samples, ``d`` inputs).

Twins with one signature: :func:`gd_error` (the Marchenko-Pastur average) and
:func:`simulate_gd_error` (exact gradient flow on sampled data, by eigendecomposition);
:func:`gd_error_limit` is the exact finite-``d`` value at :math:`t=\infty` (inverse-Wishart moments).
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

__all__ = ["mp_edges", "mp_density", "mp_integral", "gd_error", "gd_error_limit",
           "gd_weights", "simulate_gd_error", "overtraining"]


def _pos(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _nonneg(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _times(t) -> np.ndarray:
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if t.ndim != 1 or np.any(np.isnan(t)) or np.any(t < 0):
        raise ValueError("t must be a 1-d array of times >= 0 (np.inf allowed)")
    return t


# ----------------------------------------------------------------------------- the law
def mp_edges(alpha: float) -> tuple[float, float]:
    r"""Edges :math:`\lambda_\pm = (1 \pm 1/\sqrt\alpha)^2` of the bulk of :math:`C = X^\top X/n`, :math:`\alpha = n/d`."""
    a = _pos("alpha", alpha)
    return (1 - a**-0.5) ** 2, (1 + a**-0.5) ** 2


def mp_density(lam, alpha: float) -> np.ndarray:
    r"""Continuous part of the Marchenko-Pastur density of :math:`C = X^\top X/n` (``d x d``, :math:`\alpha=n/d`).

    .. math::  \rho_\alpha(\lambda) = \frac{\alpha}{2\pi\lambda}\sqrt{(\lambda_+-\lambda)(\lambda-\lambda_-)}
               \quad\text{on } [\lambda_-, \lambda_+],

    which integrates to :math:`\min(1, \alpha)`; for :math:`\alpha<1` the rest, :math:`1-\alpha`,
    is an atom at :math:`\lambda = 0` (not included). Marchenko & Pastur (1967).
    """
    lo, hi = mp_edges(alpha)
    lam = np.asarray(lam, dtype=np.float64)
    inside = (lam > lo) & (lam < hi) & (lam > 0)
    safe = np.where(inside, lam, 1.0)
    return np.where(inside, alpha / (2 * np.pi * safe) * np.sqrt(np.clip((hi - safe) * (safe - lo), 0, None)), 0.0)


def _theta_rule(levels: int = 24, order: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on [0, pi], on panels graded geometrically towards both ends."""
    half = np.pi / 2 * np.concatenate([[0.0], 2.0 ** -np.arange(levels, -1, -1)])   # 0 < ... < pi/2
    x, w = np.polynomial.legendre.leggauss(order)
    nodes, weights = [], []
    for a, b in zip(half[:-1], half[1:]):
        nodes.append((b - a) / 2 * x + (a + b) / 2)
        weights.append((b - a) / 2 * w)
    nodes, weights = np.concatenate(nodes), np.concatenate(weights)
    return np.concatenate([nodes, np.pi - nodes[::-1]]), np.concatenate([weights, weights[::-1]])


_THETA, _THETA_W = _theta_rule()


def mp_integral(f: Callable[[np.ndarray], np.ndarray], alpha: float) -> np.ndarray:
    r"""Integral :math:`\int f(\lambda)\rho_\alpha(\lambda)\,d\lambda` over the bulk (the atom at 0 excluded).

    The substitution :math:`\lambda = \lambda_- + (\lambda_+-\lambda_-)(1-\cos\theta)/2` turns the
    square-root edges into :math:`\sin^2\theta`, and a Gauss-Legendre rule graded towards
    :math:`\theta = 0, \pi` resolves integrands that vary on scales down to :math:`\lambda\sim10^{-14}`
    (the :math:`1/\lambda` terms at :math:`\alpha = 1`, where :math:`\lambda_- = 0`).

    Args: f: maps an array of eigenvalues, shape (k,), to (..., k); alpha: n/d.
    Returns: shape (...).
    """
    lo, hi = mp_edges(alpha)
    half = (hi - lo) / 2
    lam = lo + half * 2 * np.sin(_THETA / 2) ** 2                             # (k,), = lo + half (1 - cos)
    jac = alpha / (2 * np.pi * lam) * (half * np.sin(_THETA)) ** 2            # rho(lam) dlam/dtheta
    return np.asarray(f(lam)) @ (jac * _THETA_W)


# ----------------------------------------------------------------------------- theory
def gd_error(n: int, d: int, t, sigma_w: float = 1.0, sigma_eps: float = 0.5, sigma0: float = 0.0) -> np.ndarray:
    r"""Marchenko-Pastur average of the test error of gradient flow, :math:`E_g(t)` (module docstring).

    Exact as :math:`d\to\infty` with :math:`\alpha = n/d`; ``t = np.inf`` gives the limit
    :math:`\sigma_\varepsilon^2/(\alpha-1)` (:math:`\alpha>1`) or
    :math:`(1-\alpha)(\sigma_w^2+\sigma_0^2) + \sigma_\varepsilon^2\alpha/(1-\alpha)` (:math:`\alpha<1`)
    above the noise floor :math:`\sigma_\varepsilon^2`, and ``inf`` at :math:`\alpha = 1`.
    Advani & Saxe (2017), Sec. 3.

    Returns: shape (len(t),).
    """
    n, d = _int("n", n, 1), _int("d", d, 1)
    sw, se, s0 = _nonneg("sigma_w", sigma_w), _nonneg("sigma_eps", sigma_eps), _nonneg("sigma0", sigma0)
    t, alpha = _times(t), n / d
    init = sw**2 + s0**2

    def integrand(lam: np.ndarray) -> np.ndarray:
        decay = np.exp(-np.outer(t, lam))                                     # (T, k)
        return init * decay**2 + se**2 / alpha * (1 - decay) ** 2 / lam

    out = mp_integral(integrand, alpha) + max(0.0, 1 - alpha) * init + se**2
    if n == d:
        out = np.where(np.isinf(t), np.inf, out)
    return out


def gd_error_limit(n: int, d: int, sigma_w: float = 1.0, sigma_eps: float = 0.5, sigma0: float = 0.0) -> float:
    r"""Exact finite-size mean of :math:`E_g(\infty)` for Gaussian inputs (no asymptotics).

    .. math::  \mathbb E\,E_g(\infty) = \sigma_\varepsilon^2 + \begin{cases}
               \sigma_\varepsilon^2\, d/(n-d-1), & n \ge d+2,\\
               (\sigma_w^2+\sigma_0^2)(d-n)/d + \sigma_\varepsilon^2\, n/(d-n-1), & n \le d-2,\end{cases}

    from :math:`\mathbb E[(X^\top X)^{-1}] = I/(n-d-1)` (inverse Wishart) and, for :math:`n<d`,
    :math:`\mathbb E[(XX^\top)^{-1}] = I/(d-n-1)` and :math:`d-n` frozen modes. The Marchenko-Pastur
    limit replaces :math:`n-d-1` by :math:`n-d` and :math:`d-n-1` by :math:`d-n`. The mean is
    infinite for :math:`|n-d|\le1`.
    """
    n, d = _int("n", n, 1), _int("d", d, 1)
    sw, se, s0 = _nonneg("sigma_w", sigma_w), _nonneg("sigma_eps", sigma_eps), _nonneg("sigma0", sigma0)
    if abs(n - d) <= 1:
        return float("inf")
    if n > d:
        return se**2 + se**2 * d / (n - d - 1)
    return se**2 + (sw**2 + s0**2) * (d - n) / d + se**2 * n / (d - n - 1)


# ----------------------------------------------------------------------------- simulation
def gd_weights(x: np.ndarray, y: np.ndarray, w0: np.ndarray, t) -> np.ndarray:
    r"""Exact gradient-flow weights :math:`w(t)` for :math:`\dot w = -Cw + \sqrt d\,X^\top y/n`, by eigendecomposition.

    With :math:`C = V\Lambda V^\top`, :math:`u = V^\top w` and :math:`b = V^\top\sqrt d X^\top y/n`,
    :math:`u_i(t) = u_i(0)e^{-\lambda_i t} + b_i(1-e^{-\lambda_i t})/\lambda_i`; modes with
    :math:`\lambda_i = 0` (numerically: below :math:`10\,d\,\epsilon\,\lambda_{\max}`) have :math:`b_i = 0`
    and keep their initial value: the frozen subspace.

    Args: x: (..., n, d); y: (..., n); w0: (..., d); t: (T,) times, ``np.inf`` allowed.
    Returns: (..., T, d).
    """
    x, y, w0 = (np.asarray(a, dtype=np.float64) for a in (x, y, w0))
    n, d = x.shape[-2:]
    if y.shape != x.shape[:-1] or w0.shape != x.shape[:-2] + (d,):
        raise ValueError(f"shapes must be x (..., n, d), y (..., n), w0 (..., d); got {x.shape}, {y.shape}, {w0.shape}")
    t = _times(t)
    lam, vec = np.linalg.eigh(np.swapaxes(x, -1, -2) @ x / n)               # (..., d), (..., d, d)
    frozen = lam < 10 * d * np.finfo(np.float64).eps * lam.max(axis=-1, keepdims=True)
    lam = np.where(frozen, 0.0, lam)
    vt = np.swapaxes(vec, -1, -2)
    b = (vt @ (np.swapaxes(x, -1, -2) @ y[..., None]))[..., 0] * np.sqrt(d) / n
    b = np.where(frozen, 0.0, b)
    u0 = (vt @ w0[..., None])[..., 0]
    live = lam[..., None, :] > 0
    with np.errstate(invalid="ignore"):                                        # 0 * inf on frozen modes
        lt = np.where(live, lam[..., None, :] * t[:, None], 0.0)               # (..., T, d)
    decay = np.exp(-lt)
    gain = np.where(live, -np.expm1(-lt) / np.where(live, lam[..., None, :], 1.0), 0.0)
    u = u0[..., None, :] * decay + b[..., None, :] * gain
    return u @ vt                                                              # rows: V u(t)


def _sphere(gen: np.random.Generator, reps: int, d: int) -> np.ndarray:
    """(reps, d) vectors uniform on the sphere of radius sqrt(d)."""
    g = gen.standard_normal((reps, d))
    return g * np.sqrt(d) / np.linalg.norm(g, axis=-1, keepdims=True)


def simulate_gd_error(n: int, d: int, t, sigma_w: float = 1.0, sigma_eps: float = 0.5, sigma0: float = 0.0,
                      *, gen: np.random.Generator, reps: int = 1) -> np.ndarray:
    r"""Simulated twin of :func:`gd_error`: test error :math:`\|w(t)-\bar w\|^2/d + \sigma_\varepsilon^2` of exact
    gradient flow on ``reps`` independent draws of teacher, data, noise and initialisation.

    The teacher and the initial weights are drawn uniformly on the spheres of radius
    :math:`\sigma_w\sqrt d` and :math:`\sigma_0\sqrt d`: the same second moments as the Gaussian
    draws of the model (all the theory uses), without the :math:`O(d^{-1/2})` fluctuation of their norms.

    Returns: (reps, len(t)).
    """
    n, d, reps = _int("n", n, 1), _int("d", d, 1), _int("reps", reps, 1)
    sw, se, s0 = _nonneg("sigma_w", sigma_w), _nonneg("sigma_eps", sigma_eps), _nonneg("sigma0", sigma0)
    w_bar = sw * _sphere(gen, reps, d)
    x = gen.standard_normal((reps, n, d))
    y = x @ w_bar[..., None] / np.sqrt(d)
    y = y[..., 0] + se * gen.standard_normal((reps, n))
    w0 = s0 * _sphere(gen, reps, d)
    w = gd_weights(x, y, w0, t)                                                # (reps, T, d)
    return ((w - w_bar[:, None, :]) ** 2).mean(-1) + se**2


def overtraining(errors: np.ndarray) -> np.ndarray:
    r"""Overtraining :math:`E_g(t_{\mathrm{end}}) - \min_t E_g(t)` along the last axis (time)."""
    errors = np.asarray(errors, dtype=np.float64)
    return errors[..., -1] - errors.min(axis=-1)
