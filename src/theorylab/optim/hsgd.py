r"""Multi-pass SGD on least squares and its homogenized SDE: the Volterra equation for the risk.

Problem: :math:`f(x) = \tfrac12\|Ax-b\|^2 + \tfrac\delta2\|x\|^2` with ``A`` of shape (n, d), rows of
norm about 1. SGD samples a row uniformly (with replacement) and takes

.. math::  x_{k+1} = x_k - \gamma\big(a_i(a_i^\top x_k - b_i) + \tfrac{\delta}{n}x_k\big),
           \qquad t = k/n \ \text{(epochs)}.

Matching the drift and covariance per unit time gives homogenized SGD (HSGD),
:math:`dX = -\gamma\nabla f(X)\,dt + \gamma\sqrt{(2/n)L(X)H}\,dB` with :math:`H = A^\top A` and
:math:`L(x) = \tfrac12\|Ax-b\|^2`. Duhamel's formula and the Ito isometry close the expected loss
:math:`\psi(t) = \mathbb E L(X_t)` in a Volterra equation of the second kind, and give every quadratic
statistic :math:`q` (population risk included) from :math:`\psi`:

.. math::  \psi(t) = L(X^{\rm gf}_t) + \frac{\gamma^2}{n}\int_0^t \mathrm{tr}\big(H^2 e^{-2\gamma(H+\delta)(t-s)}\big)\psi(s)\,ds,

.. math::  \mathbb E\,q(X_t) = q(X^{\rm gf}_t) + \frac{\gamma^2}{n}\int_0^t \mathrm{tr}\big(\nabla^2 q\,H e^{-2\gamma(H+\delta)(t-s)}\big)\psi(s)\,ds,

where :math:`X^{\rm gf}_t` is gradient flow on ``f`` run for time :math:`\gamma t`. The kernel's mass is
:math:`\gamma\,\mathrm{tr}(H^2(H+\delta)^{-1})/(2n)`, which is below 1 iff :math:`\gamma < 2n/\mathrm{tr}\,H`
(at :math:`\delta = 0`), and then :math:`\psi(\infty) = L(x_\delta)/(1-\text{mass})`.

References: Paquette, Paquette, Adlam & Pennington (2022), *Implicit Regularization or Implicit
Conditioning? Exact Risk Trajectories of SGD in High Dimensions*, NeurIPS 2022, arXiv:2206.07252
(HSGD, the Volterra equation, implicit conditioning); the same authors, *Homogenization of SGD in
high-dimensions*, arXiv:2205.07069 (the l2 penalty, quadratic statistics, the limiting risk).
The normalisation here (rows of norm ~1, time in epochs) is the book's.

Twins with one signature and one return shape (``Risk``, arrays (n_lr, reps, T)):
:func:`volterra_risk` (the theory, reps = 1), :func:`simulate_sgd_risk` (Monte-Carlo SGD) and
:func:`theorylab.optim.sgdmoments.exact_sgd_risk` (the exact finite-n mean of SGD by its moment
recursion; small d only, in the sibling module :mod:`theorylab.optim.sgdmoments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theorylab import runtime

__all__ = ["Problem", "Risk", "gaussian_problem", "spiked_spectrum", "critical_lr", "gd_critical_lr",
           "random_features_problem", "volterra_risk", "volterra_limit", "simulate_sgd_risk", "gd_risk",
           "isotropic_loss"]


@dataclass(frozen=True)
class Problem:
    """A least-squares problem and the population risk R(x) = (x - x_star)^T K (x - x_star)/2 + floor.

    a: (n, d) data matrix; b: (n,) targets; pop_hessian: (d, d) K; x_star: (d,); floor: R(x_star).
    """
    a: np.ndarray
    b: np.ndarray
    pop_hessian: np.ndarray
    x_star: np.ndarray
    floor: float

    def __post_init__(self):
        lam, v = np.linalg.eigh(self.a.T @ self.a)                    # H = A^T A, computed once
        object.__setattr__(self, "lam", np.clip(lam, 0.0, None))
        object.__setattr__(self, "v", v)

    @property
    def n(self) -> int:
        return self.a.shape[0]

    @property
    def d(self) -> int:
        return self.a.shape[1]


@dataclass(frozen=True)
class Risk:
    """Training loss L = |Ax - b|^2/2 and population risk R at the times (epochs); arrays (n_lr, reps, T)."""
    times: np.ndarray
    loss: np.ndarray
    pop: np.ndarray


def spiked_spectrum(d: int, spike: float) -> np.ndarray:
    """Covariance eigenvalues of Sigma = I + spike * u u^T (u = e_1 without loss of generality)."""
    d = runtime.require_int("d", d, minimum=1)
    s = np.ones(d)
    s[0] += runtime.require_float("spike", spike, low=0.0)
    return s


def gaussian_problem(n: int, d: int, sigma: float, gen: np.random.Generator, spectrum=None) -> Problem:
    r"""Rows :math:`a_i\sim\mathcal N(0,\Sigma/d)`, :math:`b = Ax_\star + \sigma\varepsilon`, :math:`x_\star\sim\mathcal N(0,I_d)`.

    The population risk is the loss on a fresh row, :math:`R(x) = \tfrac12\mathbb E(a^\top x-b)^2
    = \tfrac12(x-x_\star)^\top(\Sigma/d)(x-x_\star) + \sigma^2/2`. ``spectrum``: the d eigenvalues of
    the diagonal Sigma (default ones).
    """
    n = runtime.require_int("n", n, minimum=1)
    d = runtime.require_int("d", d, minimum=1)
    sigma = runtime.require_float("sigma", sigma, low=0.0)
    s = np.ones(d) if spectrum is None else runtime.require_array("spectrum", spectrum, low=0.0)
    if s.shape != (d,):
        raise ValueError(f"spectrum must have shape ({d},), got {s.shape}")
    a = gen.standard_normal((n, d)) * np.sqrt(s / d)
    x_star = gen.standard_normal(d)
    b = a @ x_star + sigma * gen.standard_normal(n)
    return Problem(a, b, np.diag(s / d), x_star, sigma**2 / 2)


def random_features_problem(n: int, d_in: int, d: int, sigma: float, gen: np.random.Generator,
                            n_test: int = 8000) -> Problem:
    r"""ReLU random features of Gaussian inputs with a non-linear teacher (not a linear model of the features).

    Inputs :math:`z\sim\mathcal N(0, I_{d_{in}})`, features :math:`\phi_j(z) = (\mathrm{relu}(w_j^\top z) - \mu_j)/s_j`
    with :math:`W_{jk}\sim\mathcal N(0, 1/d_{in})`, centred and scaled exactly (:math:`\mathbb E\phi = 0`,
    :math:`\mathbb E\|\phi\|^2 = 1`; uncentred features carry a spike :math:`\lambda_{\max}\approx n/\pi`), targets
    :math:`y = \tanh(2w_0^\top z) + \sigma\varepsilon`. The population risk :math:`\tfrac12\mathbb E(\phi^\top x - y)^2`
    is the quadratic statistic whose moments come from ``n_test`` fresh points:
    :math:`K = \hat{\mathbb E}\phi\phi^\top`, :math:`x_\star = K^{-1}\hat{\mathbb E}\phi y`.
    Homogenization of SGD, Sec. on random features (arXiv:2205.07069) is the setting; sizes are ours.
    """
    n, d_in, d = (runtime.require_int(k, v, minimum=1) for k, v in (("n", n), ("d_in", d_in), ("d", d)))
    n_test = runtime.require_int("n_test", n_test, minimum=d + 1)
    sigma = runtime.require_float("sigma", sigma, low=0.0)
    w = gen.standard_normal((d, d_in)) / np.sqrt(d_in)
    w0 = gen.standard_normal(d_in) / np.sqrt(d_in)

    scale = np.linalg.norm(w, axis=1)                                # w_j^T z ~ N(0, scale_j^2)
    mean, std = scale / np.sqrt(2 * np.pi), scale * np.sqrt(d * (0.5 - 0.5 / np.pi))

    def sample(m: int) -> tuple[np.ndarray, np.ndarray]:
        z = gen.standard_normal((m, d_in))
        return (np.maximum(z @ w.T, 0.0) - mean) / std, np.tanh(2 * z @ w0) + sigma * gen.standard_normal(m)

    a, b = sample(n)
    phi, y = sample(n_test)
    k = phi.T @ phi / n_test
    x_star = np.linalg.solve(k, phi.T @ y / n_test)
    floor = 0.5 * float(np.mean((phi @ x_star - y) ** 2))
    return Problem(a, b, k, x_star, floor)


def critical_lr(problem: Problem) -> float:
    """SGD's critical step size 2n / tr(H), H = A^T A (the Volterra kernel's mass equals 1 there)."""
    return 2 * problem.n / float(np.sum(problem.a**2))


def gd_critical_lr(problem: Problem) -> float:
    """Full-batch gradient descent's critical step size 2 / lambda_max(H) (one step per epoch)."""
    return 2 / float(problem.lam[-1])


def _lrs(lr) -> np.ndarray:
    lrs = np.atleast_1d(np.asarray(lr, dtype=np.float64))
    if lrs.ndim != 1 or np.any(~np.isfinite(lrs)) or np.any(lrs <= 0):
        raise ValueError(f"lr must be a positive number or a 1-d array of them, got {lr!r}")
    return lrs


def _grid(times) -> np.ndarray:
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 2 or t[0] != 0 or not np.allclose(np.diff(t), t[1] - t[0], rtol=1e-9, atol=0):
        raise ValueError("times must be a uniform 1-d grid starting at 0 with at least 2 points")
    return t


class _Eigen:
    """H = V diag(lam) V^T and the problem's quadratics in that basis."""

    def __init__(self, problem: Problem, ridge: float, x0):
        a, b = problem.a, problem.b
        self.lam, self.v = problem.lam, problem.v
        self.atb = self.v.T @ (a.T @ b)                                   # (d,)
        self.bb = float(b @ b)
        x0 = np.zeros(problem.d) if x0 is None else np.asarray(x0, dtype=np.float64)
        self.z0 = self.v.T @ x0
        rate = self.lam + ridge
        live = rate > 1e-12 * max(1.0, self.lam.max())
        self.target = np.where(live, self.atb / np.where(live, rate, 1.0), self.z0)   # x_delta (or x0 off the range)
        self.k = self.v.T @ problem.pop_hessian @ self.v                  # K in the eigenbasis
        self.zs = self.v.T @ problem.x_star
        self.floor = problem.floor

    def loss(self, z: np.ndarray) -> np.ndarray:
        """L = z^T Lam z / 2 - atb . z + |b|^2 / 2 for z (..., d)."""
        return 0.5 * (z * z) @ self.lam - z @ self.atb + 0.5 * self.bb

    def pop(self, z: np.ndarray) -> np.ndarray:
        e = z - self.zs
        return 0.5 * np.sum((e @ self.k) * e, axis=-1) + self.floor

    def flow(self, lr: float, ridge: float, t: np.ndarray) -> np.ndarray:
        """Gradient flow on f for time lr * t, in the eigenbasis: (T, d)."""
        decay = np.exp(-lr * np.outer(t, self.lam + ridge))
        return self.target + (self.z0 - self.target) * decay


def volterra_risk(problem: Problem, lr, times, ridge: float = 0.0, x0=None, reps: int = 1,
                  noise: bool = True, population: bool = True) -> Risk:
    r"""Expected loss and population risk of homogenized SGD, from the Volterra equation.

    Solved on the uniform grid ``times`` by product integration: :math:`\psi` is taken piecewise linear
    and each exponential mode :math:`e^{-2\gamma(\lambda_j+\delta)u}` of the kernel is integrated
    exactly (second order in the step, stable for stiff modes). ``noise=False`` drops the convolution
    and returns gradient flow at time :math:`\gamma t`. ``reps`` only sets the replica axis (copies);
    ``population=False`` skips the population risk (NaN), its O(T d^2) evaluation being the costly part.
    Returns ``Risk`` with arrays (n_lr, reps, T).
    """
    t, lrs = _grid(times), _lrs(lr)
    ridge = runtime.require_float("ridge", ridge, low=0.0)
    reps = runtime.require_int("reps", reps, minimum=1)
    eig, n, h = _Eigen(problem, ridge, x0), problem.n, t[1] - t[0]
    loss, pop = np.empty((lrs.size, t.size)), np.empty((lrs.size, t.size))
    for g, gamma in enumerate(lrs):
        z = eig.flow(gamma, ridge, t)
        f, r = eig.loss(z), (eig.pop(z) if population else np.full(t.size, np.nan))
        if noise:
            rate = 2 * gamma * (eig.lam + ridge)                      # (d,)
            c_loss = gamma**2 / n * eig.lam**2                          # weights of tr(H^2 e^{-rate u})
            c_pop = gamma**2 / n * eig.lam * np.diag(eig.k)             # weights of tr(K H e^{-rate u})
            x = rate * h
            e = np.exp(-x)
            small = x < 1e-8
            xs = np.where(small, 1.0, x)
            w_all = np.where(small, h, -np.expm1(-x) / np.where(small, 1.0, rate))     # int_0^h e^{-rate v} dv
            w1 = np.where(small, h / 2, w_all - (1 - e - x * e) / (xs * np.where(small, 1.0, rate)))  # weight of psi_{k+1}
            w0 = w_all - w1
            psi = np.empty(t.size)
            psi[0] = f[0]
            conv = np.zeros(t.size)
            modes = np.zeros_like(rate)                               # I_j(t_k) = int_0^t e^{-rate_j (t-s)} psi(s) ds
            denom = 1 - c_loss @ w1
            for k in range(t.size - 1):
                base = e * modes + w0 * psi[k]
                psi[k + 1] = (f[k + 1] + c_loss @ base) / denom
                modes = base + w1 * psi[k + 1]
                if population:
                    conv[k + 1] = c_pop @ modes
            f, r = psi, r + conv
        loss[g], pop[g] = f, r
    shape = (lrs.size, reps, t.size)
    return Risk(t, np.broadcast_to(loss[:, None], shape).copy(), np.broadcast_to(pop[:, None], shape).copy())


def volterra_limit(problem: Problem, lr: float, ridge: float = 0.0) -> tuple[float, float]:
    r"""The fixed point of the Volterra equation: :math:`\psi(\infty) = L(x_\delta)/(1-m)` with the kernel mass
    :math:`m = \gamma\,\mathrm{tr}(H^2(H+\delta)^{-1})/(2n)`, and
    :math:`\mathbb E R(\infty) = R(x_\delta) + \frac{\gamma}{2n}\mathrm{tr}(KH(H+\delta)^{-1})\,\psi(\infty)`.
    Returns (loss, population risk); inf when m >= 1 (the step size is above critical)."""
    gamma = float(_lrs(lr)[0])
    ridge = runtime.require_float("ridge", ridge, low=0.0)
    eig = _Eigen(problem, ridge, None)
    live = eig.lam + ridge > 0
    frac = np.where(live, eig.lam / np.where(live, eig.lam + ridge, 1.0), 0.0)
    mass = gamma / (2 * problem.n) * float(eig.lam @ frac)
    if mass >= 1:
        return np.inf, np.inf
    psi = float(eig.loss(eig.target)) / (1 - mass)
    return psi, float(eig.pop(eig.target)) + gamma / (2 * problem.n) * float(np.diag(eig.k) @ frac) * psi


def _record_steps(t: np.ndarray, n: int) -> np.ndarray:
    steps = np.rint(t * n).astype(int)
    if not np.allclose(steps, t * n, atol=1e-6):
        raise ValueError("times must be multiples of 1/n (whole SGD steps)")
    return steps


def simulate_sgd_risk(problem: Problem, lr, times, ridge: float = 0.0, x0=None, reps: int = 1,
                      gen: np.random.Generator | None = None, population: bool = True) -> Risk:
    """Monte-Carlo twin of :func:`volterra_risk`: ``reps`` runs of multi-pass SGD (rows drawn uniformly
    with replacement) for every step size at once, float64. Returns ``Risk`` with arrays (n_lr, reps, T)."""
    if gen is None:
        raise ValueError("gen must be a numpy Generator (from theorylab.rng)")
    t, lrs = _grid(times), _lrs(lr)
    ridge = runtime.require_float("ridge", ridge, low=0.0)
    reps = runtime.require_int("reps", reps, minimum=1)
    a, b, n, d = problem.a, problem.b, problem.n, problem.d
    eig = _Eigen(problem, ridge, x0)
    steps = _record_steps(t, n)
    g = np.repeat(lrs, reps)[:, None]                                 # (B, 1), B = n_lr * reps
    x = np.tile(np.zeros(d) if x0 is None else np.asarray(x0, dtype=np.float64), (g.size, 1))
    shrink = 1 - g * ridge / n
    out = np.empty((g.size, t.size, d))
    out[:, 0] = x
    for rec in range(1, t.size):                                      # draw the rows of each stretch at once
        for i in gen.integers(0, n, size=(steps[rec] - steps[rec - 1], g.size)):
            rows = a[i]                                               # (B, d)
            resid = np.einsum("bj,bj->b", rows, x) - b[i]
            if ridge:
                x *= shrink
            x -= g * resid[:, None] * rows
        out[:, rec] = x
    z = out @ eig.v                                                   # eigenbasis, (B, T, d)
    loss, pop = eig.loss(z), (eig.pop(z) if population else np.full(z.shape[:-1], np.nan))
    shape = (lrs.size, reps, t.size)
    return Risk(t, loss.reshape(shape), pop.reshape(shape))


def gd_risk(problem: Problem, lr, epochs, x0=None) -> Risk:
    """Full-batch gradient descent x <- x - lr * grad f, one step per epoch; exact, in the eigenbasis.
    ``epochs``: integer step counts. Returns ``Risk`` with arrays (n_lr, 1, T)."""
    lrs = _lrs(lr)
    k = np.asarray(epochs)
    if k.ndim != 1 or np.any(k < 0) or not np.all(k == np.rint(k)):
        raise ValueError("epochs must be a 1-d array of integers >= 0")
    eig = _Eigen(problem, 0.0, x0)
    loss, pop = np.empty((lrs.size, k.size)), np.empty((lrs.size, k.size))
    for g, eta in enumerate(lrs):
        z = eig.target + (eig.z0 - eig.target) * (1 - eta * eig.lam) ** k[:, None]
        loss[g], pop[g] = eig.loss(z), eig.pop(z)
    return Risk(k.astype(float), loss[:, None], pop[:, None])


def isotropic_loss(n: int, d: int, lr: float, times, f_min: float, excess0: float) -> np.ndarray:
    r"""Closed-form solution of the Volterra equation when :math:`H = \lambda I_d` with :math:`\lambda = n/d`
    (so tr H = n), started from :math:`\psi(0) = f_{\min} + E_0`.

    The kernel is one exponential, :math:`c\,e^{-au}` with :math:`a = 2\gamma\lambda`,
    :math:`c = \gamma^2 d\lambda^2/n`, and with :math:`\beta = a - c`,

    .. math::  \psi(t) = f_{\min} + E_0e^{-at} + c\Big[f_{\min}\frac{1-e^{-\beta t}}{\beta}
               + E_0\frac{e^{-at}-e^{-\beta t}}{\beta-a}\Big].
    """
    t = np.asarray(times, dtype=np.float64)
    lam = n / d
    a, c = 2 * lr * lam, lr**2 * d * lam**2 / n
    beta = a - c
    return f_min + excess0 * np.exp(-a * t) + c * (f_min * -np.expm1(-beta * t) / beta
                                                  + excess0 * (np.exp(-a * t) - np.exp(-beta * t)) / (beta - a))
