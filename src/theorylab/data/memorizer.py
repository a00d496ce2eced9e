r"""A neural memorizer: an embedding classifier trained to 100% training accuracy on Zipf items.

Every item i has a random label :math:`y_i \in \{0,\dots,K-1\}`. The model is
:math:`f(i) = W e_i` with a trainable embedding :math:`e_i \in \mathbb{R}^d` and a shared head
:math:`W \in \mathbb{R}^{K \times d}`; it is trained with Adam on T samples from q until it fits
them all. Its test error on p should sit on Hutter's memorizer curve scaled by the chance of a
wrong guess on an unseen item,

.. math::  E_\text{neural}(T) \approx (1 - 1/K)\, \sum_i p_i (1-q_i)^T ,

because an unseen item keeps its random embedding and is classified at chance.
Reference: the memorizer of Hutter (2021) and Dohmatob et al. (2024), "A tale of tails", Sec. 2,
realised as a network; the book's chapter ``tail-collapse``.

A memory-limited memorizer (capacity M) keeps only the M items it has seen most often. Once every
head item is seen many times it stores the top M ranks, so capacity acts like a tail cut at rank M
(Dohmatob et al. (2024), Sec. 5: finite memory adds a term to the scaling law):

.. math::  E_M(T) \ge \max\Big(\sum_i p_i (1-p_i)^T,\ \sum_{i > M} p_i\Big)
           \;\asymp\; T^{-(1-1/\beta)} + M^{-(\beta-1)} .

"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import collapse

__all__ = ["MemorizerResult", "train_memorizer", "capacity_bound", "simulate_capacity_memorizer"]


@dataclass(frozen=True)
class MemorizerResult:
    """Test error on p, the mass of p on unseen items, training accuracy, steps, items seen."""

    test_error: float
    unseen_mass: float
    train_accuracy: float
    steps: int
    n_seen: int


def train_memorizer(p, q, n_samples: int, labels: np.ndarray, *, gen: torch.Generator,
                    data_gen: np.random.Generator, dim: int = 32, lr: float = 0.05,
                    max_steps: int = 2_000, device: str | torch.device = "cpu") -> MemorizerResult:
    """Draw T samples from q, fit the embedding classifier on them, score it on p.

    Full-batch Adam on the distinct items seen, each weighted by its count (the same loss as
    one epoch over the T samples), stopped once every seen item is classified right.
    Args: p, q: (N,) distributions; n_samples: T >= 0; labels: (N,) ints in [0, K);
    gen: torch Generator for the initialisation; data_gen: numpy Generator for the sample.
    Returns: a :class:`MemorizerResult`.
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.ndim != 1 or p.shape != q.shape or abs(p.sum() - 1) > 1e-8 or abs(q.sum() - 1) > 1e-8:
        raise ValueError("p and q must be 1-D distributions of the same length")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise ValueError(f"n_samples must be an integer >= 0, got {n_samples!r}")
    labels = np.asarray(labels)
    if labels.shape != p.shape or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError("labels must be non-negative integers, one per item")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not isinstance(gen, torch.Generator):
        raise ValueError(f"gen must be a torch Generator (theorylab.rng.torch), got {type(gen).__name__}")
    if not isinstance(data_gen, np.random.Generator):
        raise ValueError("data_gen must be a numpy Generator (theorylab.rng.numpy), "
                         f"got {type(data_gen).__name__}")
    n_items, n_labels = p.size, int(labels.max()) + 1
    counts = data_gen.multinomial(n_samples, q)
    seen = np.flatnonzero(counts)
    emb = torch.randn(n_items, dim, generator=gen, dtype=torch.float32).to(device)
    head = (torch.randn(n_labels, dim, generator=gen, dtype=torch.float32) / dim**0.5).to(device)
    emb.requires_grad_(True)
    head.requires_grad_(True)
    idx = torch.as_tensor(seen, device=device)
    y = torch.as_tensor(labels[seen], device=device)
    w = torch.as_tensor(counts[seen] / max(n_samples, 1), dtype=torch.float32, device=device)
    opt = torch.optim.Adam([emb, head], lr=lr)
    steps, acc = 0, 1.0 if seen.size == 0 else 0.0
    while seen.size and steps < max_steps:
        logits = emb[idx] @ head.T
        acc = (logits.argmax(1) == y).float().mean().item()
        if acc == 1.0:
            break
        loss = (torch.nn.functional.cross_entropy(logits, y, reduction="none") * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    with torch.no_grad():
        pred = (emb @ head.T).argmax(1).cpu().numpy()
    return MemorizerResult(test_error=float(np.dot(p, pred != labels)),
                           unseen_mass=float(p[counts == 0].sum()), train_accuracy=float(acc),
                           steps=steps, n_seen=int(seen.size))


def capacity_bound(p, n_samples, capacity: int):
    r"""Lower bound on the mean error of a memorizer that can store ``capacity`` items.

    .. math::  \mathbb E\,E_M(T) \ge \max\Big(\sum_i p_i (1-p_i)^T,\ \sum_{i > M} p_i\Big),

    because it stores only items it has seen (first term: the clean error) and at most M of them
    (second term: the mass beyond the M most probable). Both ends are tight: for T below the knee
    :math:`M^\beta` memory is not binding, and as :math:`T \to \infty` it stores the top M ranks.
    Args: p: (N,) distribution sorted by rank; n_samples: T (number or array >= 0); capacity: M >= 1.
    Returns: a float, or an array shaped like ``n_samples``.
    """
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
    return np.maximum(collapse.memorizer_error(p, p, n_samples), collapse.tail_mass(p, int(capacity)))


def simulate_capacity_memorizer(p, n_samples, capacity: int, gen: np.random.Generator):
    """A memorizer with room for ``capacity`` items, trained on one data set that grows through the sizes.

    It counts every item it sees and stores the ``capacity`` most frequent ones (ties broken at
    random); its error on p is the mass of the items it does not store.
    Args: p: (N,) distribution; n_samples: integer T or array of integers; capacity: M >= 1;
    gen: numpy Generator. Returns: a float, or an array shaped like ``n_samples``.
    """
    p = np.asarray(p, dtype=np.float64)
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
    if not isinstance(gen, np.random.Generator):
        raise ValueError(f"gen must be a numpy Generator (theorylab.rng.numpy), got {type(gen).__name__}")
    t = np.asarray(n_samples)
    if t.size == 0 or not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"n_samples must be integers >= 0, got {n_samples!r}")
    flat = t.ravel().astype(np.int64)
    counts, done, out = np.zeros(p.size, dtype=np.int64), 0, np.empty(flat.size)
    for j in np.argsort(flat, kind="stable"):
        counts += gen.multinomial(flat[j] - done, p)
        done = flat[j]
        seen = np.flatnonzero(counts)
        if seen.size > capacity:
            key = counts[seen] + 0.5 * gen.random(seen.size)  # random order among equal counts
            seen = seen[np.argpartition(-key, capacity - 1)[:capacity]]
        out[j] = 1.0 - p[seen].sum()
    return float(out[0]) if t.ndim == 0 else out.reshape(t.shape)
