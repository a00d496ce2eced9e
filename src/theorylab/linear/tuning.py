r"""Tuning one hyperparameter across tasks: exact dual utilities of random-feature ridge, and ERM over them.

A *task* :math:`x` is a training set, a validation set and a random first layer. The model is a
random-feature network whose activation interpolates two activations,

.. math::  \sigma_\alpha(z) = \alpha\,\mathrm{relu}(z) + (1-\alpha)\tanh z,\qquad \alpha\in[0, 1],

and "optimal training" is exact: only the last layer is trained, by ridge, in closed form. The
*dual utility* of a task is its validation loss as a function of the hyperparameter,
:math:`u_x(\alpha) = \frac1{n_v}\sum_i (\hat f_\alpha(x^v_i) - y^v_i)^2`. Because
:math:`\Phi(\alpha) = T + \alpha D` is affine in :math:`\alpha`, the kernel
:math:`K(\alpha) = \Phi\Phi^\top = K_0 + \alpha K_1 + \alpha^2 K_2` is quadratic, and :math:`u_x` is
a rational function of :math:`\alpha` whose numerator and denominator have degree at most
:math:`4\min(n, m)`: :func:`oscillation_bound`. A function that crosses every level at most
:math:`B` times makes a class of pseudo-dimension at most :func:`pdim_from_oscillations` (B), and the
uniform deviation of empirical utilities is bounded by :func:`uniform_deviation_bound`.

Reference: Balcan, Nguyen & Sharma, *Sample complexity of data-driven tuning of model
hyperparameters in neural networks with structured parameter-dependent dual function*, NeurIPS 2025
(arXiv:2501.13734): the data-driven setting, dual utility functions, bounded oscillations implying
bounded pseudo-dimension, and the activation-interpolation application. The algebraic degree bound
for ridge and the explicit constants here are ours (derived in the chapter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import require_float, require_int

__all__ = ["Tasks", "activation", "draw_tasks", "feature_parts", "ridge_readout", "dual_utility",
           "count_extrema", "count_crossings", "oscillation_bound", "extrema_bound", "pdim_from_oscillations",
           "uniform_deviation_bound", "erm_gaps", "asymptotic_gap", "gap_curve", "sup_deviation"]


def activation(z: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    r"""The interpolated activation :math:`\sigma_\alpha(z) = \alpha\,\mathrm{relu}(z) + (1-\alpha)\tanh z`."""
    return alpha * np.maximum(z, 0.0) + (1.0 - alpha) * np.tanh(z)


@dataclass(frozen=True)
class Tasks:
    """A batch of tasks. Shapes: x (T, n, d), y (T, n), x_val (T, n_val, d), y_val (T, n_val),
    w (T, d, m) and b (T, m) the student's random first layer, beta (T,) the teacher's own mix."""
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    w: np.ndarray
    b: np.ndarray
    beta: np.ndarray


def draw_tasks(n_tasks: int, d: int, n: int, n_val: int, m: int, gen: np.random.Generator, *,
               teacher_width: int = 3, noise: float = 0.3, beta_range: tuple[float, float] = (0.0, 1.0)) -> Tasks:
    r"""Random teacher tasks: :math:`y = f^*(x) + \varepsilon`, :math:`f^*(x) = \sum_k a_k\sigma_\beta(u_k^\top x)`.

    Each task draws its teacher (``teacher_width`` neurons, :math:`u_k\sim\mathcal N(0, 4I_d/d)`,
    :math:`a_k\sim\mathcal N(0, 1/k)`, its own mix :math:`\beta\sim U(\text{beta\_range})`), inputs
    :math:`x\sim\mathcal N(0, I_d)`, noise :math:`\varepsilon\sim\mathcal N(0,\text{noise}^2)`, and the
    student's first layer :math:`w_j\sim\mathcal N(0, 4I_d/d)`, :math:`b_j\sim\mathcal N(0, 1)`. The teacher's
    output is rescaled to unit variance over the task's inputs, so losses are in units of the signal.
    """
    for name, v in (("n_tasks", n_tasks), ("d", d), ("n", n), ("n_val", n_val), ("m", m),
                    ("teacher_width", teacher_width)):
        require_int(name, v, minimum=1)
    noise = require_float("noise", noise, low=0.0)
    t, k = n_tasks, teacher_width
    xa = gen.standard_normal((t, n + n_val, d))
    u = gen.standard_normal((t, d, k)) * 2.0 / np.sqrt(d)
    a = gen.standard_normal((t, k)) / np.sqrt(k)
    beta = gen.uniform(*beta_range, size=t)
    f = (activation(xa @ u, beta[:, None, None]) * a[:, None, :]).sum(-1)           # (T, n + n_val)
    f = (f - f.mean(1, keepdims=True)) / f.std(1, keepdims=True)
    y = f + noise * gen.standard_normal(f.shape)
    w = gen.standard_normal((t, d, m)) * 2.0 / np.sqrt(d)
    b = gen.standard_normal((t, m))
    return Tasks(xa[:, :n], y[:, :n], xa[:, n:], y[:, n:], w, b, beta)


def feature_parts(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The two parts of :math:`\Phi(\alpha) = T + \alpha D`: :math:`T = \tanh(xw+b)/\sqrt m`,
    :math:`D = (\mathrm{relu}-\tanh)(xw+b)/\sqrt m`. Shapes (..., n, m)."""
    z = x @ w + b[..., None, :]
    th = np.tanh(z)
    scale = 1.0 / np.sqrt(w.shape[-1])
    return th * scale, (np.maximum(z, 0.0) - th) * scale


def ridge_readout(phi: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    r"""Ridge last layer in primal form: :math:`\hat v = \arg\min_v \frac1n\|\Phi v - y\|^2 + \lambda\|v\|^2
    = (\Phi^\top\Phi + n\lambda I)^{-1}\Phi^\top y`. Shapes: phi (..., n, m), y (..., n) -> (..., m)."""
    n, m = phi.shape[-2:]
    a = np.swapaxes(phi, -1, -2) @ phi + n * ridge * np.eye(m)
    return np.linalg.solve(a, (np.swapaxes(phi, -1, -2) @ y[..., None]))[..., 0]


def dual_utility(tasks: Tasks, alphas: np.ndarray, ridge: float, *, derivative: bool = False,
                 chunk: int = 512) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Exact dual utilities :math:`u_x(\alpha)` (validation MSE after ridge training) on a grid of α.

    Kernel form: :math:`c = (K(\alpha) + n\lambda I)^{-1}y`, predictions :math:`K_v(\alpha)c`, with
    :math:`K = \Phi\Phi^\top` and :math:`K_v = \Phi_v\Phi^\top` both quadratic in α, so every α costs one
    n x n solve per task, batched over tasks. With ``derivative``, also :math:`u_x'(\alpha)` in closed form:
    :math:`c' = -(K+n\lambda I)^{-1}K'c`, :math:`\hat f' = K_v'c + K_vc'`, :math:`u' = \frac2{n_v}(\hat f-y_v)^\top\hat f'`.
    Returns (T, G) utilities, and (T, G) derivatives when asked.
    """
    require_float("ridge", ridge, low=0.0, low_open=True)
    alphas = np.asarray(alphas, float)
    t, n = tasks.y.shape
    out = np.empty((t, alphas.size))
    der = np.empty((t, alphas.size)) if derivative else None
    for s in range(0, t, chunk):
        sl = slice(s, s + chunk)
        tr, dr = feature_parts(tasks.x[sl], tasks.w[sl], tasks.b[sl])
        tv, dv = feature_parts(tasks.x_val[sl], tasks.w[sl], tasks.b[sl])
        tt = lambda p, q: p @ np.swapaxes(q, -1, -2)                     # noqa: E731 - (.., n1, n2) Gram
        k0, k1, k2 = tt(tr, tr), tt(tr, dr) + tt(dr, tr), tt(dr, dr)
        v0, v1, v2 = tt(tv, tr), tt(tv, dr) + tt(dv, tr), tt(dv, dr)
        y, yv = tasks.y[sl][..., None], tasks.y_val[sl]
        eye = n * ridge * np.eye(n)
        for g, a in enumerate(alphas):
            kk = k0 + a * k1 + a * a * k2 + eye
            c = np.linalg.solve(kk, y)                                     # (t, n, 1)
            resid = (v0 @ c + a * (v1 @ c) + a * a * (v2 @ c))[..., 0] - yv
            out[sl, g] = (resid ** 2).mean(-1)
            if derivative:
                dc = -np.linalg.solve(kk, (k1 + 2 * a * k2) @ c)
                df = (v1 @ c + 2 * a * (v2 @ c) + v0 @ dc + a * (v1 @ dc) + a * a * (v2 @ dc))[..., 0]
                der[sl, g] = 2 * (resid * df).mean(-1)
    return (out, der) if derivative else out


def count_crossings(values: np.ndarray, level: float | np.ndarray) -> np.ndarray:
    """Number of sign changes of values - level along the last axis (zeros skipped). Shape (...)."""
    s = np.sign(np.asarray(values) - np.asarray(level)[..., None])
    out = np.zeros(s.shape[:-1], int)
    for idx in np.ndindex(s.shape[:-1]):
        row = s[idx][s[idx] != 0]
        out[idx] = int((row[1:] != row[:-1]).sum())
    return out


def count_extrema(values: np.ndarray, *, derivative: np.ndarray | None = None) -> np.ndarray:
    r"""Interior local extrema of each row on its grid: sign changes of :math:`u'` (exact, if given)
    or of the first differences. Shape (...)."""
    slope = np.diff(values, axis=-1) if derivative is None else derivative
    return count_crossings(slope, np.zeros(slope.shape[:-1]))


def oscillation_bound(n: int, m: int) -> int:
    r"""Most crossings of any level by :math:`u_x`: :math:`4\min(n, m)` (numerator degree of
    :math:`u_x - r = (P - rQ)/Q`, with :math:`\deg P, \deg Q \le 4\min(n, m)`)."""
    return 4 * min(require_int("n", n, minimum=1), require_int("m", m, minimum=1))


def extrema_bound(n: int, m: int) -> int:
    r"""Most interior extrema of :math:`u_x`: :math:`8\min(n,m)-2` (degree of :math:`P'Q - PQ'`)."""
    return 2 * oscillation_bound(n, m) - 2


def pdim_from_oscillations(b: int) -> int:
    r"""Largest N with :math:`2^N \le NB + 1`: a class whose functions of α cross every level at most
    B times cannot shatter more tasks (N tasks cut the α-line into at most NB + 1 intervals)."""
    b = require_int("b", b, minimum=0)
    n = 0
    while 2 ** (n + 1) <= (n + 1) * b + 1:
        n += 1
    return n


def uniform_deviation_bound(n_tasks, b: int, h: float) -> np.ndarray:
    r"""Bound on :math:`\mathbb E\sup_\alpha|\hat U_N(\alpha) - U(\alpha)|` for utilities in [0, H] that
    cross every level at most B times: :math:`2H\sqrt{2\ln(2(NB+1))/N}` (symmetrization, layer cake,
    Massart's lemma on at most NB + 1 patterns). The ERM gap is at most twice this."""
    n_tasks = np.asarray(n_tasks, float)
    return 2 * h * np.sqrt(2 * np.log(2 * (n_tasks * b + 1)) / n_tasks)


def erm_gaps(u_pool: np.ndarray, u_pop: np.ndarray, n_tasks: int, resamples: int,
             gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""ERM over the α grid from N tasks, repeated: the gap :math:`U(\hat\alpha_N) - \min_\alpha U` and
    the uniform deviation :math:`\sup_\alpha|\hat U_N - U|`.

    Each resample is a uniformly random N-subset of the pool (an iid sample of tasks, by exchangeability);
    U is ``u_pop.mean(0)``, from held-out tasks. Args: u_pool (P, G), u_pop (T, G). Returns two (resamples,) arrays.
    """
    require_int("n_tasks", n_tasks, minimum=1, maximum=u_pool.shape[0])
    pop = u_pop.mean(0)
    idx = np.argsort(gen.random((resamples, u_pool.shape[0])), axis=1)[:, :n_tasks]
    emp = u_pool[idx].mean(1)                                              # (R, G)
    gap = pop[emp.argmin(1)] - pop.min()
    return gap, np.abs(emp - pop).max(1)


def asymptotic_gap(u_pop: np.ndarray, du_star: np.ndarray, alphas: np.ndarray, window: float = 0.05) -> float:
    r"""Constant c of :math:`\mathbb E[\text{gap}] \approx c/N` for a smooth interior optimum:
    :math:`c = \mathrm{Var}_x\,u_x'(\alpha^*) / (2U''(\alpha^*))` (one Newton step of the empirical
    first-order condition). :math:`U''` by a quadratic fit of :math:`U` over the grid points within
    ``window`` of its minimum (at least 5). Args: u_pop (T, G) held-out utilities; du_star (T,) their
    derivatives at the grid minimum of U; alphas (G,) the grid."""
    pop = u_pop.mean(0)
    i = int(pop.argmin())
    near = np.flatnonzero(np.abs(alphas - alphas[i]) <= window + 1e-12)
    if i < 2 or i > pop.size - 3 or near.size < 5 or near[0] == 0 or near[-1] == pop.size - 1:
        raise ValueError("the minimum of U is at (or within window of) the edge of the grid: no interior optimum")
    curv = 2 * np.polyfit(alphas[near], pop[near], 2)[0]
    return float(np.var(du_star, ddof=1) / (2 * curv))


def gap_curve(c: float, n_tasks, n_heldout: int) -> np.ndarray:
    r"""Expected measured gap :math:`c\,(1/N + 1/n_{\rm ho})`: the ERM error from N tasks plus that of
    locating the optimum of the held-out estimate of U (independent, so the two add)."""
    return c * (1.0 / np.asarray(n_tasks, float) + 1.0 / n_heldout)


def sup_deviation(u_pop: np.ndarray, n_tasks, n_heldout: int, draws: int, gen: np.random.Generator) -> np.ndarray:
    r"""CLT prediction of :math:`\mathbb E\sup_\alpha|\hat U_N(\alpha) - \hat U_{\rm ho}(\alpha)|`: the
    empirical mean of N tasks minus that of ``n_heldout`` independent ones is, on the grid, a Gaussian
    vector with covariance :math:`\Sigma(1/N + 1/n_{\rm ho})`, :math:`\Sigma = \mathrm{Cov}_x(u_x(\alpha), u_x(\alpha'))`;
    :math:`\mathbb E\max|G|` by ``draws`` Gaussian draws. Args: u_pop (T, G). Returns shape of ``n_tasks``."""
    cov = np.cov(u_pop, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    e_sup = np.abs(gen.standard_normal((draws, vals.size)) @ root.T).max(1).mean()
    return e_sup * np.sqrt(1.0 / np.asarray(n_tasks, float) + 1.0 / n_heldout)
