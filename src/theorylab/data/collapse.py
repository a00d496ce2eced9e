r"""Model collapse in a heavy-tailed memorizer: tails cut, narrowed and lost over generations.

Items follow a Zipf law :math:`p_i \propto i^{-\beta}` with a fixed label each. A memorizer
(Hutter's learner) stores every item it has seen and errs on the rest, so when it is trained on
:math:`T` samples from :math:`q` and tested on :math:`p`,

.. math::  E(T) = \sum_i p_i (1 - q_i)^T .

References: Hutter (2021), "Learning curve theory", eq. for the memorizer; Dohmatob, Feng, Yang,
Charton & Kempe (2024), "A tale of tails", eq. 9 (train on q, test on p), Thm 2.1 (tail cut),
eq. 6 (finite sampling cuts the tail), Thm 3.2 (mixing). The tail-narrowing constant, the
multi-generation law and the verifier twin are derivations of the book (chapter
``tail-collapse``), checked here against simulation. Book chapter: ``notebooks/tail-collapse.md``.
"""
from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import special, stats

from theorylab.runtime import require_int, require_prob

__all__ = [
    "zipf", "tail_cut", "tail_mass", "clean_law", "narrowed_exponent", "narrowed_law", "memorizer_error", "simulate_memorizer",
    "self_consume", "generations_plateau", "simulate_generations_plateau", "generations_error", "effective_flip",
    "verified_error", "simulate_verified", "simulate_verifier_run",
]

_ATOL = 1e-8  # how far from 1 a distribution's sum may be


# ----------------------------------------------------------------------------- validation
def _distribution(name: str, value) -> np.ndarray:
    x = np.asarray(value, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of probabilities, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0) or abs(x.sum() - 1.0) > _ATOL:
        raise ValueError(f"{name} must be non-negative and sum to 1 (sum={x.sum():.3g})")
    return x


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    p, q = _distribution("p", p), _distribution("q", q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    return p, q


def _sizes(name: str, value) -> np.ndarray:
    t = np.asarray(value, dtype=np.float64)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return t


def _gen(gen) -> np.random.Generator:
    if not isinstance(gen, np.random.Generator):
        raise ValueError(f"gen must be a numpy Generator (theorylab.rng.numpy), got {type(gen).__name__}")
    return gen


# ----------------------------------------------------------------------------- distributions
def zipf(n_items: int, beta: float) -> np.ndarray:
    r"""Zipf law on ``n_items`` ranks, :math:`p_i = i^{-\beta} / \sum_{j \le N} j^{-\beta}`.

    Args: n_items: N >= 1; beta: tail exponent, > 1 (the laws of the chapter need a finite
    tail mass as N grows). Returns: (N,) float64, decreasing, sums to 1.
    """
    n_items = require_int("n_items", n_items, minimum=1)
    if isinstance(beta, bool) or not isinstance(beta, Real) or not beta > 1:
        raise ValueError(f"beta must be a number > 1, got {beta!r}")
    w = np.arange(1, n_items + 1, dtype=np.float64) ** (-float(beta))
    return w / w.sum()


def tail_cut(p, k: int) -> np.ndarray:
    r"""Cut the tail at rank k and renormalise: :math:`q_i = p_i 1[i \le k] / \sum_{j \le k} p_j`.

    Reference: Dohmatob et al. (2024), Sec. 2 (top-k / finite-sample truncation, Thm 2.1).
    Args: p: (N,) distribution sorted by rank; k: 1 <= k <= N. Returns: (N,) distribution.
    """
    p = _distribution("p", p)
    k = require_int("k", k, minimum=1)
    if k > p.size:
        raise ValueError(f"k must be <= len(p) = {p.size}, got {k}")
    q = np.zeros_like(p)
    q[:k] = p[:k] / p[:k].sum()
    return q


def tail_mass(p, k: int) -> float:
    r"""Mass of the ranks beyond k, :math:`\sum_{i > k} p_i` (the plateau of a cut at k).

    Args: p: (N,) distribution sorted by rank; k: 0 <= k <= N. Returns: a float.
    """
    p = _distribution("p", p)
    k = require_int("k", k, minimum=0)
    return float(p[k:].sum())


def clean_law(n_samples, beta: float):
    r"""Large-T asymptote of the clean error for an infinite Zipf law (the integral of the sum).

    .. math::  E(T) \simeq \frac{\Gamma(1-1/\beta)}{\beta\,\zeta(\beta)}
               \Big(\frac{T}{\zeta(\beta)}\Big)^{-(1-1/\beta)}

    Reference: Hutter (2021), Sec. 3 (same law in his notation, alpha = beta - 1).
    Args: n_samples: T (number or array, > 0); beta > 1. Returns: like ``n_samples``.
    """
    return narrowed_law(n_samples, beta, beta)


def narrowed_law(n_samples, beta: float, beta_train: float):
    r"""Large-T asymptote of the error when training on a Zipf law of another exponent.

    Tested on :math:`p_i = i^{-\beta}/\zeta(\beta)`, trained on :math:`q_i = i^{-\beta'}/\zeta(\beta')`:

    .. math::  E(T) \simeq \frac{\Gamma\big((\beta-1)/\beta'\big)}{\beta'\,\zeta(\beta)}
               \Big(\frac{T}{\zeta(\beta')}\Big)^{-(\beta-1)/\beta'}

    (:func:`clean_law` is the case :math:`\beta' = \beta`). Derivation: the book, chapter
    ``tail-collapse`` (tail narrowing, Dohmatob et al. (2024) Sec. 2, in our own form).
    Args: n_samples: T (number or array, > 0); beta > 1: test exponent; beta_train > 1:
    training exponent. Returns: like ``n_samples``.
    """
    expo = narrowed_exponent(beta, beta_train)
    t = _sizes("n_samples", n_samples)
    zq = special.zeta(beta_train)
    out = special.gamma(expo) / (beta_train * special.zeta(beta)) * (t / zq) ** (-expo)
    return float(out) if t.ndim == 0 else out


def narrowed_exponent(beta: float, beta_train: float) -> float:
    r"""Decay exponent of the error, tested on Zipf(beta) and trained on Zipf(beta'): :math:`(\beta-1)/\beta'`.

    The clean exponent :math:`c = 1 - 1/\beta` is the case :math:`\beta' = \beta`. At
    :math:`\beta = 2` it coincides with :math:`1/\beta'`, so checks of it belong at other values.
    Args: beta > 1; beta_train > 1. Returns: the exponent (positive; the log-log slope is its negative).
    """
    for name, b in (("beta", beta), ("beta_train", beta_train)):
        if isinstance(b, bool) or not isinstance(b, Real) or not b > 1:
            raise ValueError(f"{name} must be a number > 1, got {b!r}")
    return (float(beta) - 1) / float(beta_train)


# ----------------------------------------------------------------------------- the memorizer
def memorizer_error(p, q, n_samples):
    r"""Expected test error of the memorizer trained on T samples from q, tested on p.

    .. math::  E(T) = \sum_i p_i (1-q_i)^T = \sum_i p_i \exp\big(T \log(1-q_i)\big)

    computed with ``log1p`` so that T up to 1e9 and q_i down to 1e-300 stay exact.
    Reference: Dohmatob et al. (2024), eq. 9. Args: p, q: (N,) distributions; n_samples: T,
    a number or an array of numbers >= 0 (not necessarily integers, e.g. pi * T).
    Returns: a float, or an array shaped like ``n_samples``.
    """
    p, q = _pair(p, q)
    t = _sizes("n_samples", n_samples)
    keep = p > 0
    p, q = p[keep], q[keep]
    with np.errstate(divide="ignore"):
        log_miss = np.log1p(-q)  # -inf where q_i = 1
    out = np.empty(t.size)
    for j, tj in enumerate(t.ravel()):
        out[j] = p.sum() if tj == 0 else np.dot(p, np.exp(tj * log_miss))
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)


def simulate_memorizer(p, q, n_samples, gen: np.random.Generator):
    r"""Monte Carlo twin of :func:`memorizer_error`: one data set that grows through the sizes.

    Draws multinomial counts from q, adding ``T_j - T_{j-1}`` samples at each size (sorted),
    and returns :math:`\sum_i p_i 1[\text{count}_i = 0]` at each T. Args: p, q: (N,)
    distributions; n_samples: integer T or array of integers >= 0; gen: numpy Generator.
    Returns: a float, or an array shaped like ``n_samples``.
    """
    p, q = _pair(p, q)
    t = _sizes("n_samples", n_samples)
    if np.any(t != np.round(t)):
        raise ValueError("n_samples must be integers for the simulation")
    gen = _gen(gen)
    flat = t.ravel().astype(np.int64)
    order = np.argsort(flat, kind="stable")
    counts, done, out = np.zeros(p.size, dtype=np.int64), 0, np.empty(flat.size)
    for j in order:
        counts += gen.multinomial(flat[j] - done, q)
        done = flat[j]
        out[j] = p[counts == 0].sum()
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)


# ----------------------------------------------------------------------------- generations
def _chain(p: np.ndarray, n_samples: int, generations: int, gen: np.random.Generator):
    """Yield (support, q on support) after each refit; the support shrinks, so it stays cheap."""
    support, q = np.flatnonzero(p > 0), p[p > 0]
    for _ in range(generations):
        counts = gen.multinomial(n_samples, q)
        alive = counts > 0
        support, q = support[alive], counts[alive] / n_samples
        yield support, q


def self_consume(p, n_samples: int, generations: int, gen: np.random.Generator) -> np.ndarray:
    r"""Distribution after n generations of refitting the empirical law of ``n_samples`` draws.

    .. math::  q^{(0)} = p,\qquad q^{(g+1)}_i = \mathrm{count}_i / T_0,\quad
               \mathrm{count} \sim \mathrm{Multinomial}(T_0, q^{(g)}).

    Args: p: (N,) distribution; n_samples: T_0 >= 1; generations: n >= 0; gen: numpy Generator.
    Returns: (N,) distribution q^(n) (zero on every item lost along the way).
    """
    p = _distribution("p", p)
    n_samples = require_int("n_samples", n_samples, minimum=1)
    generations = require_int("generations", generations, minimum=0)
    gen = _gen(gen)
    q = p.copy()
    for support, qs in _chain(p, n_samples, generations, gen):
        q = np.zeros_like(p)
        q[support] = qs
    return q


def simulate_generations_plateau(p, n_samples: int, generations: int, gen: np.random.Generator) -> np.ndarray:
    r"""Along one chain, the mass of p lost after each generation, :math:`\sum_i p_i 1[q^{(n)}_i = 0]`.

    This is the error plateau :math:`E_\infty^{(n)} = \lim_{T\to\infty} E(T)` of a memorizer
    trained on generation n. Args: as :func:`self_consume`. Returns: (generations,) for n = 1..n.
    """
    p = _distribution("p", p)
    n_samples = require_int("n_samples", n_samples, minimum=1)
    generations = require_int("generations", generations, minimum=1)
    gen = _gen(gen)
    return np.array([1.0 - p[support].sum() for support, _ in _chain(p, n_samples, generations, gen)])


def generations_plateau(p, n_samples: int, generations, *, exact: bool = True):
    r"""Closed form of the plateau after n generations (a critical Poisson branching process).

    An item's count is Poisson(T_0 p_i) after one refit and then branches with Poisson(1)
    offspring, so it is extinct after n refits with probability
    :math:`\exp(-T_0 p_i a_{n-1})`, where :math:`a_0 = 1,\ a_m = 1 - e^{-a_{m-1}}`
    (``exact=True``). Since :math:`a_m \approx 2/(m+2)`, the plateau is close to

    .. math::  E_\infty^{(n)} \approx \sum_i p_i\, e^{-2 p_i T_0/(n+1)}
               = E_\text{clean}\big(2T_0/(n+1)\big)

    (``exact=False``). Derivation: the book, chapter ``tail-collapse``. Args: p: (N,)
    distribution; n_samples: T_0; generations: n >= 1, a number or an array.
    Returns: a float, or an array shaped like ``generations``.
    """
    p = _distribution("p", p)
    n_samples = require_int("n_samples", n_samples, minimum=1)
    n = np.asarray(generations)
    if n.size == 0 or not np.issubdtype(n.dtype, np.integer) or np.any(n < 1):
        raise ValueError(f"generations must be integers >= 1, got {generations!r}")
    if exact:
        a = np.empty(int(n.max()))
        a[0] = 1.0
        for m in range(1, a.size):
            a[m] = -np.expm1(-a[m - 1])
        rate = a[n.ravel() - 1]
    else:
        rate = 2.0 / (n.ravel() + 1.0)
    out = np.array([np.dot(p, np.exp(-n_samples * r * p)) for r in rate])
    return float(out[0]) if n.ndim == 0 else out.reshape(n.shape)


def generations_error(p, n_samples_0: int, generations: int, n_samples):
    r"""Approximate learning curve of a memorizer trained on T samples of generation n.

    An item survives n refits with probability :math:`s_i = 1 - e^{-2p_iT_0/(n+1)}` and, if it
    survives, carries about :math:`p_i/s_i` of the mass (the refits are a martingale), so

    .. math::  E(T; n) \approx \sum_i p_i \big[1 - s_i\,(1 - e^{-T p_i / s_i})\big],

    which is the clean law for n = 0 and the plateau :func:`generations_plateau` as T grows.
    A mean-field heuristic of the book (within ~20% of simulation near the knee).
    Args: p: (N,) distribution; n_samples_0: T_0; generations: n >= 0; n_samples: T.
    """
    p = _distribution("p", p)
    n_samples_0 = require_int("n_samples_0", n_samples_0, minimum=1)
    generations = require_int("generations", generations, minimum=0)
    t = _sizes("n_samples", n_samples)
    p = p[p > 0]
    # generation 0 is p itself: nothing has been lost yet
    s = -np.expm1(-2.0 * p * n_samples_0 / (generations + 1)) if generations else np.ones_like(p)
    out = np.array([np.dot(p, 1 - s * -np.expm1(-tj * p / s)) for tj in t.ravel()])
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)


# ----------------------------------------------------------------------------- verification
def effective_flip(flip: float, keep_correct: float = 1.0, keep_wrong: float = 1.0) -> float:
    r"""Wrong-label rate after selection, :math:`p' = p\psi_w / (p\psi_w + (1-p)\psi_c)`.

    Reference: the selection model of Feng, Dohmatob, Yang, Charton & Kempe (2025), "Beyond
    model collapse" (label-flip generator, verifier keeping correct / wrong labels).
    """
    flip = require_prob("flip", flip)
    kc, kw = require_prob("keep_correct", keep_correct), require_prob("keep_wrong", keep_wrong)
    kept = flip * kw + (1 - flip) * kc
    if kept == 0:
        raise ValueError("keep_correct and keep_wrong cannot both reject everything")
    return flip * kw / kept


def verified_error(p, n_samples, flip: float, keep_correct: float = 1.0, keep_wrong: float = 1.0):
    r"""Expected error of a majority-vote memorizer on verifier-selected synthetic labels.

    Each item has a right label and one confusable wrong label; the generator emits the wrong
    one with probability ``flip``; the verifier keeps right labels with probability
    :math:`\psi_c` and wrong ones with :math:`\psi_w`. The learner predicts the majority of
    the kept labels of an item (a coin flip on ties, unseen items included). Poissonized,
    the kept right and wrong counts are independent Poisson with means
    :math:`T p_i \psi_c (1-p)` and :math:`T p_i \psi_w p`, so with a Skellam difference

    .. math::  E(T) = \sum_i p_i \big[P(W_i > C_i) + \tfrac12 P(W_i = C_i)\big].

    Args: p: (N,) distribution; n_samples: T (number or array); flip, keep_correct,
    keep_wrong: probabilities. Returns: a float, or an array shaped like ``n_samples``.
    """
    p = _distribution("p", p)
    t = _sizes("n_samples", n_samples)
    effective_flip(flip, keep_correct, keep_wrong)  # validates all three
    p = p[p > 0]
    right, wrong = (1 - flip) * keep_correct, flip * keep_wrong
    out = np.empty(t.size)
    for j, tj in enumerate(t.ravel()):
        mu_w, mu_c = tj * p * wrong, tj * p * right
        err = np.full(p.size, 0.5)
        both = (mu_w > 0) & (mu_c > 0)
        err[both] = (stats.skellam.sf(0, mu_w[both], mu_c[both])
                     + 0.5 * stats.skellam.pmf(0, mu_w[both], mu_c[both]))
        only_w, only_c = (mu_w > 0) & (mu_c == 0), (mu_c > 0) & (mu_w == 0)
        err[only_w] = 1 - 0.5 * np.exp(-mu_w[only_w])
        err[only_c] = 0.5 * np.exp(-mu_c[only_c])
        out[j] = np.dot(p, err)
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)


def simulate_verified(p, n_samples, flip: float, keep_correct: float, keep_wrong: float,
                      gen: np.random.Generator):
    """Monte Carlo twin of :func:`verified_error` (multinomial items, binomial flips and keeps).

    Returns the error averaged over the tie-breaking coin, at each T of ``n_samples``.
    """
    p = _distribution("p", p)
    t = _sizes("n_samples", n_samples)
    effective_flip(flip, keep_correct, keep_wrong)
    gen = _gen(gen)
    out = np.empty(t.size)
    for j, tj in enumerate(t.ravel().astype(np.int64)):
        counts = gen.multinomial(tj, p)
        wrong = gen.binomial(counts, flip)
        w = gen.binomial(wrong, keep_wrong)
        c = gen.binomial(counts - wrong, keep_correct)
        out[j] = np.dot(p, (w > c) + 0.5 * (w == c))
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)


def simulate_verifier_run(p, n_samples, flip: float, keep_correct: float, keep_wrong: float,
                          gen: np.random.Generator):
    """Sample-level run of the verification pipeline: generate, verify, vote, test.

    Unlike :func:`simulate_verified`, which thins counts, this draws the T samples one by one: each
    item has a binary answer; the generator writes a label (the wrong one with probability
    ``flip``); the verifier looks at every (item, label) pair, compares the label with the item's
    answer and keeps it with probability ``keep_correct`` if it is right and ``keep_wrong`` if not;
    the learner counts the kept votes per item and answers the majority. The error on p is averaged
    over the tie-breaking coin (unseen items included). Args: as :func:`simulate_verified`.
    """
    p = _distribution("p", p)
    t = _sizes("n_samples", n_samples)
    effective_flip(flip, keep_correct, keep_wrong)
    gen = _gen(gen)
    answer = gen.integers(0, 2, p.size)                  # the truth, one bit per item
    cdf = np.cumsum(p)
    out = np.empty(t.size)
    for j, tj in enumerate(t.ravel().astype(np.int64)):
        items = np.minimum(np.searchsorted(cdf, gen.random(tj) * cdf[-1], side="right"), p.size - 1)
        labels = answer[items] ^ (gen.random(tj) < flip)                   # the generator's labels
        right = labels == answer[items]                                    # what the verifier checks
        keep = gen.random(tj) < np.where(right, keep_correct, keep_wrong)  # its decision
        votes = np.bincount(2 * items[keep] + labels[keep], minlength=2 * p.size).reshape(p.size, 2)
        good, bad = votes[np.arange(p.size), answer], votes[np.arange(p.size), 1 - answer]
        out[j] = np.dot(p, (bad > good) + 0.5 * (bad == good))
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)
