r"""A synthetic language with a known entropy rate: a Zipfian first-order Markov chain over V tokens.

Each token :math:`i` has its own ranking :math:`\sigma_i` of the vocabulary (a random permutation)
and the next token follows a Zipf law over that ranking,

.. math::  P_{ij} = \frac{\sigma_i(j)^{-s}}{\sum_{r=1}^{V} r^{-s}},\qquad i, j \in \{0,\dots,V-1\},

so every transition has positive probability and the chain is ergodic (:func:`spectral_markov`
is a second family, a Zipf law times a context dependence with a power-law spectrum). With the stationary law
:math:`\pi = \pi P`, the **entropy rate** is exact,

.. math::  H = -\sum_i \pi_i \sum_j P_{ij}\log P_{ij},

and it is the floor of the per-token cross-entropy of any model of the chain. A model that predicts
:math:`q(\cdot\mid i)` from the previous token has the exact **population loss**

.. math::  L(q) = -\sum_i\pi_i\sum_j P_{ij}\log q_{ij} = H + \sum_i \pi_i\,\mathrm{KL}(P_{i\cdot}\,\|\,q_{i\cdot}),

so no test set is needed. For such a model a sample :math:`x_0,\dots,x_n` is summarised without loss
by its bigram **counts** :math:`C_{ij} = \#\{t: x_{t-1} = i, x_t = j\}`: the training cross-entropy is
:math:`-\frac1n\sum_{ij} C_{ij}\log q_{ij}`.

Reference: the toy language stands in for the web text of Kim, Kotha, Liang & Hashimoto (2025),
"Pre-training under infinite compute" (arXiv:2509.14786), whose irreducible loss is unknown; here it
is :math:`H`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theorylab.runtime import require_float, require_int

__all__ = ["MarkovLanguage", "zipf_markov", "spectral_markov", "stationary", "entropy_rate", "population_loss",
           "sample", "bigram_counts", "train_loss", "empirical_entropy_rate"]


@dataclass(frozen=True)
class MarkovLanguage:
    """Transition matrix ``P`` (V, V), rows summing to one, and its stationary law ``pi`` (V,)."""

    P: np.ndarray
    pi: np.ndarray

    @property
    def vocab(self) -> int:
        return self.P.shape[0]

    @property
    def entropy(self) -> float:
        """The entropy rate H in nats per token."""
        return entropy_rate(self.P, self.pi)


def stationary(P: np.ndarray) -> np.ndarray:
    r"""The stationary law :math:`\pi = \pi P`, :math:`\sum_i\pi_i = 1`, by one linear solve (float64)."""
    P = np.asarray(P, dtype=np.float64)
    v = P.shape[0]
    if P.shape != (v, v) or np.any(P < 0) or not np.allclose(P.sum(1), 1.0):
        raise ValueError(f"P must be a (V, V) stochastic matrix; got shape {P.shape}")
    A = np.vstack([(P - np.eye(v)).T, np.ones((1, v))])
    b = np.zeros(v + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def zipf_markov(vocab: int, exponent: float, gen: np.random.Generator) -> MarkovLanguage:
    r"""The chain :math:`P_{ij}\propto\sigma_i(j)^{-s}` with an independent random ranking per row.

    Args: vocab: V >= 2; exponent: Zipf exponent s >= 0 (s = 0 is uniform, H = log V);
    gen: draws the V rankings.
    """
    vocab = require_int("vocab", vocab, minimum=2)
    s = require_float("exponent", exponent, low=0.0)
    zipf = np.arange(1, vocab + 1, dtype=np.float64) ** (-s)
    zipf /= zipf.sum()
    P = np.empty((vocab, vocab))
    for i in range(vocab):
        P[i, gen.permutation(vocab)] = zipf                     # rank r of row i gets zipf[r]
    return MarkovLanguage(P=P, pi=stationary(P))


def spectral_markov(vocab: int, exponent: float, decay: float, strength: float,
                    gen: np.random.Generator) -> MarkovLanguage:
    r"""A Zipfian chain whose context dependence has a power-law spectrum.

    .. math::  P_{ij}\propto \rho_j^{-s}\exp\Big(\frac{g\sqrt V}{\|\sigma\|}\sum_{r=1}^{V}\sigma_r\,u_{ir}v_{jr}\Big),
               \qquad \sigma_r = r^{-a},

    with :math:`\rho_j` the rank of token j in a random order and :math:`u, v` random orthogonal
    matrices. The unigram part is Zipf with exponent s; the context-dependent part of the logits has
    singular values proportional to :math:`r^{-a}` (entries of size about g), so a model with a
    rank-R bottleneck misses a power-law tail of directions.

    Args: vocab: V >= 2; exponent: Zipf exponent s >= 0; decay: spectral exponent a > 0;
    strength: g >= 0, the size of the context dependence (g = 0 gives an i.i.d. Zipf sequence);
    gen: draws the ranking and U, V.
    """
    vocab = require_int("vocab", vocab, minimum=2)
    s = require_float("exponent", exponent, low=0.0)
    a = require_float("decay", decay, low=0.0, low_open=True)
    g = require_float("strength", strength, low=0.0)
    sigma = np.arange(1, vocab + 1, dtype=np.float64) ** (-a)
    u = np.linalg.qr(gen.standard_normal((vocab, vocab)))[0]
    w = np.linalg.qr(gen.standard_normal((vocab, vocab)))[0]
    logits = g * np.sqrt(vocab) * (u * sigma) @ w.T / np.sqrt((sigma**2).sum())
    logits += np.log(np.arange(1, vocab + 1, dtype=np.float64) ** (-s))[gen.permutation(vocab)]
    P = np.exp(logits - logits.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return MarkovLanguage(P=P, pi=stationary(P))


def entropy_rate(P: np.ndarray, pi: np.ndarray) -> float:
    r"""Exact entropy rate :math:`H = -\sum_i\pi_i\sum_jP_{ij}\log P_{ij}` (nats per token)."""
    P = np.asarray(P, dtype=np.float64)
    logs = np.log(np.where(P > 0, P, 1.0))
    return float(-(np.asarray(pi) @ (P * logs).sum(1)))


def population_loss(lang: MarkovLanguage, log_q: np.ndarray) -> np.ndarray:
    r"""Exact per-token cross-entropy :math:`-\sum_i\pi_i\sum_jP_{ij}\log q_{ij}` of models ``log_q``.

    Args: log_q: (..., V, V) log-probabilities of the next token (rows: previous token).
    Returns: (...,) losses in nats; each is at least ``lang.entropy``.
    """
    log_q = np.asarray(log_q, dtype=np.float64)
    return -np.einsum("i,ij,...ij->...", lang.pi, lang.P, log_q)


def sample(lang: MarkovLanguage, n_tokens: int, gen: np.random.Generator) -> np.ndarray:
    """A path x_0, ..., x_n of the chain started from the stationary law: int array (n_tokens + 1,)."""
    n_tokens = require_int("n_tokens", n_tokens, minimum=1)
    cum = np.cumsum(lang.P, axis=1)
    cum[:, -1] = 1.0
    u = gen.random(n_tokens + 1)
    x = np.empty(n_tokens + 1, dtype=np.int64)
    x[0] = min(int(np.searchsorted(np.cumsum(lang.pi), u[0], side="right")), lang.vocab - 1)
    for t in range(1, n_tokens + 1):
        x[t] = np.searchsorted(cum[x[t - 1]], u[t], side="right")
    return x


def bigram_counts(x: np.ndarray, vocab: int) -> np.ndarray:
    """Counts C[i, j] of the transitions i -> j in the path ``x``: (V, V) float64, summing to len(x) - 1."""
    x = np.asarray(x, dtype=np.int64)
    return np.bincount(x[:-1] * vocab + x[1:], minlength=vocab * vocab).reshape(vocab, vocab).astype(np.float64)


def train_loss(counts: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    r"""Training cross-entropy :math:`-\frac1n\sum_{ij}C_{ij}\log q_{ij}`: counts (..., V, V), log_q (..., V, V)."""
    counts = np.asarray(counts, dtype=np.float64)
    return -(counts * np.asarray(log_q, dtype=np.float64)).sum((-2, -1)) / counts.sum((-2, -1))


def empirical_entropy_rate(lang: MarkovLanguage, x: np.ndarray) -> tuple[float, float]:
    r"""Monte Carlo estimate :math:`-\frac1n\sum_t\log P_{x_{t-1}x_t}` of H and its standard error.

    The standard error uses batch means over 20 consecutive blocks (the terms are correlated along
    the path); the estimate converges to :func:`entropy_rate` by the ergodic theorem.
    """
    terms = -np.log(lang.P[x[:-1], x[1:]])
    blocks = np.array_split(terms, 20)
    means = np.array([b.mean() for b in blocks])
    return float(terms.mean()), float(means.std(ddof=1) / np.sqrt(len(blocks)))
