r"""Hierarchical tensor (HT) factorization with product pooling of size 2, trained by gradient descent.

An order-N tensor (N = 2^L modes of dimension d) is built bottom-up along a perfect binary tree.
The leaves hold matrices :math:`U^{(0,n)} \in \R^{d \times R_0}`, an inner node :math:`\nu` at level
:math:`l` a matrix :math:`U^{(l,\nu)} \in \R^{R_{l-1} \times R_l}`, and the root a vector
:math:`u \in \R^{R_{L-1}}` (the linear output layer). With children :math:`c_1, c_2` of a node,

.. math::  \phi^{(l,\nu)}_{q} = \sum_{r} U^{(l,\nu)}_{r q}\, \phi^{(l-1,c_1)}_{r} \otimes \phi^{(l-1,c_2)}_{r},
           \qquad \phi^{(0,n)}_r = U^{(0,n)}_{:, r},
           \qquad \mathcal W = \sum_r u_r\, \phi^{(L-1,1)}_r \otimes \phi^{(L-1,2)}_r .

This is a convolutional arithmetic circuit: 1x1 convolutions (the matrices) followed by product
pooling over windows of 2. Every node runs a *local* CP factorization of an order-3 tensor; its
r-th **local component** is the triple (row r of the node's matrix, column r of each child's
matrix), with norm the product of the three vector norms, :math:`\sigma_{\nu,r} = \prod_k \|v_k\|`.
:math:`\mathcal W` is linear in each of these vectors, so under gradient flow on a loss
:math:`\ell(\mathcal W)`, with :math:`\widehat{\mathcal W}_{\nu,r}` the end tensor built from component
(ν, r) alone with its vectors normalised,

.. math::  \frac{d}{dt}\sigma_{\nu,r} = \sigma_{\nu,r}^2 \Big(\sum_{k=1}^{K} \|v_k\|^{-2}\Big)
           \big\langle -\nabla\ell(\mathcal W), \widehat{\mathcal W}_{\nu,r} \big\rangle
           \;\overset{\text{balanced}}{=}\; K\, \sigma_{\nu,r}^{2-2/K}
           \big\langle -\nabla\ell(\mathcal W), \widehat{\mathcal W}_{\nu,r} \big\rangle, \quad K = 3 .

Reference: Razin, Maman & Cohen (ICML 2022, arXiv 2201.11729): hierarchical tensor factorization,
its local components, and the theorem on their norms (exponent 2 - 2/K, K the number of axes of the
local factorization). The exact, imbalance-aware form above is derived in the book's chapter.
Every parameter carries a leading seed axis S; all math in float64.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..runtime import require_float, require_generators, require_int
from . import tensors

__all__ = [
    "K_LOCAL", "Run", "activation_times", "completion_mask", "component_norms", "component_tensor", "contract",
    "contract_einsum", "init", "loss", "loss_grad", "matricization_eranks", "nodes", "norm_velocity",
    "root_singular_values", "separable_target", "step_sizes", "target", "train",
]

DTYPE = torch.float64
K_LOCAL = 3  # vectors per local component with pool size 2: the node's row and one column per child

Params = list[Tensor]  # [leaves (S, N, d, R0), level 1 (S, N/2, R0, R1), ..., root (S, R_{L-1})]


def _check_order(order: int) -> int:
    order = require_int("order", order, minimum=2)
    if order & (order - 1):
        raise ValueError(f"order must be a power of 2 (pool size 2), got {order}")
    return order


def init(order: int, d: int, widths: Sequence[int], std: float, gens: Sequence[torch.Generator]) -> Params:
    r"""Gaussian parameters with i.i.d. :math:`\mathcal N(0, \text{std}^2)` entries, one draw per generator.

    Args: order: N = 2^L; d: mode dimension; widths: (R_0, ..., R_{L-1}); std: init scale.
    Returns: L + 1 tensors: leaves (S, N, d, R_0), level l in 1..L-1 (S, N/2^l, R_{l-1}, R_l), root (S, R_{L-1}).
    """
    order, d = _check_order(order), require_int("d", d, minimum=1)
    depth = order.bit_length() - 1
    widths = [require_int("widths", w, minimum=1) for w in widths]
    if len(widths) != depth:
        raise ValueError(f"widths must hold L = {depth} widths for order {order}, got {len(widths)}")
    std = require_float("std", std, low=0.0, low_open=True)
    gens = require_generators("gens", gens)
    shapes = [(order, d, widths[0])] + [(order >> lev, widths[lev - 1], widths[lev]) for lev in range(1, depth)]
    shapes.append((widths[-1],))
    return [torch.stack([std * torch.randn(shape, generator=g, dtype=DTYPE) for g in gens]) for shape in shapes]


def contract(params: Params) -> Tensor:
    """The end tensor of the factorization (the forward pass on every one-hot input at once).

    Returns: (S, d, ..., d) with N mode axes.
    """
    phi = params[0]  # (S, nodes, D, R): phi[s, node, :, r] is the flattened node tensor phi_r
    for mat in params[1:-1]:
        left, right = phi[:, 0::2], phi[:, 1::2]
        pair = torch.einsum("snar,snbr->snabr", left, right).flatten(2, 3)
        phi = torch.einsum("snxr,snrq->snxq", pair, mat)
    s, d = params[0].shape[0], params[0].shape[2]
    out = torch.einsum("sar,sbr,sr->sab", phi[:, 0], phi[:, 1], params[-1])
    order = params[0].shape[1]
    return out.reshape((s,) + (d,) * order)


def contract_einsum(params: Params) -> Tensor:
    """Second route to :func:`contract`: the whole tree written as one einsum string (any order 2^L)."""
    letters = iter(string.ascii_letters.replace("s", ""))
    order = params[0].shape[1]
    modes = [next(letters) for _ in range(order)]
    terms, operands = [], []
    labels = []  # bond label of each current node
    for n in range(order):
        labels.append(next(letters))
        terms.append(f"s{modes[n]}{labels[n]}")
        operands.append(params[0][:, n])
    for mat in params[1:-1]:
        new = []
        for i in range(mat.shape[1]):
            q = next(letters)
            # both children share the same bond index r: name it after the left child's label
            terms.append(f"s{labels[2 * i]}{q}")
            operands.append(mat[:, i])
            new.append(q)
            terms = [t.replace(labels[2 * i + 1], labels[2 * i]) for t in terms]
        labels = new
    terms = [t.replace(labels[1], labels[0]) for t in terms]
    terms.append(f"s{labels[0]}")
    operands.append(params[-1])
    return torch.einsum(",".join(terms) + "->s" + "".join(modes), *operands)


# ----------------------------------------------------------------------------- local components
def nodes(params: Params) -> list[tuple[int, int]]:
    """Inner nodes (level, index) in tree order from the root: (L, 0), (L-1, 0), (L-1, 1), ..."""
    depth = len(params) - 1
    return [(lev, i) for lev in range(depth, 0, -1) for i in range(1 << (depth - lev))]


def _component_vectors(params: Params, level: int, index: int) -> list[Tensor]:
    """Norms of the three vectors of every local component at node (level, index): 3 x (S, R_{level-1})."""
    depth = len(params) - 1
    if level == depth:
        own = params[-1].abs()  # the root's "row r" is the scalar u_r
    else:
        own = torch.linalg.norm(params[level][:, index], dim=-1)  # rows of U^{(l, nu)}: (S, R_{l-1})
    kids = [torch.linalg.norm(params[level - 1][:, 2 * index + c], dim=-2) for c in (0, 1)]  # columns
    return [own] + kids


def component_norms(params: Params) -> Tensor:
    r"""Local component norms :math:`\sigma_{\nu,r} = \prod_k \|v_k\|` of every inner node.

    Returns: (S, n_nodes, R_max), nodes in :func:`nodes` order, padded with NaN where R_{l-1} < R_max.
    """
    rows = []
    width = max(p.shape[-1] if p.ndim > 2 else p.shape[-1] for p in params)
    for lev, i in nodes(params):
        v = _component_vectors(params, lev, i)
        sigma = v[0] * v[1] * v[2]
        rows.append(torch.nn.functional.pad(sigma, (0, width - sigma.shape[-1]), value=float("nan")))
    return torch.stack(rows, dim=1)


def _keep_component(params: Params, level: int, index: int, r: int) -> Params:
    """Parameters with every local component of node (level, index) but the r-th set to zero."""
    depth = len(params) - 1
    out = [p.clone() for p in params]
    if level == depth:
        mask = torch.zeros_like(out[-1])
        mask[:, r] = 1.0
        out[-1] = out[-1] * mask
    else:
        keep = torch.zeros_like(out[level][:, index])
        keep[:, r, :] = 1.0
        out[level][:, index] = out[level][:, index] * keep
    return out


def component_tensor(params: Params, level: int, index: int, r: int) -> Tensor:
    r"""End tensor :math:`\mathcal W_{\nu,r}` of local component r of node (level, index) alone. (S, d, ..., d)."""
    return contract(_keep_component(params, level, index, r))


def norm_velocity(params: Params, grad: Tensor, level: int, index: int, r: int,
                  balanced: bool = False) -> Tensor:
    r"""Right-hand side of the local-component norm dynamics under gradient flow.

    .. math::  \dot\sigma = \sigma^2 \big(\textstyle\sum_k \|v_k\|^{-2}\big)
               \langle -\nabla\ell, \widehat{\mathcal W}_{\nu,r}\rangle
               \quad\text{or, balanced,}\quad K\sigma^{2-2/K}\langle -\nabla\ell, \widehat{\mathcal W}_{\nu,r}\rangle

    with :math:`\widehat{\mathcal W}_{\nu,r} = \mathcal W_{\nu,r}/\sigma`. Args: grad: (S, d, ..., d) gradient
    of the loss with respect to the end tensor. Returns: (S,).
    """
    v = [x[:, r] for x in _component_vectors(params, level, index)]
    sigma = v[0] * v[1] * v[2]
    w_hat = component_tensor(params, level, index, r) / sigma.reshape((-1,) + (1,) * (grad.ndim - 1))
    drive = -(grad * w_hat).flatten(1).sum(1)
    if balanced:
        return K_LOCAL * sigma.pow(2.0 - 2.0 / K_LOCAL) * drive
    return sigma.pow(2) * sum(x.pow(-2) for x in v) * drive


# ----------------------------------------------------------------------------- ranks and problems
def root_singular_values(w: Tensor, order: int) -> Tensor:
    r"""Singular values of the root matricization :math:`[\![\mathcal W; \{1, \dots, N/2\}]\!]` (first half
    of the modes against the second), largest first. Args: w: (..., d, ..., d) with ``order`` mode axes
    last. Returns: (..., d^{N/2})."""
    order = _check_order(order)
    lead, d = w.shape[: w.ndim - order], w.shape[-1]
    return torch.linalg.svdvals(w.reshape(*lead, d ** (order // 2), -1))


def matricization_eranks(w: Tensor) -> dict[tuple[int, ...], Tensor]:
    r"""Effective ranks of the canonical matricizations :math:`[\![\mathcal W; K]\!]` (one per tree node
    below the root; the two level-1 halves give the same matrix, so only the first is kept).

    Returns: ``{K (0-based modes): (S,) effective ranks}``.
    """
    from ..linear.factorization import effective_rank

    order = w.ndim - 1
    parts = tensors.canonical_partitions(order)
    out = {}
    for lev, blocks in parts.items():
        for k, block in enumerate(blocks):
            if lev == 1 and k == 1:
                continue
            rest = [m for m in range(order) if m not in block]
            perm = [0] + [1 + m for m in block] + [1 + m for m in rest]
            rows = int(np.prod([w.shape[1 + m] for m in block]))
            out[tuple(int(m) for m in block)] = effective_rank(w.permute(perm).reshape(w.shape[0], rows, -1))
    return out


def target(order: int, d: int, ranks: Sequence[int], gens: Sequence[torch.Generator], norm: float) -> Tensor:
    """A random low-HT-rank target: an HT factorization of widths ``ranks`` with Gaussian parameters,
    scaled to Frobenius norm ``norm``. Returns (S, d, ..., d)."""
    w = contract(init(order, d, ranks, 1.0, gens))
    norm = require_float("norm", norm, low=0.0, low_open=True)
    return norm * w / torch.linalg.norm(w.flatten(1), dim=1).reshape((-1,) + (1,) * order)


def separable_target(order: int, d: int, strengths: Sequence[float], gens: Sequence[torch.Generator]) -> Tensor:
    r"""A sum of separable terms :math:`\mathcal T = \sum_p s_p\, a_{1,p} \otimes \cdots \otimes a_{N,p}` with
    random unit vectors :math:`a_{n,p}`: its HT rank is at most len(strengths) at every node, and its
    root has len(strengths) local components of strengths :math:`\approx s_p`. Returns (S, d, ..., d)."""
    order, d = _check_order(order), require_int("d", d, minimum=1)
    s = torch.as_tensor([require_float("strengths", x, low=0.0, low_open=True) for x in strengths], dtype=DTYPE)
    out = []
    for g in require_generators("gens", gens):
        vecs = torch.randn(order, d, len(s), generator=g, dtype=DTYPE)
        vecs = vecs / torch.linalg.norm(vecs, dim=1, keepdim=True)
        letters = string.ascii_lowercase[:order]
        expr = ",".join(f"{c}z" for c in letters) + ",z->" + letters
        out.append(torch.einsum(expr, *vecs, s))
    return torch.stack(out)


def completion_mask(shape: Sequence[int], n_observed: int, gens: Sequence[torch.Generator]) -> Tensor:
    """Uniformly random sets of exactly ``n_observed`` observed entries; (S, *shape) 0/1 float64."""
    size = int(np.prod(shape))
    n_observed = require_int("n_observed", n_observed, minimum=1, maximum=size)
    out = []
    for g in require_generators("gens", gens):
        m = torch.zeros(size, dtype=DTYPE)
        m[torch.randperm(size, generator=g)[:n_observed]] = 1.0
        out.append(m.reshape(tuple(shape)))
    return torch.stack(out)


def loss(w: Tensor, tgt: Tensor, mask: Tensor) -> Tensor:
    r"""Completion loss :math:`\ell = \frac{D}{2|\Omega|}\sum_{\Omega}(\mathcal W - \mathcal T)^2` per seed, D = d^N
    entries, so that its average over random masks is :math:`\tfrac12\|\mathcal W - \mathcal T\|^2`. (S,)."""
    size = mask[0].numel()
    return 0.5 * size * (mask * (w - tgt) ** 2).flatten(1).sum(1) / mask.flatten(1).sum(1)


def loss_grad(w: Tensor, tgt: Tensor, mask: Tensor) -> Tensor:
    r""":math:`\nabla\ell(\mathcal W) = D\,P_\Omega(\mathcal W - \mathcal T)/|\Omega|`. (S, d, ..., d)."""
    count = mask.flatten(1).sum(1).reshape((-1,) + (1,) * (w.ndim - 1))
    return mask[0].numel() * mask * (w - tgt) / count


@dataclass(frozen=True)
class Run:
    """A gradient-descent run. t: (T, S) flow time of each seed; norms: (T, S, n_nodes, R_max) local
    component norms at every step; loss: (T, S); snapshots: {step: parameters}; final: parameters;
    w: (T', S, d, ..., d) the end tensor at the steps ``w_steps`` (every ``every``-th step and the last)."""

    t: np.ndarray
    norms: Tensor
    loss: Tensor
    snapshots: dict[int, Params]
    final: Params
    w: Tensor
    w_steps: np.ndarray


def step_sizes(params: Params, grads: Sequence[Tensor], lr: float, rho: float) -> Tensor:
    r"""Per-seed step :math:`\eta_k = \min(\eta_{\max}, \rho\,\|\theta\|/\|\nabla\|)`: no step moves the
    parameters by more than a fraction rho, so the iterates follow gradient flow through the slow
    plateaus near zero (flow time :math:`t = \sum_k \eta_k`) with few steps. Returns: (S,)."""
    sq = lambda ts: sum(x.flatten(1).pow(2).sum(1) for x in ts)  # noqa: E731
    return torch.clamp(rho * torch.sqrt(sq(params) / sq(grads).clamp_min(1e-300)), max=lr)


def train(params: Params, tgt: Tensor, mask: Tensor, *, lr: float, n_steps: int, rho: float = 0.01,
          snapshot_steps: Sequence[int] = (), every: int = 10) -> Run:
    """Full-batch gradient descent on all parameters, all seeds at once, with the step of
    :func:`step_sizes` (``rho = inf`` gives the constant step ``lr``); records every step's component
    norms and keeps full snapshots at ``snapshot_steps``. The inputs are not modified."""
    lr = require_float("lr", lr, low=0.0, low_open=True)
    rho = float(rho)
    if not rho > 0:
        raise ValueError(f"rho must be positive (inf for a constant step), got {rho!r}")
    n_steps = require_int("n_steps", n_steps, minimum=1)
    params = [p.detach().clone().requires_grad_(True) for p in params]
    keep = set(int(s) for s in snapshot_steps)
    s = params[0].shape[0]
    every = require_int("every", every, minimum=1)
    norms, losses, snaps, times, ws, w_steps = [], [], {}, [torch.zeros(s, dtype=DTYPE)], [], []
    for step in range(n_steps + 1):
        with torch.no_grad():
            norms.append(component_norms(params))
        if step in keep:
            snaps[step] = [p.detach().clone() for p in params]
        w = contract(params)
        value = loss(w, tgt, mask)
        losses.append(value.detach())
        if step % every == 0 or step == n_steps:
            ws.append(w.detach().clone())
            w_steps.append(step)
        if step == n_steps:
            break
        grads = torch.autograd.grad(value.sum(), params)  # seeds are independent: the sum separates
        with torch.no_grad():
            eta = step_sizes(params, grads, lr, rho)
            for p, g in zip(params, grads):
                p.sub_(eta.reshape((-1,) + (1,) * (g.ndim - 1)) * g)
            times.append(times[-1] + eta)
    final = [p.detach() for p in params]
    return Run(torch.stack(times).numpy(), torch.stack(norms), torch.stack(losses), snaps, final,
               torch.stack(ws), np.asarray(w_steps))


def activation_times(t: np.ndarray, norms: Tensor, level: float = 0.5) -> np.ndarray:
    """First time each component's norm reaches ``level`` times its final value (NaN if never grown).

    Args: t: (T, S); norms: (T, S, R) for one node. Returns: (S, R) times, components sorted by final norm
    (largest first)."""
    level = require_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    x = norms.detach().cpu().numpy()
    order = np.argsort(-x[-1], axis=1)
    out = np.full(x.shape[1:], np.nan)
    for s in range(x.shape[1]):
        for j, r in enumerate(order[s]):
            hits = np.flatnonzero(x[:, s, r] >= level * x[-1, s, r])
            if hits.size and x[-1, s, r] > 5 * x[0, s, r]:
                out[s, j] = t[hits[0], s]
    return out
