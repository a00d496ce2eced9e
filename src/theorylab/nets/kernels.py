"""Neural kernels of deep ReLU networks: arc-cosine recursions, wide-network estimates, sphere spectra.

The network (NTK parametrization, ``depth`` hidden layers of width ``width``, input dimension d):

.. math::  h^1 = \\sigma_w W^1 x/\\sqrt d + \\sigma_b b^1,\\quad
           h^{l+1} = \\sigma_w W^{l+1}\\,\\mathrm{relu}(h^l)/\\sqrt{\\mathrm{width}} + \\sigma_b b^{l+1},
           \\quad f(x) = h^{\\mathrm{depth}+1}(x),

all weights and biases i.i.d. N(0, 1). As the width grows, f is a Gaussian process with covariance
the NNGP kernel and gradient descent on it is kernel regression with the NTK (Lee et al. 2018;
Jacot et al. 2018); for ReLU the Gaussian expectations are the arc-cosine kernels (Cho & Saul 2009).
Kernel regression with these kernels at scale is the subject of Adlam et al. (2023), arXiv:2303.05420.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy import special

from ..runtime import require_float, require_int

__all__ = ["KernelPair", "relu_moments", "relu_kernels", "relu_kernels_of_cosine", "empirical_kernels", "autograd_ntk", "relu_gram",
           "relative_error", "sphere_points", "multiplicity", "gegenbauer", "sphere_spectrum",
           "zonal_target", "effective_ridge", "eigen_learning_curve", "singular_decay", "krr_test_error"]


@dataclass(frozen=True)
class KernelPair:
    """The NNGP kernel (covariance of f at initialization) and the NTK, arrays of the same shape."""

    nngp: np.ndarray
    ntk: np.ndarray


def relu_moments(k12: np.ndarray, k11: np.ndarray, k22: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Gaussian moments of the ReLU and of its derivative (the arc-cosine kernels of degree 1 and 0).

    For :math:`(u, v)` centred Gaussian with variances :math:`k_{11}, k_{22}`, covariance :math:`k_{12}`
    and :math:`\cos\theta = k_{12}/\sqrt{k_{11}k_{22}}`:

    .. math::  \E\,\mathrm{relu}(u)\mathrm{relu}(v) = \frac{\sqrt{k_{11}k_{22}}}{2\pi}
               \big(\sin\theta + (\pi-\theta)\cos\theta\big),\qquad
               \E\,\mathbf 1[u>0]\mathbf 1[v>0] = \frac{\pi-\theta}{2\pi}.

    Reference: Cho & Saul (2009), arc-cosine kernels of degree 1 and 0.
    Args: k12: covariances, any shape; k11, k22: variances broadcasting against it (> 0).
    Returns: (E relu relu, E step step), each of k12's broadcast shape.
    """
    norm = np.sqrt(k11 * k22)
    cos = np.clip(k12 / norm, -1.0, 1.0)
    theta = np.arccos(cos)
    relu = norm / (2 * np.pi) * (np.sqrt(1.0 - cos**2) + (np.pi - theta) * cos)
    step = (np.pi - theta) / (2 * np.pi)
    return relu, step


def _recursion(k12: np.ndarray, k11: np.ndarray, k22: np.ndarray, depth: int, sigma_w2: float,
               sigma_b2: float) -> KernelPair:
    """Run the NNGP/NTK recursion from the first layer's covariances (k12, k11, k22)."""
    nngp, ntk = k12, k12
    for _ in range(depth):
        relu, step = relu_moments(nngp, k11, k22)
        d11, _ = relu_moments(k11, k11, k11)                             # diagonal: theta = 0
        d22, _ = relu_moments(k22, k22, k22)
        nngp = sigma_w2 * relu + sigma_b2
        ntk = nngp + ntk * sigma_w2 * step                               # Theta^{l+1} = Sigma^{l+1} + Theta^l dSigma^{l+1}
        k11, k22 = sigma_w2 * d11 + sigma_b2, sigma_w2 * d22 + sigma_b2
    return KernelPair(nngp=nngp, ntk=ntk)


def relu_kernels(x1: np.ndarray, x2: np.ndarray, depth: int, sigma_w2: float = 2.0,
                 sigma_b2: float = 0.0) -> KernelPair:
    r"""NNGP and NTK of a depth-``depth`` ReLU network between the rows of x1 and x2.

    .. math::  \Sigma^1 = \sigma_w^2\,x^\top x'/d + \sigma_b^2,\quad \Theta^1 = \Sigma^1,\quad
               \Sigma^{l+1} = \sigma_w^2\,\E\,\mathrm{relu}\,\mathrm{relu} + \sigma_b^2,\quad
               \dot\Sigma^{l+1} = \sigma_w^2\,\E\,\mathbf 1\mathbf 1,\quad
               \Theta^{l+1} = \Sigma^{l+1} + \Theta^l\,\dot\Sigma^{l+1},

    the expectations over :math:`(h^l(x), h^l(x'))\sim\mathcal N(0, \Sigma^l)` (:func:`relu_moments`);
    NNGP :math:`=\Sigma^{L+1}`, NTK :math:`=\Theta^{L+1}`. Reference: Jacot et al. (2018), Thm 1;
    Lee et al. (2018), Eq. (4); Adlam et al. (2023), Sec. 2.
    Args: x1: (n1, d); x2: (n2, d); depth: number of hidden layers L >= 1.
    Returns: KernelPair of (n1, n2) arrays (float64).
    """
    depth = require_int("depth", depth, minimum=1)
    x1, x2 = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    d = x1.shape[1]
    if x2.shape[1] != d:
        raise ValueError(f"x1 and x2 must have the same number of columns; got {d} and {x2.shape[1]}")
    k12 = sigma_w2 * x1 @ x2.T / d + sigma_b2
    k11 = (sigma_w2 * np.sum(x1**2, 1) / d + sigma_b2)[:, None]
    k22 = (sigma_w2 * np.sum(x2**2, 1) / d + sigma_b2)[None, :]
    return _recursion(k12, k11, k22, depth, sigma_w2, sigma_b2)


def relu_kernels_of_cosine(t: np.ndarray, depth: int, sigma_w2: float = 2.0,
                           sigma_b2: float = 0.0) -> KernelPair:
    r"""The same kernels for inputs with :math:`\|x\|^2 = d`, as functions of :math:`t = x^\top x'/d`."""
    t = np.asarray(t, dtype=np.float64)
    k = np.float64(sigma_w2 + sigma_b2)                    # the constant diagonal, kept a scalar (no (n, n) copies)
    return _recursion(sigma_w2 * t + sigma_b2, k, k, require_int("depth", depth, minimum=1), sigma_w2, sigma_b2)


def empirical_kernels(x: np.ndarray, width: int, depth: int, gen: torch.Generator, sigma_w2: float = 2.0,
                      sigma_b2: float = 0.0) -> KernelPair:
    r"""NNGP and NTK of one randomly initialised network of finite width, on the rows of x.

    NNGP estimate: the last layer's feature inner products, :math:`\sigma_w^2 a^L a^{L\top}/\mathrm{width}
    + \sigma_b^2` with :math:`a^L = \mathrm{relu}(h^L)`. NTK: :math:`J J^\top` with J the Jacobian of f
    in all parameters, summed layer by layer from backpropagated vectors
    :math:`\delta^l = \partial f/\partial h^l`:

    .. math::  \hat\Theta = \sum_{l=1}^{L+1}\Big(\frac{\sigma_w^2}{n_{l-1}}(\delta^l\delta^{l\top})
               \odot(a^{l-1}a^{l-1\top}) + \sigma_b^2\,\delta^l\delta^{l\top}\Big),\quad a^0 = x,\ n_0 = d.

    Both converge to :func:`relu_kernels` as width -> infinity, with fluctuations O(width^-1/2).
    Args: x: (n, d); width, depth: the network; gen: torch generator for the weights.
    Returns: KernelPair of (n, n) float64 arrays.
    """
    width, depth = require_int("width", width, minimum=1), require_int("depth", depth, minimum=1)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    n, d = xt.shape
    sw, sb = float(np.sqrt(sigma_w2)), float(np.sqrt(sigma_b2))
    acts, masks, weights, fan_in = [xt], [], [], [d]
    for layer in range(depth):                                            # forward pass
        w = torch.randn(width, fan_in[-1], generator=gen, dtype=torch.float64)
        b = torch.randn(width, generator=gen, dtype=torch.float64)
        h = sw * acts[-1] @ w.T / fan_in[-1] ** 0.5 + sb * b
        weights.append(w)
        masks.append((h > 0).to(torch.float64))
        acts.append(torch.relu(h))
        fan_in.append(width)
    w_out = torch.randn(width, generator=gen, dtype=torch.float64)
    nngp = sigma_w2 * acts[-1] @ acts[-1].T / width + sigma_b2
    ntk = nngp.clone()                                                    # the output layer's term
    back = (sw * w_out / width**0.5).expand(n, width)                     # df/da^L, (n, width)
    for layer in range(depth, 0, -1):                                     # backward pass, layers L..1
        delta = back * masks[layer - 1]                                   # df/dh^l, (n, width)
        dd = delta @ delta.T
        ntk += sigma_w2 / fan_in[layer - 1] * dd * (acts[layer - 1] @ acts[layer - 1].T) + sigma_b2 * dd
        back = sw * delta @ weights[layer - 1] / fan_in[layer - 1] ** 0.5  # df/da^{l-1}
    return KernelPair(nngp=nngp.numpy(), ntk=ntk.numpy())


def autograd_ntk(x: np.ndarray, width: int, depth: int, gen: torch.Generator, sigma_w2: float = 2.0,
                 sigma_b2: float = 0.0) -> KernelPair:
    r"""Twin of :func:`empirical_kernels` by a second route: the NTK as :math:`JJ^\top` with the full
    parameter Jacobian from ``torch.func.jacrev`` (same generator, same draws). Small widths only."""
    from torch.func import jacrev

    width, depth = require_int("width", width, minimum=1), require_int("depth", depth, minimum=1)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    n, d = xt.shape
    params, fans = [], [d] + [width] * depth
    for layer in range(depth):
        params += [torch.randn(width, fans[layer], generator=gen, dtype=torch.float64),
                   torch.randn(width, generator=gen, dtype=torch.float64)]
    params += [torch.randn(width, generator=gen, dtype=torch.float64), torch.zeros((), dtype=torch.float64)]
    sw, sb = sigma_w2**0.5, sigma_b2**0.5

    def features(ps, inputs):
        a = inputs
        for layer in range(depth):
            a = torch.relu(sw * a @ ps[2 * layer].T / fans[layer] ** 0.5 + sb * ps[2 * layer + 1])
        return a

    def net(ps, inputs):
        return sw * features(ps, inputs) @ ps[-2] / width**0.5 + sb * ps[-1]
    jac = torch.cat([j.reshape(n, -1) for j in jacrev(net)(params, xt)], 1)     # (n, number of parameters)
    phi = features(params, xt)
    return KernelPair(nngp=(sigma_w2 * phi @ phi.T / width + sigma_b2).numpy(), ntk=(jac @ jac.T).numpy())


def relu_gram(x: np.ndarray, depth: int, kind: str = "nngp", block: int = 2048) -> np.ndarray:
    """The (n, n) NNGP or NTK Gram matrix of unit vectors x (rows), built in row blocks to bound memory."""
    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk'; got {kind!r}")
    n = x.shape[0]
    out = np.empty((n, n))
    for i in range(0, n, block):
        out[i:i + block] = getattr(relu_kernels_of_cosine(np.clip(x[i:i + block] @ x.T, -1.0, 1.0), depth), kind)
    return out


def relative_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    """Relative Frobenius error ||estimate - exact||_F / ||exact||_F."""
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


# ----------------------------------------------------------------------------- the sphere
def sphere_points(n: int, d: int, gen: np.random.Generator) -> np.ndarray:
    """n points uniform on the unit sphere S^{d-1}, shape (n, d)."""
    z = gen.standard_normal((require_int("n", n, minimum=1), require_int("d", d, minimum=2)))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def multiplicity(k: np.ndarray, d: int) -> np.ndarray:
    r"""Dimension of the degree-k spherical harmonics on :math:`S^{d-1}`:
    :math:`N(d,k) = \frac{2k+d-2}{k}\binom{k+d-3}{k-1}`, N(d, 0) = 1."""
    k = np.asarray(k)
    out = (2 * k + d - 2) / np.maximum(k, 1) * special.comb(k + d - 3, k - 1)
    return np.where(k == 0, 1.0, out)


def gegenbauer(k: int, d: int, t: np.ndarray) -> np.ndarray:
    r"""Gegenbauer polynomial of degree k for :math:`S^{d-1}`, normalised to :math:`P_k(1) = 1`."""
    alpha = (d - 2) / 2
    return special.eval_gegenbauer(k, alpha, t) / special.eval_gegenbauer(k, alpha, 1.0)


def sphere_spectrum(kernel: Callable[[np.ndarray], np.ndarray], d: int, max_degree: int,
                    nodes: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    r"""Mercer eigenvalues of a dot-product kernel :math:`k(x^\top x')` on the uniform sphere :math:`S^{d-1}`.

    Funk-Hecke: every degree-k spherical harmonic is an eigenfunction with eigenvalue

    .. math::  \lambda_k = \E_t\big[k(t)\,P_k(t)\big],\qquad t = x^\top x' \sim
               c_d\,(1-t^2)^{(d-3)/2}\,dt,

    of multiplicity N(d, k), so that :math:`\sum_k N(d,k)\lambda_k = k(1)` (the trace).
    Gauss-Jacobi quadrature with ``nodes`` nodes. Reference: e.g. Bietti & Mairal (2019), Sec. 3.
    Returns: (lam, mult), each of shape (max_degree + 1,).
    """
    d = require_int("d", d, minimum=3)
    t, w = special.roots_jacobi(require_int("nodes", nodes, minimum=10), (d - 3) / 2, (d - 3) / 2)
    w = w / w.sum()
    kt = kernel(t)
    degrees = np.arange(require_int("max_degree", max_degree, minimum=0) + 1)
    lam = np.array([np.sum(w * kt * gegenbauer(int(k), d, t)) for k in degrees])
    return lam, multiplicity(degrees, d)


def zonal_target(x: np.ndarray, directions: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    r"""A target with energy :math:`a_k^2` in degree k: :math:`f_\star(x) = \sum_k a_k\sqrt{N(d,k)}\,P_k(z_k^\top x)`.

    Since :math:`\E_x P_k(z^\top x)^2 = 1/N(d,k)` and different degrees are orthogonal,
    :math:`\E f_\star^2 = \sum_k a_k^2`. Args: x: (n, d) unit vectors; directions: (K+1, d) unit
    vectors :math:`z_k`; amplitudes: (K+1,) :math:`a_k`. Returns: (n,).
    """
    d = x.shape[1]
    out = np.zeros(x.shape[0])
    for k, (z, a) in enumerate(zip(directions, amplitudes)):
        if a != 0:
            out += a * np.sqrt(multiplicity(k, d)) * gegenbauer(k, d, x @ z)
    return out


def effective_ridge(lam: np.ndarray, mult: np.ndarray, n, ridge: float, tail_trace: float = 0.0,
                    iters: int = 200) -> np.ndarray:
    r"""Effective ridge :math:`\kappa` of the eigenframework, for eigenvalues with multiplicities.

    Solves :math:`\sum_k N_k\frac{\lambda_k}{\lambda_k+\kappa} + \frac{\mathrm{tail}}{\kappa}
    + \frac{\delta}{\kappa} = n` by bisection in :math:`\log\kappa` (the left side decreases in kappa).
    This is the fixed point of :func:`theorylab.linear.highdim.solve_kappa` (there written
    :math:`\kappa = \lambda + \kappa\,\mathrm{df}_1(\kappa)/n` with its ridge :math:`\lambda = \delta/n`), which we cannot call here: it takes
    a flat list of eigenvalues, and on :math:`S^7` the multiplicity of degree 100 alone is
    :math:`N(8, 100)\approx 3\times10^9`, so expanding the multiplicities is out of the question;
    ``tail_trace`` is the limit of infinitely many eigenvalues far below kappa (trace / kappa).
    tests/test_kernels.py checks that both solvers agree when the multiplicities are small.
    Args: lam, mult: (K,); n: sample sizes, any shape; ridge: delta >= 0. Returns: kappa, n's shape.
    """
    lam, mult = np.asarray(lam, dtype=np.float64), np.asarray(mult, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    ridge = require_float("ridge", ridge, low=0.0)
    lo = np.full(n.shape, np.log(1e-30))
    hi = np.log((np.sum(mult * lam) + tail_trace + ridge) / n) + 1.0       # df(kappa) <= (trace + ridge) / kappa
    for _ in range(iters):
        kappa = np.exp(0.5 * (lo + hi))
        df = np.sum(mult * lam / (lam + kappa[..., None]), -1) + (tail_trace + ridge) / kappa
        hi, lo = np.where(df < n, np.log(kappa), hi), np.where(df < n, lo, np.log(kappa))
    return np.exp(0.5 * (lo + hi))


def eigen_learning_curve(lam: np.ndarray, mult: np.ndarray, energy: np.ndarray, n, ridge: float,
                         tail_trace: float = 0.0, iters: int = 200) -> np.ndarray:
    r"""Test error of kernel ridge regression predicted by the eigenframework (omniscient risk estimate).

    With eigenvalues :math:`\lambda_k` of multiplicity :math:`N_k` and target energy :math:`e_k` per
    eigenspace, the effective ridge :math:`\kappa` solves
    :math:`\sum_k N_k\frac{\lambda_k}{\lambda_k+\kappa} + \frac{\mathrm{tail}}{\kappa} + \frac{\delta}{\kappa} = n`
    (:func:`effective_ridge`), and, with :math:`\mathcal E_0 = n/(n - \sum_k N_k\lambda_k^2/(\lambda_k+\kappa)^2)`,

    .. math::  \E\,\|\hat f - f_\star\|^2 \approx \mathcal E_0\sum_k e_k\Big(\frac{\kappa}{\lambda_k+\kappa}\Big)^2 .

    ``tail_trace`` is the trace of the eigenvalues beyond the truncation (all << kappa).
    Reference: Bordelon, Canatar & Pehlevan (2020); Simon et al. (2021), Eqs. (5)-(8).
    Args: lam, mult, energy: (K,); n: sample sizes, any shape; ridge: delta of (K + delta I).
    Returns: predicted test error (mean squared error against the target), n's shape.
    """
    lam, mult, energy = (np.asarray(a, dtype=np.float64) for a in (lam, mult, energy))
    n = np.asarray(n, dtype=np.float64)
    kappa = effective_ridge(lam, mult, n, ridge, tail_trace, iters)[..., None]
    e0 = n / (n - np.sum(mult * (lam / (lam + kappa)) ** 2, -1))
    return e0 * np.sum(energy * (kappa / (lam + kappa)) ** 2, -1)


def singular_decay(k: np.ndarray, d: int, nu: float) -> np.ndarray:
    r"""Sphere eigenvalues of :math:`(1-t)^\nu` (up to a constant), the law behind the decay of ReLU kernels.

    On :math:`S^{d-1}` the Funk-Hecke coefficients of :math:`(1-t)^\nu` (non-integer :math:`\nu`) are
    proportional to :math:`\Gamma(k-\nu)/\Gamma(k+d-1+\nu)\sim k^{-(d-1+2\nu)}`, with local log-log slope
    :math:`-(d-1+2\nu)\,(1-\frac{d-2}{2k}) + O(k^{-2})`. A ReLU NTK is smooth except for a
    :math:`(1-t)^{1/2}` term at :math:`t = 1` (from the step moment, :math:`\theta\approx\sqrt{2(1-t)}`),
    the NNGP for a :math:`(1-t)^{3/2}` term (:math:`\sin\theta-\theta\cos\theta\approx\theta^3/3`), whence the
    rates :math:`k^{-d}` and :math:`k^{-d-2}` at any depth (Bietti & Bach 2021) and their pre-asymptotic
    slopes. Args: k: degrees (> nu); d: ambient dimension; nu: the exponent. Returns: k's shape.
    """
    k = np.asarray(k, dtype=np.float64)
    return np.exp(special.gammaln(k - nu) - special.gammaln(k + d - 1 + nu))


def krr_test_error(gram: np.ndarray, cross: np.ndarray, y: np.ndarray, f_test: np.ndarray, ridge: float) -> float:
    r"""Simulated twin of :func:`eigen_learning_curve`: the test MSE of kernel ridge regression,
    :math:`\hat f(x) = k(x, X)(K + \delta I)^{-1}y`, against the target on test points.

    Args: gram: (n, n) K; cross: (m, n) k(x_test, X); y: (n,) labels; f_test: (m,) target values.
    """
    from scipy import linalg

    coef = linalg.cho_solve(linalg.cho_factor(gram + ridge * np.eye(gram.shape[0])), y)
    return float(np.mean((cross @ coef - f_test) ** 2))
