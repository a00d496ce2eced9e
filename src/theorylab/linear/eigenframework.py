r"""The eigenframework: train and test risk of kernel and random-feature ridge regression from a spectrum.

A task is a spectrum :math:`\lambda_i` (kernel eigenvalues, or the input covariance of a linear
model) and a target power :math:`v_i^2` per eigenmode, plus label noise :math:`\sigma^2`. Ridge
regression on ``n`` samples with ridge :math:`\delta` minimises
:math:`\frac1n\sum_j(f(x_j)-y_j)^2 + \delta\|a\|^2`; with random features
:math:`z = Fx/\sqrt k` (``k`` rows of i.i.d. Gaussians) the model is :math:`f(x) = a^\top z`.
With :math:`\mathrm{df}_j(\gamma) = \sum_i \lambda_i^j/(\lambda_i+\gamma)^j`, the effective
regularisation :math:`\gamma` solves

.. math::  \delta = \gamma\Big(1-\frac{\mathrm{df}_1(\gamma)}{n}\Big)\Big(1-\frac{\mathrm{df}_1(\gamma)}{k}\Big),
           \qquad \mathrm{df}_1(\gamma) < \min(n, k),

(``k = inf`` is kernel ridge regression, where :math:`\gamma = \kappa` and the equation is
:func:`theorylab.linear.highdim.solve_kappa`'s). Then, with :math:`\kappa = \gamma(1-\mathrm{df}_1/k)`,

.. math::  E_{\rm te} = \frac{\sigma^2 + B}{1-\mathrm{df}_2^{z}/n},\qquad
           E_{\rm tr} = \Big(\frac{\delta}{\kappa}\Big)^2E_{\rm te} = \Big(1-\frac{\mathrm{df}_1}{n}\Big)^2E_{\rm te},

.. math::  B = \frac{(1-\mathrm{df}_1/k)\,\gamma^2\sum_i\frac{v_i^2}{(\lambda_i+\gamma)^2}
           + \frac{\mathrm{df}_1-\mathrm{df}_2}{k}\,\gamma\sum_i\frac{v_i^2}{\lambda_i+\gamma}}{1-\mathrm{df}_2/k},
           \qquad \mathrm{df}_2^{z} = \mathrm{df}_1 - \frac{1-\mathrm{df}_1/k}{1-\mathrm{df}_2/k}(\mathrm{df}_1-\mathrm{df}_2).

Derivation (ours; the chapter gives it): given :math:`F` the problem is Gaussian ridge regression on
``z`` (a KRR eigenframework with effective ridge :math:`\kappa`); averaging over :math:`F` is a second
deterministic equivalent, :math:`\kappa(Z+\kappa)^{-1}\approx\gamma(\Lambda+\gamma)^{-1}`, differentiated
in :math:`\kappa` for the second-order terms. Reference: Simon, Karkada, Ghosh & Belkin (2023),
*More is Better in Modern Machine Learning*, Sec. 3-4 (KRR and RF omniscient risk estimates);
the RF fixed point is that of Bach (2023) for random projections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theorylab.linear import highdim
from theorylab.nets import kernels

__all__ = ["df", "solve_gamma", "Estimate", "risk", "risk_at_gamma", "naive_risk", "optimal_ridge", "optimal_risk", "ridge_fit",
           "simulate_linear", "simulate_population", "relu_features", "arccos_kernel",
           "Spectrum", "empirical_spectrum", "sweep_linear", "sweep_population"]


def _arr(name: str, value, positive: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if np.any(np.isnan(arr)) or np.any(arr <= 0 if positive else arr < 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return arr


def df(spectrum, gamma, j: int = 1) -> np.ndarray:
    r""":math:`\mathrm{df}_j(\gamma) = \sum_i \lambda_i^j/(\lambda_i+\gamma)^j`, broadcast over ``gamma``."""
    lam = highdim._spectrum(spectrum)
    g = _arr("gamma", gamma)[..., None]
    return np.sum((lam / (lam + g)) ** j, axis=-1)


def solve_gamma(spectrum, n, k, ridge, iters: int = 64) -> np.ndarray:
    r"""Effective regularisation :math:`\gamma` of the module's fixed-point equation (``k = inf``: KRR).

    Bisection in :math:`\log\gamma` on the branch :math:`\mathrm{df}_1(\gamma)<\min(n,k)`, where the
    right side increases with :math:`\gamma`; vectorised over broadcast ``n``, ``k``, ``ridge``.
    Returns 0 where ``ridge = 0`` and :math:`\min(n, k)` is at least the number of modes.
    """
    lam = highdim._spectrum(spectrum)
    n, k, ridge = np.broadcast_arrays(_arr("n", n, True), _arr("k", k, True), _arr("ridge", ridge))
    cap = np.minimum(n, k)
    lo = np.full(n.shape, np.log(1e-30 * lam.sum()))
    hi = np.log(2 * (ridge + lam.sum() * (1 / n + 1 / k)) + 1e-300)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        g = np.exp(mid)
        d1 = np.sum(lam / (lam + g[..., None]), axis=-1)
        pos = (d1 < cap) & (g * (1 - d1 / n) * (1 - d1 / k) >= ridge)
        hi, lo = np.where(pos, mid, hi), np.where(pos, lo, mid)
    gamma = np.exp(0.5 * (lo + hi))
    return np.where((ridge == 0) & (cap >= lam.size), 0.0, gamma)


@dataclass(frozen=True)
class Estimate:
    """Eigenframework estimate: effective ridges ``gamma`` (features averaged) and ``kappa`` (given features), risks."""

    gamma: np.ndarray
    kappa: np.ndarray
    train: np.ndarray
    test: np.ndarray

    @property
    def fitting_ratio(self) -> np.ndarray:
        r""":math:`E_{\rm tr}/E_{\rm te} = (1-\mathrm{df}_1/n)^2`."""
        return self.train / self.test


def risk(spectrum, v2, noise: float, n, k, ridge) -> Estimate:
    r"""Eigenframework train and test risk (module equations); broadcast over ``n``, ``k``, ``ridge``.

    Args: spectrum: (m,) eigenvalues; v2: (m,) target power per mode; noise: :math:`\sigma^2`;
    n: samples; k: features (``np.inf`` for kernel ridge regression); ridge: :math:`\delta\ge0`.
    """
    return risk_at_gamma(spectrum, v2, noise, n, k, solve_gamma(spectrum, n, k, ridge))


def risk_at_gamma(spectrum, v2, noise: float, n, k, gamma) -> Estimate:
    r"""The same risks as an explicit function of the effective regularisation :math:`\gamma` (no solve).

    The ridge that produces :math:`\gamma` is the right side of the fixed-point equation; on the
    admissible branch it increases with :math:`\gamma`, so a grid in :math:`\gamma` is a grid in ridge.
    """
    lam = highdim._spectrum(spectrum)
    v2 = _arr("v2", v2)
    noise = float(_arr("noise", noise))
    gamma = _arr("gamma", gamma)
    n, ik = np.asarray(n, dtype=np.float64), 1.0 / np.asarray(k, dtype=np.float64)
    g = gamma[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = lam / (lam + g)
        d1, d2 = r.sum(-1), (r**2).sum(-1)
        bias = np.sum(v2 * (g / (lam + g)) ** 2, axis=-1)          # KRR bias at gamma
        reach = np.sum(v2 * g / (lam + g), axis=-1)                  # target power not captured at gamma
        big_b = ((1 - d1 * ik) * bias + ik * (d1 - d2) * reach) / (1 - d2 * ik)
        df2z = d1 - (1 - d1 * ik) / (1 - d2 * ik) * (d1 - d2)
        test = np.where(df2z < n, (noise + big_b) / (1 - df2z / n), np.inf)
        train = (1 - d1 / n) ** 2 * test
    return Estimate(gamma=gamma, kappa=gamma * (1 - d1 * ik), train=train, test=test)


def naive_risk(spectrum, v2, noise: float, ridge) -> np.ndarray:
    r"""The classical guess without renormalisation: :math:`\sigma^2 + \delta^2\sum_i v_i^2/(\lambda_i+\delta)^2`.

    The population-ridge error (:math:`\kappa = \delta`, no variance factor); a rival formula that
    the eigenframework corrects at finite ``n``. Broadcast over ``ridge``.
    """
    lam = highdim._spectrum(spectrum)
    d = _arr("ridge", ridge)[..., None]
    return float(noise) + np.sum(_arr("v2", v2) * (d / (lam + d)) ** 2, axis=-1)


def optimal_ridge(spectrum, v2, noise: float, n, k, ridges) -> tuple[np.ndarray, Estimate]:
    """Grid minimiser of the eigenframework test risk: (best ridge, Estimate at it); ``ridges`` is the last axis."""
    ridges = _arr("ridges", ridges)
    est = risk(spectrum, v2, noise, np.asarray(n, dtype=float)[..., None], np.asarray(k, dtype=float)[..., None], ridges)
    i = np.nanargmin(est.test, axis=-1)[..., None]
    pick = lambda a: np.take_along_axis(a, i, axis=-1)[..., 0]   # noqa: E731
    return ridges[i[..., 0]], Estimate(*(pick(a) for a in (est.gamma, est.kappa, est.train, est.test)))


def optimal_risk(spectrum, v2, noise: float, n, k, num: int = 61) -> tuple[np.ndarray, Estimate]:
    r"""Minimum over all ridges :math:`\delta\ge0` of the test risk: (best ridge, Estimate), broadcast over n, k.

    Searches :math:`\gamma = \gamma_0 + \lambda_1 10^{s}`, s on ``num`` points of [-9, 1], plus
    :math:`\gamma_0` itself (:math:`\delta = 0`), where :math:`\mathrm{df}_1(\gamma_0) = \min(n,k)`; no
    fixed-point solve per grid point.
    """
    lam = highdim._spectrum(spectrum)
    n, k = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(k, dtype=float))
    g0 = solve_gamma(lam, n, k, 0.0)[..., None]
    expo = np.broadcast_to(np.linspace(-9.0, 1.0, num), n.shape + (num,))
    for _ in range(2):                                   # a coarse grid, then a fine one around its best point
        gam = np.concatenate([g0, g0 + lam[0] * 10.0**expo], axis=-1)            # (..., num + 1)
        est = risk_at_gamma(lam, v2, noise, n[..., None], k[..., None], gam)
        i = np.nanargmin(est.test, axis=-1)[..., None]
        step = expo[..., 1:2] - expo[..., :1]
        centre = np.take_along_axis(expo, np.clip(i - 1, 0, num - 1), -1)
        expo = centre + step * np.linspace(-1.0, 1.0, num)
    d1 = np.sum(lam / (lam + gam[..., None]), axis=-1)
    ridge = gam * (1 - d1 / n[..., None]) * (1 - d1 / k[..., None])
    ridge[..., 0] = 0.0
    pick = lambda a: np.take_along_axis(a, i, axis=-1)[..., 0]   # noqa: E731
    return pick(ridge), Estimate(*(pick(a) for a in (est.gamma, est.kappa, est.train, est.test)))


# ----------------------------------------------------------------------------- simulation
def ridge_fit(z: np.ndarray, y: np.ndarray, ridges) -> tuple[np.ndarray, np.ndarray]:
    r"""Ridge coefficients (S, L, k, c) and train MSE (S, L, c) for features z (S, n, k), labels y (S, n, c).

    :math:`\hat a = (Z^\top Z + n\delta)^{-1}Z^\top y`, through one eigendecomposition of the smaller
    Gram matrix (:math:`ZZ^\top` if n <= k, else :math:`Z^\top Z`) reused for every ridge;
    ``ridge = 0`` is the minimum-norm (pseudo-inverse) solution; one train MSE per output.
    """
    ridges = _arr("ridges", np.atleast_1d(ridges))
    s, n, k = z.shape
    if y.shape[:2] != (s, n) or y.ndim != 3:
        raise ValueError(f"y must have shape (S, n, c) = ({s}, {n}, c), got {y.shape}")
    zt = np.swapaxes(z, 1, 2)
    g, vec = np.linalg.eigh(z @ zt if n <= k else zt @ z)
    g = np.clip(g, 0.0, None)
    with np.errstate(divide="ignore"):
        shrink = 1.0 / (g[:, None, :] + n * ridges[None, :, None])          # (S, L, r)
    shrink[~np.isfinite(shrink)] = 0.0
    if n <= k:
        u = np.swapaxes(vec, 1, 2) @ y                                       # (S, n, c)
        coef = (zt @ vec)[:, None] @ (shrink[..., None] * u[:, None])       # (S, L, k, c)
        resid = np.where(g[:, None, :] > 0, n * ridges[None, :, None] * shrink, 1.0)
        train = np.einsum("slr,src->slc", resid**2, u**2) / n
    else:
        c = np.swapaxes(vec, 1, 2) @ (zt @ y)                                # (S, k, c)
        coef = vec[:, None] @ (shrink[..., None] * c[:, None])
        fit = shrink * (2 - g[:, None, :] * shrink)
        train = (np.sum(y**2, axis=1)[:, None] - np.einsum("slr,src->slc", fit, c**2)) / n
    return coef, train


def simulate_linear(x: np.ndarray, y: np.ndarray, f: np.ndarray | None, spectrum, w, noise,
                    ridges) -> tuple[np.ndarray, np.ndarray]:
    r"""Simulated twin of :func:`risk` on Gaussian data: (train, test) MSE, each (S, L) or (S, L, c).

    ``x`` (S, n, m); ``y`` (S, n), or (S, n, c) for c label vectors of teachers ``w`` (c, m) with noise
    variances ``noise`` (c,); ``f`` (S, k, m) Gaussian projections (features :math:`z = Fx/\sqrt k`)
    or ``None`` for ridge on ``x`` itself (KRR with the linear kernel). The test risk is exact:
    :math:`\|F^\top\hat a/\sqrt k - w\|_\Lambda^2 + \sigma^2`, one per label vector.
    """
    lam = highdim._spectrum(spectrum)
    single = y.ndim == 2
    y, w = (y[..., None], np.asarray(w)[None]) if single else (y, np.asarray(w))
    z = x if f is None else x @ np.swapaxes(f, 1, 2) / np.sqrt(f.shape[1])
    coef, train = ridge_fit(z, y, ridges)                                  # (S, L, k, c)
    coef = np.swapaxes(coef, -1, -2)                                       # (S, L, c, k)
    w_hat = coef if f is None else coef @ f[:, None] / np.sqrt(f.shape[1])  # (S, L, c, m)
    test = np.sum(lam * (w_hat - w) ** 2, axis=-1) + np.asarray(noise, dtype=np.float64)
    return (train[..., 0], test[..., 0]) if single else (train, test)


def simulate_population(phi: np.ndarray, y: np.ndarray, idx: np.ndarray, ridges) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`risk` on a finite population: features phi (S, N, k), targets y (N, c), training rows idx (S, n).

    Train and test risks (S, L) sum over the c outputs; the test risk is the mean squared error over the
    whole population (the uniform law on its N points), which is what the eigenframework predicts
    with :func:`empirical_spectrum`.
    """
    rows = np.arange(phi.shape[0])[:, None]
    coef, train = ridge_fit(phi[rows, idx], y[idx], ridges)
    pred = phi[:, None] @ coef                                               # (S, L, N, c)
    return train.sum(-1), np.mean(np.sum((pred - y) ** 2, axis=-1), axis=-1)


def relu_features(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    r"""ReLU random features :math:`\mathrm{relu}(g_j^\top x/\sqrt d)/\sqrt k`: x (N, d), g (S, k, d) -> (S, N, k)."""
    d, k = x.shape[-1], g.shape[-2]
    return np.maximum(x @ np.swapaxes(g, -1, -2) / np.sqrt(d), 0.0) / np.sqrt(k)


def arccos_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""Limit of the ReLU-feature kernel as k -> inf (arc-cosine kernel of degree 1), (N_a, N_b).

    .. math::  K(x,x') = \frac{\|x\|\|x'\|}{2\pi d}\big(\sin\theta + (\pi-\theta)\cos\theta\big),
               \quad \cos\theta = \frac{x^\top x'}{\|x\|\|x'\|}.

    Reference: Cho & Saul (2009), *Kernel methods for deep learning*, Eq. (6).
    """
    with np.errstate(invalid="ignore", divide="ignore"):   # a zero row gives 0/0: its kernel is 0
        relu, _ = kernels.relu_moments(a @ b.T, (a * a).sum(-1)[:, None], (b * b).sum(-1)[None, :])
    return np.nan_to_num(relu) / a.shape[-1]


@dataclass(frozen=True)
class Spectrum:
    """A kernel's eigenvalues ``lam`` (descending), target powers ``v2``, and exact features (N, N) on the population."""

    lam: np.ndarray
    v2: np.ndarray
    features: np.ndarray


def empirical_spectrum(kernel: np.ndarray, y: np.ndarray, floor: float = 1e-14) -> Spectrum:
    r"""Eigenvalues :math:`\lambda_i` (descending) and target powers :math:`v_i^2` of a kernel on a finite population.

    With :math:`K/N = U\,\mathrm{diag}(\lambda)U^\top`, the eigenfunctions :math:`\sqrt N U_{:i}` are
    orthonormal under the uniform law on the N points and :math:`v_i^2 = \|U_{:i}^\top y\|^2/N`
    (summed over outputs), so :math:`\sum_i v_i^2` is the mean of :math:`\|y\|^2`. Eigenvalues are
    floored at ``floor`` times the largest (the solvers need a positive spectrum). The features
    :math:`U\sqrt{N\lambda}` reproduce K exactly: ridge on them is kernel ridge regression (k = inf).
    """
    big_n = kernel.shape[0]
    lam, u = np.linalg.eigh(kernel / big_n)
    lam, u = lam[::-1], u[:, ::-1]
    v2 = np.sum((u.T @ y.reshape(big_n, -1)) ** 2, axis=-1) / big_n
    feats = u * np.sqrt(big_n * np.clip(lam, 0.0, None))
    return Spectrum(lam=np.maximum(lam, floor * lam[0]), v2=v2, features=feats)


# ----------------------------------------------------------------------------- sweeps (nested sizes)
def sweep_linear(x: np.ndarray, y: np.ndarray, f: np.ndarray, spectrum, w, noise, ns, ks,
                 ridges) -> tuple[np.ndarray, np.ndarray]:
    """:func:`simulate_linear` over nested sizes: the first n samples of ``x`` (S, n_max, m) and the first
    k rows of ``f`` (S, k_max, m); ``k = inf`` is ridge on ``x``. Returns train, test (S, |ns|, |ks|, L, c)."""
    xf = x @ np.swapaxes(f, 1, 2)                                            # (S, n_max, k_max), once
    out = []
    for n in ns:
        row = []
        for k in ks:
            if np.isinf(k):
                row.append(simulate_linear(x[:, :n], y[:, :n], None, spectrum, w, noise, ridges))
                continue
            k = int(k)
            z = xf[:, :n, :k] / np.sqrt(k)
            coef, train = ridge_fit(z, y[:, :n], ridges)
            w_hat = np.swapaxes(coef, -1, -2) @ f[:, None, :k] / np.sqrt(k)    # (S, L, c, m)
            row.append((train, np.sum(highdim._spectrum(spectrum) * (w_hat - w) ** 2, axis=-1) + noise))
        out.append(row)
    return tuple(np.stack([np.stack([cell[j] for cell in row], 1) for row in out], 1) for j in (0, 1))


def sweep_population(phi: np.ndarray, phi_inf: np.ndarray, y: np.ndarray, idx: np.ndarray, ns, ks,
                     ridges) -> tuple[np.ndarray, np.ndarray]:
    """:func:`simulate_population` over nested sizes: rows ``idx[:, :n]``, the first k of the k_max features
    ``phi`` (S, N, k_max) rescaled to k, and ``phi_inf`` (N, N) exact kernel features for ``k = inf``.
    Returns train, test (S, |ns|, |ks|, L)."""
    k_max = phi.shape[-1]
    res = [[simulate_population(np.broadcast_to(phi_inf, (phi.shape[0],) + phi_inf.shape) if np.isinf(k)
                                else phi[..., : int(k)] * np.sqrt(k_max / k), y, idx[:, :n], ridges)
            for k in ks] for n in ns]
    return tuple(np.stack([np.stack([cell[j] for cell in row], 1) for row in res], 1) for j in (0, 1))
