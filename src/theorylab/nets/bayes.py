"""Random-network priors over Boolean functions and the Bayes mixture learner under log-loss.

A random two-layer tanh network on the Boolean cube {-1, 1}^k induces a prior w over the
2^(2^k) Boolean functions (truth tables). The mixture learner Q = sum_f w(f) P_f with the noisy
label model P_f(y | x) = 1 - eps if y = f(x), else eps, has cumulative log-loss regret against
any f0 in the class

    R_n = log P_f0(y^n | x^n) - log Q(y^n | x^n) <= log 1 / w(f0)          (pathwise),

and in expectation R_n <= n * delta + log 1 / w(B_delta(f0)) for every KL ball B_delta (Barron's
index of resolvability), which is the bound of Feder, Urbanke and Fogel, *The Universality Lens*
(arXiv 2506.07661). Truth tables are stored as integer codes: bit i of the code is f(x_i), with
x_i the i-th row of :func:`cube`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def cube(k: int) -> np.ndarray:
    """The 2^k points of {-1, 1}^k, row i has coordinate j equal to +1 iff bit j of i is set."""
    i = np.arange(2**k)[:, None]
    return np.where((i >> np.arange(k)) & 1, 1.0, -1.0)


def tables(codes: np.ndarray, k: int) -> np.ndarray:
    """Truth tables (len(codes), 2^k) in {0, 1} from integer codes."""
    return ((np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(2**k)) & 1).astype(np.uint8)


def encode(table: np.ndarray) -> np.ndarray:
    """Integer codes from truth tables (..., 2^k) in {0, 1} (inverse of :func:`tables`)."""
    t = np.asarray(table, dtype=np.int64)
    return (t << np.arange(t.shape[-1])).sum(-1)


def sample_net_codes(k: int, n_nets: int, width: int, gen: np.random.Generator, *,
                     sigma_w: float = 1.0, sigma_b: float = 1.0, chunk: int = 10000) -> np.ndarray:
    """Codes of the functions x -> [v . tanh(W x / sqrt(k) + b) + c > 0] of ``n_nets`` random nets.

    W ~ N(0, sigma_w^2), b ~ N(0, sigma_b^2), v ~ N(0, 1/width), c ~ N(0, sigma_b^2 / width);
    all nets of a chunk are evaluated with one matrix product over the whole cube.
    """
    x = cube(k).astype(np.float32)
    out = []
    for start in range(0, n_nets, chunk):
        m = min(chunk, n_nets - start)
        w1 = gen.standard_normal((k, m * width), dtype=np.float32) * np.float32(sigma_w / np.sqrt(k))
        b1 = gen.standard_normal(m * width, dtype=np.float32) * np.float32(sigma_b)
        v = gen.standard_normal((m, width), dtype=np.float32) / np.float32(np.sqrt(width))
        c = gen.standard_normal(m, dtype=np.float32) * np.float32(sigma_b / np.sqrt(width))
        h = np.tanh(x @ w1 + b1).reshape(len(x), m, width)
        z = np.einsum("imh,mh->mi", h, v) + c[:, None]
        out.append(encode(z > 0))
    return np.concatenate(out)


def empirical_prior(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes, sorted by decreasing Monte-Carlo weight, and their weights (sum to one)."""
    u, counts = np.unique(codes, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return u[order], counts[order] / counts.sum()


def sensitivity(table: np.ndarray, k: int) -> np.ndarray:
    """Total sensitivity: number of cube edges (pairs at Hamming distance 1) whose labels differ."""
    t = np.asarray(table)
    i = np.arange(2**k)
    return sum((t != t[..., i ^ (1 << j)]).sum(-1) for j in range(k)) // 2


def sample_labels(table0: np.ndarray, n: int, eps: float, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n i.i.d. examples: x uniform on the cube (as an index), y = f0(x) flipped with probability eps."""
    x = gen.integers(0, len(table0), n)
    y = table0[x] ^ (gen.random(n) < eps).astype(np.uint8)
    return x, y


def cumulative_loglik(tabs: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float,
                      at: np.ndarray | None = None) -> np.ndarray:
    """log P_f(y^t | x^t) for t in ``at`` (default 0..n) and every function: array (len(at), n_functions).

    Only the counts of (input, label) pairs among the first t examples matter, so the agreement counts
    of all functions at all times come from one matrix product with the truth tables.
    """
    n, n_inputs = len(x), tabs.shape[1]
    at = np.arange(n + 1) if at is None else np.asarray(at)
    ones = np.zeros((n + 1, n_inputs)); zeros = np.zeros((n + 1, n_inputs))
    np.add.at(ones, (np.arange(1, n + 1), x), y == 1)
    np.add.at(zeros, (np.arange(1, n + 1), x), y == 0)
    ones, zeros = np.cumsum(ones, 0)[at], np.cumsum(zeros, 0)[at]
    t = tabs.T.astype(float)
    agree = ones @ t + zeros @ (1 - t)                                 # (len(at), K)
    return agree * np.log1p(-eps) + (at[:, None] - agree) * np.log(eps)


def mixture_logloss(log_w: np.ndarray, loglik: np.ndarray) -> np.ndarray:
    """Cumulative log-loss of the mixture, -log Q(y^t | x^t) = -log sum_f w_f P_f(y^t | x^t), t = 0..n."""
    return -logsumexp(log_w + loglik, axis=1)


def sequential_logloss(log_w: np.ndarray, loglik: np.ndarray) -> np.ndarray:
    """The same quantity by the online route: sum over t of -log of the posterior predictive of y_t.

    ``loglik`` must hold every time t = 0..n (the default of :func:`cumulative_loglik`).
    """
    post = log_w + loglik[:-1]                                      # unnormalised log posterior before step t
    post = post - logsumexp(post, axis=1, keepdims=True)
    step_logp = logsumexp(post + np.diff(loglik, axis=0), axis=1)   # log Q(y_t | x_t, past)
    return np.concatenate([[0.0], -np.cumsum(step_logp)])


def regret(log_w: np.ndarray, loglik: np.ndarray, target: int) -> np.ndarray:
    """Cumulative regret R_t = log P_f0(y^t|x^t) - log Q(y^t|x^t) against the function of index ``target``."""
    return loglik[:, target] + mixture_logloss(log_w, loglik)


def kl_rate(hamming: np.ndarray, n_inputs: int, eps: float) -> np.ndarray:
    """Per-example KL divergence D(P_f0 || P_f) for x uniform: (d / N) (1 - 2 eps) log((1 - eps) / eps)."""
    return np.asarray(hamming) / n_inputs * (1 - 2 * eps) * np.log((1 - eps) / eps)


def resolvability(weights: np.ndarray, tabs: np.ndarray, target: int, ns: np.ndarray, eps: float) -> np.ndarray:
    """Barron's bound on the expected regret: min over radii r of n * delta_r + log 1 / w(B_r(f0)).

    B_r is the Hamming ball of radius r around f0 (a KL ball of radius delta_r = kl_rate(r)); r = 0
    gives the pathwise bound log 1 / w(f0).
    """
    n_inputs = tabs.shape[1]
    ham = (tabs != tabs[target]).sum(1)
    radii = np.arange(n_inputs + 1)
    mass = np.array([weights[ham <= r].sum() for r in radii])
    terms = np.outer(np.asarray(ns, float), kl_rate(radii, n_inputs, eps)) - np.log(mass)[None, :]
    return terms.min(1)


def approach_gap(weights: np.ndarray, tabs: np.ndarray, target: int, ns: np.ndarray, eps: float) -> np.ndarray:
    """Upper bound on E[log 1/w(f0) - R_n], how far the expected regret can still lie below the weight bound.

    The gap is log(1 + Z) with Z = sum_{f != f0} (w_f / w_f0) P_f(y^n|x^n) / P_f0(y^n|x^n). Since
    log(1 + z) <= sqrt(z) and sqrt is subadditive, E gap <= sum_f sqrt(w_f / w_f0) * rho_f^n, where
    rho_f = 1 - (d_f / N)(1 - 2 sqrt(eps (1 - eps))) is the per-example Bhattacharyya coefficient of
    P_f0 and P_f (d_f the Hamming distance). Functions equal to f0 are excluded.
    """
    n_inputs = tabs.shape[1]
    ham = (tabs != tabs[target]).sum(1)
    other = ham > 0
    rho = 1 - ham[other] / n_inputs * (1 - 2 * np.sqrt(eps * (1 - eps)))
    coef = np.sqrt(weights[other] / weights[target])
    return np.array([np.sum(coef * rho ** float(n)) for n in np.asarray(ns)])


def predictive_accuracy(log_w: np.ndarray, loglik: np.ndarray, tabs: np.ndarray, target: int) -> np.ndarray:
    """Fraction of the cube where the posterior-predictive majority vote equals f0, at each row of ``loglik``."""
    post = log_w + loglik
    post = np.exp(post - logsumexp(post, axis=1, keepdims=True))
    p_one = post @ tabs.astype(float)                                # (len(at), N)
    return ((p_one > 0.5) == tabs[target].astype(bool)).mean(1)
