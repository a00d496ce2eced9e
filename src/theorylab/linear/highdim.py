r"""Gaussian linear regression in high dimension: sufficient statistics, solvers, closed forms.

The data model used throughout is

.. math::  x \sim \mathcal N(0, \Sigma), \qquad y = x^\top w + \sigma\,\varepsilon,
           \qquad \Sigma = \mathrm{diag}(s_1, \dots, s_d),

(a diagonal :math:`\Sigma` loses no generality: rotate :math:`x` and :math:`w` together), and
the error of an estimate is the excess population risk :math:`\|\hat w - w_\star\|_\Sigma^2`.

Ridge with penalty ``ridge`` (:math:`\lambda`) means :math:`\hat w = (X^\top X + T\lambda I)^{-1} X^\top y` for ``T``
samples, i.e. the minimiser of :math:`\frac1T\|Xw-y\|^2 + \lambda\|w\|^2`; ``ridge = 0`` is OLS
(``T > d``) or the min-norm interpolator (``T < d``).

Everything is simulated from sufficient statistics: a *Wishart factor* ``C`` (d x k,
k = min(T, d)) with :math:`CC^\top \sim W_d(T, \Sigma)`; then :math:`X^\top\varepsilon \mid X^\top X`
has the law of :math:`Cz`, :math:`z\sim\mathcal N(0, I_k)`, so a regression on ``T = 10^7``
samples costs :math:`O(d^3)`, not :math:`O(Td)`.

References: Dohmatob, Feng & Kempe (2024), *Model Collapse Demystified* (Sec. 3-5);
Dohmatob, Feng, Subramonian & Kempe (2025), *Strong Model Collapse* (Sec. 2-3).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "powerlaw_spectrum", "source_teacher", "wishart_factor", "ridge_from_factor",
    "excess_risk", "ols_noise_step", "ols_generation_drift", "ols_generations_error",
    "simulate_ols_generations", "solve_kappa", "ridge_collapse_error",
    "simulate_ridge_collapse", "ridge_risk_given_factor", "mixed_ols_error", "simulate_mixed_ols",
]


# ----------------------------------------------------------------------------- validation
def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _nonneg(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return arr


def _spectrum(spectrum) -> np.ndarray:
    lam = np.asarray(spectrum, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError("spectrum must be a non-empty 1-d array of positive numbers")
    return lam


# ----------------------------------------------------------------------------- data model
def powerlaw_spectrum(d: int, beta: float) -> np.ndarray:
    r"""Eigenvalues :math:`s_i = i^{-\beta}`, i = 1..d (capacity condition)."""
    d = _int("d", d, 1)
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    return np.arange(1, d + 1, dtype=np.float64) ** (-float(beta))


def source_teacher(d: int, beta: float, r: float) -> np.ndarray:
    r"""Teacher with :math:`s_i w_i^2 = i^{-(2\beta r + 1)}` (source condition).

    Then the ridge bias behaves as :math:`\kappa^{2r}` for small effective ridge
    :math:`\kappa` (Dohmatob et al. 2024, Sec. 5).
    """
    if not r > 0:
        raise ValueError(f"r must be > 0, got {r!r}")
    lam = powerlaw_spectrum(d, beta)
    i = np.arange(1, lam.size + 1, dtype=np.float64)
    return np.sqrt(i ** (-(2 * beta * r + 1)) / lam)


def wishart_factor(t: int, spectrum, gen: np.random.Generator, size: int = 1) -> np.ndarray:
    r"""Batch of factors ``C`` (size, d, k), k = min(t, d), with :math:`CC^\top \sim W_d(t,\Sigma)`.

    For t >= d this is Bartlett's decomposition :math:`C = \Sigma^{1/2}B`, ``B`` lower
    triangular with :math:`B_{ii}^2\sim\chi^2_{t-i+1}` and standard normal entries below the
    diagonal (cost :math:`O(d^2)` per draw, whatever t). For t < d it is :math:`X^\top`
    itself. In both cases :math:`X^\top\varepsilon \overset{d}{=} Cz` given :math:`X^\top X`.
    """
    t, size = _int("t", t, 1), _int("size", size, 1)
    lam = _spectrum(spectrum)
    d = lam.size
    root = np.sqrt(lam)[None, :, None]
    if t < d:
        return root * gen.standard_normal((size, d, t))
    b = np.zeros((size, d, d))
    rows, cols = np.tril_indices(d, k=-1)
    b[:, rows, cols] = gen.standard_normal((size, rows.size))
    b[:, np.arange(d), np.arange(d)] = np.sqrt(gen.chisquare(t - np.arange(d), size=(size, d)))
    return root * b


def ridge_from_factor(c: np.ndarray, w: np.ndarray, sigma: float, t: int, ridge,
                      gen: np.random.Generator) -> np.ndarray:
    r"""Ridge estimates (size, L, d) from a Wishart factor, one per penalty in ``ridge``.

    With :math:`u = C^\top w + \sigma z` one has :math:`X^\top y = Cu`, and by the push-through
    identity :math:`\hat w = C(C^\top C + t\lambda)^{-1}u`, solved once through the eigen-
    decomposition of the k x k Gram matrix :math:`C^\top C` and reused for every penalty.
    Args: c: (size, d, k) factors; w: (d,) or (size, d) teacher; t: sample size behind c.
    """
    ridge = _nonneg("ridge", np.atleast_1d(ridge))
    t = _int("t", t, 1)
    sigma = float(_nonneg("sigma", sigma))
    size, d, k = c.shape
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), (size, d))
    u = np.einsum("sdk,sd->sk", c, w) + sigma * gen.standard_normal((size, k))
    g, v = np.linalg.eigh(np.swapaxes(c, 1, 2) @ c)                 # (size, k), (size, k, k)
    coef = np.einsum("skj,sk->sj", v, u)                              # V^T u
    with np.errstate(divide="ignore"):
        inv = 1.0 / (g[:, None, :] + t * ridge[None, :, None])         # (size, L, k)
    inv[~np.isfinite(inv)] = 0.0                                      # pseudo-inverse at lam = 0
    inner = v @ np.swapaxes(inv * coef[:, None, :], 1, 2)             # (size, k, L)
    return np.swapaxes(c @ inner, 1, 2)


def excess_risk(w_hat: np.ndarray, w_star: np.ndarray, spectrum) -> np.ndarray:
    r""":math:`\|\hat w - w_\star\|_\Sigma^2` along the last axis."""
    lam = _spectrum(spectrum)
    return np.sum(lam * (np.asarray(w_hat) - np.asarray(w_star)) ** 2, axis=-1)


# ----------------------------------------------------------------------------- generations (OLS)
def ols_noise_step(t: int, spectrum, scale: float, gen: np.random.Generator,
                   size: int = 1) -> np.ndarray:
    r"""OLS noise :math:`(X^\top X)^{-1}X^\top\varepsilon` for ``t`` >= d + 2 samples, (size, d).

    With :math:`X^\top X = CC^\top`, :math:`C = \Sigma^{1/2}B` (Bartlett) and
    :math:`X^\top\varepsilon \overset{d}{=} \text{scale}\cdot Cz`, the noise equals
    :math:`\text{scale}\cdot\Sigma^{-1/2}B^{-\top}z`: one O(d^2) triangular solve per draw.
    """
    lam = _spectrum(spectrum)
    t, size = _int("t", t, lam.size + 2), _int("size", size, 1)
    b = wishart_factor(t, np.ones_like(lam), gen, size)
    z = gen.standard_normal((size, lam.size))
    step = np.linalg.solve(np.swapaxes(b, 1, 2), z[..., None])[..., 0]   # B^T is upper triangular
    return float(_nonneg("scale", scale)) * step / np.sqrt(lam)


def ols_generation_drift(n_gen: int, t0: int, spectrum, sigma0: float,
                         gen: np.random.Generator, size: int = 1) -> np.ndarray:
    r"""Cumulative drift :math:`\hat w_k - w_0` after k = 0..n_gen generations, (size, n_gen+1, d).

    Generation k refits OLS on ``t0`` fresh inputs labelled by generation k-1 plus noise
    :math:`\sigma_0`, so :math:`\hat w_k = \hat w_{k-1} + (X_k^\top X_k)^{-1}X_k^\top E_k`
    (Dohmatob et al. 2024, Sec. 3): a sum of independent OLS noise steps.
    """
    n_gen, size = _int("n_gen", n_gen, 0), _int("size", size, 1)
    lam = _spectrum(spectrum)
    _int("t0", t0, lam.size + 2)
    out = np.zeros((size, n_gen + 1, lam.size))
    for k in range(1, n_gen + 1):
        out[:, k] = out[:, k - 1] + ols_noise_step(t0, lam, sigma0, gen, size)
    return out


def ols_generations_error(d: int, t: int, t0: int, n_gen, sigma: float, sigma0: float):
    r"""Exact mean error of OLS trained on ``t`` samples labelled by generation ``n_gen``.

    .. math::  E = \frac{\sigma^2 d}{T-d-1} + n\,\frac{\sigma_0^2 d}{T_0-d-1}

    (inverse-Wishart mean :math:`\mathbb E[(X^\top X)^{-1}] = \Sigma^{-1}/(T-d-1)`; any
    :math:`\Sigma`). Cf. Dohmatob et al. (2024), Sec. 4 (linear growth in n).
    """
    d = _int("d", d, 1)
    t, t0 = _int("t", t, d + 2), _int("t0", t0, d + 2)
    n_gen = _nonneg("n_gen", n_gen)
    s2, s02 = float(_nonneg("sigma", sigma)) ** 2, float(_nonneg("sigma0", sigma0)) ** 2
    return s2 * d / (t - d - 1) + n_gen * s02 * d / (t0 - d - 1)


def simulate_ols_generations(d: int, t: int, t0: int, n_gen: int, sigma: float, sigma0: float,
                             gen: np.random.Generator, reps: int = 1, spectrum=None) -> np.ndarray:
    """Simulated twin of :func:`ols_generations_error`: errors (reps, n_gen+1) for n = 0..n_gen.

    The downstream OLS noise of each repetition is shared by all n (paired differences).
    """
    d, reps = _int("d", d, 1), _int("reps", reps, 1)
    lam = np.ones(d) if spectrum is None else _spectrum(spectrum)
    if lam.size != d:
        raise ValueError(f"spectrum must have length d = {d}, got {lam.size}")
    drift = ols_generation_drift(n_gen, t0, lam, sigma0, gen, reps)   # (reps, n+1, d)
    noise = ols_noise_step(t, lam, sigma, gen, reps)[:, None, :]      # (reps, 1, d)
    return excess_risk(drift + noise, 0.0, lam)


# ----------------------------------------------------------------------------- deterministic equivalents
def solve_kappa(spectrum, t, ridge, iters: int = 80) -> np.ndarray:
    r"""Effective ridge :math:`\kappa` solving :math:`\kappa = \lambda + \kappa\,\mathrm{df}_1(\kappa)/T`.

    :math:`\mathrm{df}_1(\kappa) = \sum_i s_i/(s_i+\kappa)`. Bisection in
    :math:`\log\kappa`, vectorised over broadcast ``t`` and ``ridge``; :math:`\kappa = 0` when
    ``ridge = 0`` and ``t >= d``.
    """
    ev = _spectrum(spectrum)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t <= 0):
        raise ValueError(f"t must be > 0, got {t!r}")
    ridge = _nonneg("ridge", ridge)
    t, ridge = np.broadcast_arrays(t, ridge)
    lo = np.log(np.maximum(ridge, 1e-40 * ev.sum()))
    hi = np.log(ridge + ev.sum() / t + 1e-300)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        k = np.exp(mid)
        df1 = np.sum(ev / (ev + k[..., None]), axis=-1)
        pos = k - ridge - k * df1 / t > 0
        hi, lo = np.where(pos, mid, hi), np.where(pos, lo, mid)
    kappa = np.exp(0.5 * (lo + hi))
    return np.where((ridge == 0) & (t >= ev.size), 0.0, kappa)


def ridge_collapse_error(spectrum, w0, t, ridge, sigma: float, collapse=0.0) -> np.ndarray:
    r"""Deterministic equivalent of the ridge error when the teacher is :math:`w_0 + \delta`.

    With :math:`\mathrm{df}_j = \mathrm{tr}\,\Sigma^j(\Sigma+\kappa)^{-j}`, :math:`u = \mathrm{df}_2/T`
    and :math:`\mathrm{Cov}\,\delta = c\,\Sigma^{-1}` (``collapse`` = c; after n OLS generations
    :math:`c = n\sigma_0^2/(T_0-d-1)`):

    .. math::  E \approx \frac{\kappa^2 w_0^\top\Sigma(\Sigma+\kappa)^{-2}w_0 + \sigma^2 u}{1-u}
               + c\Big[\mathrm{df}_2 + \frac{u}{1-u}\,\kappa^2\mathrm{tr}(\Sigma+\kappa)^{-2}\Big].

    Our derivation; cf. Dohmatob et al. (2024), Sec. 4-5. Broadcasts over ``t``, ``ridge``, ``collapse``.
    """
    ev = _spectrum(spectrum)
    w0 = np.asarray(w0, dtype=np.float64)
    sigma, collapse = float(_nonneg("sigma", sigma)), _nonneg("collapse", collapse)
    kappa = solve_kappa(ev, t, ridge)[..., None]
    t = np.asarray(t, dtype=np.float64)[..., None]
    shrink = kappa / (ev + kappa)                                       # kappa (Sigma+kappa)^-1
    with np.errstate(invalid="ignore", divide="ignore"):
        df2 = np.sum((ev / (ev + kappa)) ** 2, axis=-1)
        u = df2 / t[..., 0]
        bias = np.sum(ev * w0**2 * shrink**2, axis=-1)
        out = (bias + sigma**2 * u) / (1 - u) + collapse * (df2 + u / (1 - u) * np.sum(shrink**2, -1))
    return np.where(u < 1, out, np.inf)


def simulate_ridge_collapse(spectrum, w0, t: int, ridge, sigma: float, t0: int, sigma0: float,
                            n_gen: int, gen: np.random.Generator, reps: int = 1) -> np.ndarray:
    """Simulated twin of :func:`ridge_collapse_error`: errors (reps, L) against ``w0``."""
    ev = _spectrum(spectrum)
    drift = ols_generation_drift(n_gen, t0, ev, sigma0, gen, _int("reps", reps, 1))[:, -1]
    c = wishart_factor(_int("t", t, 1), ev, gen, reps)
    return excess_risk(ridge_from_factor(c, w0 + drift, sigma, t, ridge, gen), w0, ev)


def ridge_risk_given_factor(c: np.ndarray, spectrum, w0, sigma: float, t: int, ridge,
                            collapse=0.0) -> np.ndarray:
    r"""Ridge error averaged exactly over label noise and teacher drift, given the design; (size, L).

    With :math:`P = C(C^\top C + t\lambda)^{-1}C^\top` (so :math:`\hat w = P(w_0+\delta) + \text{noise}`),
    :math:`\mathbb E\,\delta\delta^\top = c\,\Sigma^{-1}` and label noise :math:`\sigma`:

    .. math::  \mathbb E[E\mid X] = \|(P-I)w_0\|_\Sigma^2 + \sigma^2\,\mathrm{tr}\,\Sigma C(C^\top C+t\lambda)^{-2}C^\top
               + c\,\|\Sigma^{1/2}P\Sigma^{-1/2}\|_F^2 .

    Exact because the error is quadratic in :math:`\delta` and OLS generations have
    :math:`\mathbb E[(X_k^\top X_k)^{-1}] = \Sigma^{-1}/(T_0-d-1)` (a Rao-Blackwellised simulation).
    """
    lam = _spectrum(spectrum)
    ridge = _nonneg("ridge", np.atleast_1d(ridge))
    t, sigma, collapse = _int("t", t, 1), float(_nonneg("sigma", sigma)), float(_nonneg("collapse", collapse))
    g, v = np.linalg.eigh(np.swapaxes(c, 1, 2) @ c)                 # (size, k), (size, k, k)
    cv = c @ v                                                        # (size, d, k)
    with np.errstate(divide="ignore"):
        inv = 1.0 / (g[:, None, :] + t * ridge[None, :, None])         # (size, L, k)
    inv[~np.isfinite(inv)] = 0.0
    proj = np.einsum("sdk,d->sk", cv, np.asarray(w0, dtype=np.float64))  # V^T C^T w0
    resid = np.einsum("sdk,slk->sld", cv, inv * proj[:, None, :]) - w0     # (P - I) w0
    bias = np.sum(lam * resid**2, axis=-1)
    qq = np.swapaxes(cv, 1, 2) @ (lam[:, None] * cv)                 # V^T C^T Sigma C V
    ss = np.swapaxes(cv, 1, 2) @ (cv / lam[:, None])                 # V^T C^T Sigma^-1 C V
    var = np.einsum("slj,sj->sl", inv**2, np.diagonal(qq, axis1=1, axis2=2))
    drift = np.sum((inv @ (qq * np.swapaxes(ss, 1, 2))) * inv, axis=-1)
    return bias + sigma**2 * var + collapse * drift


# ----------------------------------------------------------------------------- strong collapse (mixtures)
def mixed_ols_error(d: int, t, p2, sigma: float, delta_sq: float) -> np.ndarray:
    r"""Exact mean error of OLS on T = T_1 + T_2 samples, a fraction p2 = T_2/T labelled by :math:`w_1 + \Delta`.

    .. math::  \mathbb E\,E = \frac{\sigma^2 d}{T-d-1} + p_2^2\|\Delta\|_\Sigma^2
               + p_1p_2\|\Delta\|_\Sigma^2\,\frac{(d+1)T^2 - (d+5)T + 2(d+1)}{(T-1)(T+2)(T-d-1)}

    for Gaussian inputs with any covariance (whitening reduces it to :math:`\Sigma = I`); the last
    fraction is :math:`(d+1)/(T-d-1)` up to :math:`O(d/T^2)`. Derivation (ours): exchangeability of
    the rows, the polar decomposition :math:`X = HA^{1/2}` and Stein's lemma,
    :math:`\mathbb E[\mathrm{tr}A\,\mathrm{tr}A^{-1}] = d(Td-2)/(T-d-1)`. As :math:`T\to\infty` the
    error tends to the floor :math:`p_2^2\|\Delta\|_\Sigma^2 > 0` (Dohmatob et al. 2025, strong model
    collapse). ``delta_sq`` is :math:`\|\Delta\|_\Sigma^2`; exact when :math:`p_2T` is an integer.
    """
    d = _int("d", d, 1)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < d + 2):
        raise ValueError(f"t must be >= d + 2 = {d + 2}, got {t!r}")
    p2 = _nonneg("p2", p2)
    if np.any(p2 > 1):
        raise ValueError(f"p2 must lie in [0, 1], got {p2!r}")
    s2, c2 = float(_nonneg("sigma", sigma)) ** 2, float(_nonneg("delta_sq", delta_sq))
    spread = ((d + 1) * t**2 - (d + 5) * t + 2 * (d + 1)) / ((t - 1) * (t + 2) * (t - d - 1))
    return s2 * d / (t - d - 1) + p2**2 * c2 + p2 * (1 - p2) * c2 * spread


def simulate_mixed_ols(d: int, t: int, p2: float, sigma: float, delta_sq: float,
                       gen: np.random.Generator, reps: int = 1) -> np.ndarray:
    r"""Simulated twin of :func:`mixed_ols_error` from two Wishart factors, (reps,) errors.

    :math:`\hat w - w_1 = (C_1C_1^\top + C_2C_2^\top)^{-1}\big(C_2C_2^\top\Delta
    + \sigma(C_1z_1 + C_2z_2)\big)`, with :math:`\Delta = \|\Delta\|e_1` (isotropic, WLOG).
    """
    d, t, reps = _int("d", d, 1), _int("t", t, d + 2), _int("reps", reps, 1)
    p2, sigma = float(_nonneg("p2", p2)), float(_nonneg("sigma", sigma))
    if p2 > 1:
        raise ValueError(f"p2 must lie in [0, 1], got {p2!r}")
    t2 = int(round(p2 * t))
    ones = np.ones(d)
    delta = np.zeros(d)
    delta[0] = np.sqrt(float(_nonneg("delta_sq", delta_sq)))
    a = np.zeros((reps, d, d))
    rhs = np.zeros((reps, d))
    for m, shift in ((t - t2, None), (t2, delta)):
        if m == 0:
            continue
        c = wishart_factor(m, ones, gen, reps)
        a += c @ np.swapaxes(c, 1, 2)
        rhs += sigma * np.einsum("sdk,sk->sd", c, gen.standard_normal(c.shape[::2]))
        if shift is not None:
            rhs += np.einsum("sdk,sk->sd", c, np.einsum("sdk,d->sk", c, shift))
    err = np.linalg.solve(a, rhs[..., None])[..., 0]
    return np.sum(err**2, axis=-1)
