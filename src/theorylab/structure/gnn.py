r"""Small GNNs in pure torch, trained many at a time, and the graphs the walk-index chapter uses.

A GCN layer is :math:`H \mapsto \sigma(\mathrm{LN}(P H W))` with
:math:`P = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` (Kipf & Welling, 2017); a GIN layer is
:math:`H \mapsto \sigma(\mathrm{LN}(\mathrm{MLP}(H + A H)))` (Xu et al., 2019). ``B`` independent
models are stacked along a leading axis (weights of shape (B, d_in, d_out)) and trained in one
loop: the losses add, the gradients do not mix, and Adam acts coordinate-wise, so this equals B
separate trainings. Data: a degree-corrected stochastic block model (DC-SBM) with weak Gaussian
features, and the is-same-class task on pairs of sklearn digits placed on two cliques
(Razin, Verbin & Cohen, 2023, Section 5 / Table 1 analogue).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..data import digits
from . import graphs

KINDS = ("gcn", "gin")


def dcsbm(n: int, n_classes: int, avg_degree: float, alpha: float, in_out_ratio: float,
          gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Degree-corrected SBM: :math:`P(u \sim v) = \min(1, \theta_u\theta_v B_{y_u y_v})`.

    :math:`\theta \sim 1 + \mathrm{Lomax}(\alpha)` rescaled to mean 1 (heavy tail for small
    :math:`\alpha`, homogeneous for large); :math:`B = b_{out}(1 + (r - 1)\,\mathbb 1[y_u = y_v])`
    with :math:`b_{out}` set so that the expected mean degree is ``avg_degree``.
    Returns: (adj (n, n) int64 0/1 symmetric, labels (n,) int64), labels balanced.
    """
    if n < 2 or n_classes < 1 or avg_degree <= 0 or alpha <= 1 or in_out_ratio < 1:
        raise ValueError("dcsbm needs n >= 2, n_classes >= 1, avg_degree > 0, alpha > 1, in_out_ratio >= 1")
    labels = gen.permutation(np.arange(n) % n_classes)
    theta = 1.0 + gen.pareto(alpha, n)
    theta /= theta.mean()
    b_out = avg_degree / (n * (in_out_ratio / n_classes + (n_classes - 1) / n_classes))
    block = np.where(labels[:, None] == labels[None, :], in_out_ratio * b_out, b_out)
    p = np.minimum(1.0, np.outer(theta, theta) * block)
    upper = np.triu(gen.random((n, n)) < p, 1)
    return (upper | upper.T).astype(np.int64), labels.astype(np.int64)


def class_features(labels: np.ndarray, dim: int, snr: float, gen: np.random.Generator) -> np.ndarray:
    r"""Weak features :math:`x_v = \mathrm{snr}\cdot\mu_{y_v} + \varepsilon_v`, with class means
    :math:`\mu_k \sim N(0, I_d)` and noise :math:`\varepsilon_v \sim N(0, I_d)`. Shape (n, dim)."""
    means = gen.standard_normal((int(labels.max()) + 1, dim))
    return (snr * means[labels] + gen.standard_normal((len(labels), dim))).astype(np.float32)


def split_masks(n: int, fractions: tuple[float, float], gen: np.random.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Random train / validation / test masks; ``fractions`` = (train, validation)."""
    order = gen.permutation(n)
    n_tr, n_va = int(fractions[0] * n), int(fractions[1] * n)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][order[:n_tr]] = True
    masks[1][order[n_tr:n_tr + n_va]] = True
    masks[2][order[n_tr + n_va:]] = True
    return masks[0], masks[1], masks[2]


# ----------------------------------------------------------------------------- two-clique digits
def two_cliques(size: int = 16) -> np.ndarray:
    """Two ``size``-cliques joined by one edge (last vertex of the first to first of the second)."""
    a = np.zeros((2 * size, 2 * size), dtype=np.int64)
    a[:size, :size] = 1
    a[size:, size:] = 1
    np.fill_diagonal(a, 0)
    a[size - 1, size] = a[size, size - 1] = 1
    return a


def arrangement(kind: str, size: int = 16) -> np.ndarray:
    """Vertex -> (image, patch) placement of two images on :func:`two_cliques`, shape (2*size, 2).

    ``"low"``: image 0 fills clique 1 and image 1 fills clique 2 (few walks cross the partition).
    ``"high"``: even vertices of each clique carry image 0, odd ones image 1; clique 1 gets the
    first half of each image's patches, clique 2 the second (every vertex is on the boundary).
    """
    if kind not in ("low", "high"):
        raise ValueError(f"kind must be 'low' or 'high', got {kind!r}")
    v = np.arange(2 * size)
    if kind == "low":
        return np.stack([v // size, v % size], 1)
    half = size // 2
    return np.stack([v % 2, (v // size) * half + (v % size) // 2], 1)


load_digits = digits.load  # the loader lives in theorylab.data.digits; kept here for old call sites


def digit_pairs(n_pairs: int, kind: str, gen: np.random.Generator) -> tuple[Tensor, Tensor]:
    """Is-same-class pairs of 8x8 sklearn digits (half same class), 16 patches of 4 pixels each,
    placed on :func:`two_cliques` by :func:`arrangement`. Returns x (n_pairs, 32, 4), y (n_pairs,)."""
    images, target = load_digits()
    first = gen.integers(len(images), size=n_pairs)
    same = gen.random(n_pairs) < 0.5
    by_class = [np.flatnonzero(target == c) for c in range(10)]
    second = np.empty(n_pairs, dtype=np.int64)
    for i in range(n_pairs):
        c = target[first[i]] if same[i] else (target[first[i]] + gen.integers(1, 10)) % 10
        second[i] = gen.choice(by_class[c])
    patches = np.stack([images[first], images[second]], 1).reshape(n_pairs, 2, 16, 4)
    place = arrangement(kind)
    x = patches[:, place[:, 0], place[:, 1]]  # (n_pairs, 32, 4)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(same, dtype=torch.long)


# ----------------------------------------------------------------------------- batched models
def normalized_adjacency(adj: np.ndarray) -> Tensor:
    r""":math:`\tilde D^{-1/2}(A + I)\tilde D^{-1/2}` as a dense float32 tensor."""
    a = graphs.as_adjacency(adj).astype(np.float64) + np.eye(len(adj))
    d = 1.0 / np.sqrt(a.sum(1))
    return torch.tensor(d[:, None] * a * d[None, :], dtype=torch.float32)


class _SymmetricSpMM(torch.autograd.Function):
    """y = P z for a symmetric sparse P: the backward is P^T g = P g, one more sparse product.

    torch's generic backward of a sparse-dense product transposes P at every call; with P
    symmetric that work is wasted, and it was the slowest step of the removal sweep."""

    @staticmethod
    def forward(ctx, big: Tensor, z: Tensor) -> Tensor:  # type: ignore[override]
        ctx.big = big
        return big @ z

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor]:  # type: ignore[override]
        return None, ctx.big @ grad


def block_propagator(adjs: list[np.ndarray], kind: str,
                     device: str | torch.device = "cpu") -> Callable[[Tensor], Tensor]:
    """Map (B, n, d) -> (B, n, d) applying each model's own graph through one sparse block-diagonal
    product: P_b (GCN) or A_b + I (GIN). Both are symmetric, which the backward pass uses."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    b, n = len(adjs), len(adjs[0])
    rows, cols, vals = [], [], []
    for i, a in enumerate(adjs):  # sparse from the start: a dense block-diagonal would be (Bn)^2
        block = normalized_adjacency(a) if kind == "gcn" else torch.tensor(
            graphs.as_adjacency(a) + np.eye(n), dtype=torch.float32)
        r, c = torch.nonzero(block, as_tuple=True)
        rows.append(r + i * n)
        cols.append(c + i * n)
        vals.append(block[r, c])
    big = torch.sparse_coo_tensor(torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals),
                                  (b * n, b * n), check_invariants=True).coalesce()
    with warnings.catch_warnings():  # CSR is "beta" in torch; its sparse-dense product is ~5x faster
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        big = big.to_sparse_csr().to(device)

    def propagate(h: Tensor) -> Tensor:
        return _SymmetricSpMM.apply(big, h.reshape(b * n, -1)).reshape(b, n, -1)
    return propagate


@dataclass(frozen=True)
class GNNConfig:
    """Architecture and optimiser of a batch of GNNs."""
    kind: str = "gcn"
    width: int = 64
    depth: int = 3
    lr: float = 5e-3
    weight_decay: float = 5e-4
    epochs: int = 200
    eval_every: int = 10


class BatchedGNN(torch.nn.Module):
    """B independent GCN/GIN networks with LayerNorm; last layer linear to ``n_out`` logits."""

    def __init__(self, n_models: int, d_in: int, n_out: int, cfg: GNNConfig, gen: torch.Generator):
        super().__init__()
        if cfg.kind not in KINDS:
            raise ValueError(f"cfg.kind must be one of {KINDS}, got {cfg.kind!r}")
        self.kind, dims = cfg.kind, [d_in] + [cfg.width] * cfg.depth

        def glorot(fan_in: int, fan_out: int) -> torch.nn.Parameter:
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            w = (torch.rand(n_models, fan_in, fan_out, generator=gen) * 2 - 1) * bound
            return torch.nn.Parameter(w)
        self.w = torch.nn.ParameterList([glorot(i, o) for i, o in zip(dims[:-1], dims[1:])])
        self.w2 = torch.nn.ParameterList([glorot(o, o) for o in dims[1:]] if cfg.kind == "gin" else [])
        self.gain = torch.nn.Parameter(torch.ones(cfg.depth, n_models, 1, cfg.width))
        self.shift = torch.nn.Parameter(torch.zeros(cfg.depth, n_models, 1, cfg.width))
        self.head = glorot(cfg.width, n_out)

    def embed(self, x: Tensor, propagate: Callable[[Tensor], Tensor], px: Tensor | None = None) -> Tensor:
        """x: (B, n, d_in) -> vertex embeddings (B, n, width); ``propagate`` acts on (B, n, d).

        ``px = propagate(x)``, when the input is fixed and it was computed once: the first layer
        then needs no propagation, since P (X W) = (P X) W for GCN and GIN alike.
        """
        h = x
        for layer, w in enumerate(self.w):
            ph = px if layer == 0 and px is not None else None  # P h, if known
            if self.kind == "gcn":
                h = ph @ w if ph is not None else propagate(h @ w)
            else:
                h = torch.relu((ph if ph is not None else propagate(h)) @ w) @ self.w2[layer]
            h = torch.nn.functional.layer_norm(h, h.shape[-1:])
            h = torch.relu(h * self.gain[layer] + self.shift[layer])
        return h


def train_vertex_classifiers(adjs: list[np.ndarray], x: np.ndarray, labels: np.ndarray,
                             masks: tuple[Tensor, Tensor, Tensor], cfg: GNNConfig,
                             gen: torch.Generator, device: str | torch.device = "cpu") -> np.ndarray:
    """Train one GNN per graph in ``adjs`` (same features and labels) for vertex classification.

    Full-batch Adam; every ``eval_every`` epochs the validation accuracy picks the checkpoint.
    Returns: (B,) test accuracy at the best validation epoch of each model.
    """
    b = len(adjs)
    propagate = block_propagator(adjs, cfg.kind, device)
    xb = torch.tensor(x, dtype=torch.float32, device=device).expand(b, -1, -1)
    y = torch.tensor(labels, device=device)
    train, val, test = (mk.to(device) for mk in masks)
    model = BatchedGNN(b, x.shape[1], int(labels.max()) + 1, cfg, gen).to(device)  # init on CPU: seeded
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best_val, best_test = torch.full((b,), -1.0, device=device), torch.zeros(b, device=device)
    pxb = propagate(xb)  # the input is fixed: propagate it once, not at every epoch
    for epoch in range(cfg.epochs):
        logits = model.embed(xb, propagate, pxb) @ model.head  # (B, n, classes)
        loss = torch.nn.functional.cross_entropy(logits[:, train].transpose(1, 2), y[train].expand(b, -1))
        opt.zero_grad()
        (loss * b).backward()  # sum over models: each model sees its own mean loss
        opt.step()
        if (epoch + 1) % cfg.eval_every == 0:
            with torch.no_grad():
                correct = (logits.argmax(-1) == y).float()
                acc_val, acc_test = correct[:, val].mean(1), correct[:, test].mean(1)
                better = acc_val > best_val
                best_val = torch.where(better, acc_val, best_val)
                best_test = torch.where(better, acc_test, best_test)
    return best_test.cpu().numpy()


def train_graph_classifiers(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor,
                            adj: np.ndarray, cfg: GNNConfig, gen: torch.Generator,
                            batch_size: int = 500, device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Train B graph classifiers (mean readout) on one shared graph; model b sees data x_*[b].

    Args: x_train (B, N, n, d), y_train (B, N); likewise test. Returns (train_acc, test_acc), (B,).
    """
    b, n_train = y_train.shape
    p = normalized_adjacency(adj) if cfg.kind == "gcn" else torch.tensor(adj + np.eye(len(adj)), dtype=torch.float32)
    p, x_train, y_train, x_test, y_test = (t.to(device) for t in (p, x_train, y_train, x_test, y_test))

    def propagate(h: Tensor) -> Tensor:
        return torch.einsum("ij,bjd->bid", p, h.reshape(-1, *h.shape[-2:])).reshape(h.shape[:-1] + (-1,))

    model = BatchedGNN(b, x_train.shape[-1], 2, cfg, gen).to(device)  # init on CPU: seeded
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def logits(x: Tensor, px: Tensor) -> Tensor:  # px = propagate(x), (B, N, n, d)
        h = model.embed(x.flatten(1, 2), lambda z: propagate(z.reshape(x.shape[:3] + (-1,))).flatten(1, 2),
                        px.flatten(1, 2))
        return h.reshape(x.shape[:3] + (-1,)).mean(2) @ model.head  # (B, N, 2)
    px_train, px_test = propagate(x_train), propagate(x_test)  # inputs are fixed: propagate them once
    for _ in range(cfg.epochs):
        order = torch.randperm(n_train, generator=gen).to(device)
        for start in range(0, n_train, batch_size):
            idx = order[start:start + batch_size]
            out = logits(x_train[:, idx], px_train[:, idx])
            loss = torch.nn.functional.cross_entropy(out.transpose(1, 2), y_train[:, idx]) * b
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = [(logits(x, px).argmax(-1) == y).float().mean(1).cpu().numpy()
               for x, px, y in ((x_train, px_train, y_train), (x_test, px_test, y_test))]
    return acc[0], acc[1]


# ----------------------------------------------------------------------------- the removal sweep
REMOVAL_METHODS = ("1-WIS", "2-WIS", "random", "spectral")


def removal_order(adj: np.ndarray, method: str, n_remove: int, gen: np.random.Generator) -> np.ndarray:
    """The first ``n_remove`` edges that ``method`` removes, in order (greedy: prefixes nest)."""
    if method == "1-WIS":
        return graphs.one_wis(adj, n_remove)
    if method == "2-WIS":
        return graphs.wis(adj, 3, n_remove)
    if method == "random":
        return graphs.random_removal(adj, n_remove, gen)
    if method == "spectral":
        return graphs.spectral_removal(adj, n_remove, gen)
    raise ValueError(f"method must be one of {REMOVAL_METHODS}, got {method!r}")


@dataclass(frozen=True)
class SBMConfig:
    """DC-SBM graph, weak features and the label split of the sparsification experiment."""
    n: int = 600
    n_classes: int = 4
    avg_degree: float = 6.0
    alpha: float = 2.2
    in_out_ratio: float = 20.0
    dim: int = 16
    snr: float = 0.25
    train: float = 0.5
    val: float = 0.2


def removal_sweep(data: SBMConfig, fractions: list[float], methods: tuple[str, ...], model: GNNConfig,
                  gen: np.random.Generator, tgen: torch.Generator,
                  device: str | torch.device = "cpu") -> "pd.DataFrame":
    """One DC-SBM draw; remove each fraction of its edges by each method; train one GNN per
    (method, fraction) plus the full graph, all in one batch.

    Returns: tidy frame with columns method, fraction, accuracy, newly_isolated, min_degree.
    Fraction 0 (the full graph) is shared by all methods.
    """
    import pandas as pd

    g_graph, g_feat, g_split, g_order = gen.spawn(4)
    adj, labels = dcsbm(data.n, data.n_classes, data.avg_degree, data.alpha, data.in_out_ratio, g_graph)
    x = class_features(labels, data.dim, data.snr, g_feat)
    masks = split_masks(data.n, (data.train, data.val), g_split)
    m = int(adj.sum() // 2)
    counts = [int(round(f * m)) for f in fractions]
    rows, adjs = [dict(method=meth, fraction=0.0) for meth in methods], [adj]
    for meth in methods:
        order = removal_order(adj, meth, max(counts), g_order)
        for f, k in zip(fractions, counts):
            adjs.append(graphs.remove_edges(adj, order[:k]).astype(np.int8))  # 77 graphs of 2000^2 in full
            rows.append(dict(method=meth, fraction=f))
    acc = train_vertex_classifiers(adjs, x, labels, masks, model, tgen, device)
    isolated0 = adj.sum(1) == 0
    for i, row in enumerate(rows):
        a = adjs[max(i - len(methods) + 1, 0)]
        row.update(accuracy=float(acc[max(i - len(methods) + 1, 0)]),
                   newly_isolated=int(((a.sum(1) == 0) & ~isolated0).sum()), min_degree=int(a.sum(1).min()))
    return pd.DataFrame(rows)
