r"""A batch of tiny next-token models trained on bigram counts, their ensembles and their distillation.

Model :math:`m` of the batch maps the previous token :math:`i` to a distribution over the next one
through a hidden layer of width :math:`N_m` (one-hot input, so the first layer is an embedding
table :math:`E\in\mathbb R^{V\times N}`):

.. math::  q_m(\cdot\mid i) = \mathrm{softmax}\big(W^\top\mathrm{relu}(E_{i\cdot} + b) + c\big),

with :math:`W\in\mathbb R^{N\times V}`. It is trained to convergence on the count-weighted
cross-entropy plus an explicit weight decay (L2 penalty) on both weight matrices,

.. math::  J_m(\theta) = -\frac1n\sum_{ij} C_{ij}\log q_{ij} + \frac{\lambda_m}{2}\big(\|E\|_F^2 + \|W\|_F^2\big),

which for a first-order model is the full-batch loss over every token of the sample. Models of
different widths share one tensor program: each is padded to the largest width with its extra
hidden units masked to zero (they receive no gradient and stay at zero).

An **ensemble** averages probabilities, :math:`\bar q = \frac1K\sum_k q_k`; **distillation** trains a
student on the soft counts :math:`C_{i\cdot}\,\bar q_{ij}` (the teacher's predictions at the
training contexts), with the same objective.

Reference: Kim, Kotha, Liang & Hashimoto (2025), "Pre-training under infinite compute"
(arXiv:2509.14786), Sec. 2-5 (weight decay, ensembles, distillation), at toy scale.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from theorylab.runtime import require_float, require_int

__all__ = ["TrainConfig", "train", "train_minibatch", "ensemble_log_probs", "jensen_gap", "group_ensembles", "subset_ensembles", "distill_counts"]


@dataclass(frozen=True)
class TrainConfig:
    """Full-batch Adam with a cosine learning-rate decay to zero: ``steps`` steps from ``lr``."""

    steps: int = 1500
    lr: float = 0.05


def train(counts: np.ndarray, widths: np.ndarray, weight_decay: np.ndarray, gen: torch.Generator,
          config: TrainConfig = TrainConfig()) -> np.ndarray:
    r"""Train M models at once and return their log-probabilities :math:`\log q_m` (M, V, V), float64.

    Args: counts: (M, V, V) counts C (or soft counts) of model m's training sample;
    widths: (M,) hidden widths N_m >= 1; weight_decay: (M,) penalties lambda_m >= 0;
    gen: draws the initial weights, E ~ N(0, 1) and W ~ N(0, 1/N_m), biases zero;
    config: optimiser settings.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m, v, v2 = counts.shape
    widths, lam = np.asarray(widths), np.asarray(weight_decay, dtype=np.float64)
    if v != v2 or widths.shape != (m,) or lam.shape != (m,):
        raise ValueError(f"counts must be (M, V, V) with widths and weight_decay of shape (M,); got "
                         f"{counts.shape}, {widths.shape}, {lam.shape}")
    if np.any(widths < 1) or np.any(lam < 0):
        raise ValueError("widths must be >= 1 and weight_decay >= 0")
    steps = require_int("steps", config.steps, minimum=1)
    lr = require_float("lr", config.lr, low=0.0, low_open=True)
    mask, (E, W, b, c) = _init(m, v, widths, gen)
    wts = torch.tensor(counts / counts.sum((1, 2), keepdims=True), dtype=torch.float32)
    return _fit(mask, (E, W, b, c), lam, lr, steps, lambda: wts)



def _init(m: int, v: int, widths: np.ndarray, gen: torch.Generator):
    """Width mask (M, N) and initial parameters E, W, b, c of M models padded to the largest width."""
    n_max = int(widths.max())
    mask = torch.tensor(np.arange(n_max)[None, :] < widths[:, None], dtype=torch.float32)       # (M, N)
    scale = torch.tensor(1.0 / np.sqrt(widths), dtype=torch.float32)[:, None, None]
    E = (torch.randn(m, v, n_max, generator=gen) * mask[:, None, :]).requires_grad_()
    W = (torch.randn(m, n_max, v, generator=gen) * scale * mask[:, :, None]).requires_grad_()
    b = torch.zeros(m, 1, n_max, requires_grad=True)
    c = torch.zeros(m, 1, v, requires_grad=True)
    return mask, (E, W, b, c)


def _fit(mask: torch.Tensor, params, lam: np.ndarray, lr: float, steps: int, weights) -> np.ndarray:
    """Adam with a cosine schedule on sum_m [-sum_ij wts_mij log q_mij + lam_m/2 (|E_m|^2 + |W_m|^2)];
    ``weights()`` gives the (M, V, V) transition weights of each step (all counts, or a minibatch)."""
    E, W, b, c = params
    lam_t = torch.tensor(lam, dtype=torch.float32)
    opt = torch.optim.Adam([E, W, b, c], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / steps)))
    for _ in range(steps):
        wts = weights()
        opt.zero_grad(set_to_none=True)
        log_q = _log_probs(E, W, b, c, mask)
        penalty = 0.5 * lam_t * ((E * E).sum((1, 2)) + (W * W).sum((1, 2)))
        loss = (-(wts * log_q).sum((1, 2)) + penalty).sum()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return _log_probs(E.double(), W.double(), b.double(), c.double(), mask.double()).numpy()

def _log_probs(E, W, b, c, mask):
    h = torch.relu(E + b) * mask[:, None, :]                       # (M, V, N): hidden units per context
    return torch.log_softmax(h @ W + c, dim=-1)                    # (M, V, V)


def ensemble_log_probs(log_q: np.ndarray, axis: int = 0) -> np.ndarray:
    r"""Log of the probability average :math:`\log\frac1K\sum_k q_k` over ``axis`` (members), stably."""
    log_q = np.asarray(log_q, dtype=np.float64)
    top = log_q.max(axis=axis, keepdims=True)
    out = np.log(np.exp(log_q - top).mean(axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def jensen_gap(log_q: np.ndarray, axis: int = 0) -> np.ndarray:
    r"""Cell-wise Jensen gap :math:`\log\frac1K\sum_kq_k - \frac1K\sum_k\log q_k\ge0` over ``axis``.

    Computed around the members' mean log-probability (a second route to
    :func:`ensemble_log_probs`): :math:`\log\frac1K\sum_k e^{d_k}` with :math:`d_k = \log q_k - \overline{\log q}`.
    """
    log_q = np.asarray(log_q, dtype=np.float64)
    d = log_q - log_q.mean(axis=axis, keepdims=True)
    return np.log(np.mean(np.exp(d), axis=axis))


def group_ensembles(log_q: np.ndarray, k: int) -> np.ndarray:
    """Split the members on axis 0 (K_max of them) into K_max // k disjoint ensembles of k consecutive
    members; return their ensemble log-probabilities, shape (K_max // k, ...)."""
    k_max = log_q.shape[0]
    k = require_int("k", k, minimum=1, maximum=k_max)
    if k_max % k:
        raise ValueError(f"k must divide the number of members {k_max}; got {k}")
    return ensemble_log_probs(log_q.reshape(k_max // k, k, *log_q.shape[1:]), axis=1)


def subset_ensembles(log_q: np.ndarray, k: int) -> np.ndarray:
    """Every ensemble of k distinct members out of the K on axis 0: log-probabilities of shape
    (C(K, k), ...), the subsets in lexicographic order. Averaging a loss over them estimates the
    expected k-ensemble loss with far less noise than disjoint groups do."""
    k_max = log_q.shape[0]
    k = require_int("k", k, minimum=1, maximum=k_max)
    subsets = np.array(list(itertools.combinations(range(k_max), k)))            # (C(K, k), k)
    return ensemble_log_probs(np.asarray(log_q)[subsets], axis=1)


def distill_counts(counts: np.ndarray, teacher_log_q: np.ndarray) -> np.ndarray:
    r"""Soft counts :math:`C_{i\cdot}\,\bar q_{ij}` for a student: the sample's contexts, the teacher's
    next-token distributions. counts (..., V, V), teacher_log_q (..., V, V)."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts.sum(-1, keepdims=True) * np.exp(teacher_log_q)


def train_minibatch(path: np.ndarray, vocab: int, widths: np.ndarray, weight_decay: np.ndarray, batch: int,
                    gen: torch.Generator, config: TrainConfig = TrainConfig()) -> np.ndarray:
    r"""Like :func:`train`, but each step sees a minibatch: ``batch`` transitions of the token ``path``
    drawn uniformly with replacement, independently for every model and step, so the models see
    ``config.steps * batch / (len(path) - 1)`` epochs in different orders. Same model, objective
    (with the counts of the minibatch), initialisation and schedule; returns (M, V, V) log-probabilities.

    The members of an ensemble trained this way differ by their initialisation *and* by the noise of
    their minibatches, which training for a finite number of steps does not average away.
    """
    path = np.asarray(path, dtype=np.int64)
    v = require_int("vocab", vocab, minimum=2)
    batch = require_int("batch", batch, minimum=1)
    widths, lam = np.asarray(widths), np.asarray(weight_decay, dtype=np.float64)
    m = widths.shape[0]
    if widths.ndim != 1 or lam.shape != (m,) or np.any(widths < 1) or np.any(lam < 0):
        raise ValueError(f"widths (M,) >= 1 and weight_decay (M,) >= 0 needed; got {widths.shape}, {lam.shape}")
    steps = require_int("steps", config.steps, minimum=1)
    lr = require_float("lr", config.lr, low=0.0, low_open=True)
    mask, (E, W, b, c) = _init(m, v, widths, gen)
    pairs = torch.tensor(path[:-1] * v + path[1:])                  # transition i -> j as the cell i * V + j
    offset = torch.arange(m)[:, None] * v * v

    def minibatch() -> torch.Tensor:
        idx = torch.randint(0, len(pairs), (m, batch), generator=gen)
        return torch.bincount((offset + pairs[idx]).ravel(), minlength=m * v * v).reshape(m, v, v).float() / batch

    return _fit(mask, (E, W, b, c), lam, lr, steps, minibatch)
