r"""Synthetic data whose label lives in a local pattern: AR(1) chains with a planted template.

Each sample is a stationary AR(1) chain :math:`x_t = a x_{t-1} + \sqrt{1-a^2}\,\varepsilon_t`
(unit variance, correlation :math:`a^{|t-s|}`). A positive sample (y = +1) carries a short
template :math:`u` added at a uniformly random position,

.. math::  x_{t_0 + k} \mathrel{+}= \text{amplitude} \cdot u_k, \qquad k = 0, \dots, |u| - 1,

so the label is a function of a few *adjacent* features: data that a locally connected network
suits, by construction (low entanglement under the canonical partitions). Permuting the features
scatters the template and raises the entanglement. Used in the chapter ``entanglement``
(Alexander et al., NeurIPS 2023, whose audio and image experiments this stands in for).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from theorylab import rng
from theorylab.data import digits
from theorylab.nets import models
from theorylab.structure import rearrange, tensors

__all__ = [
    "ChainConfig",
    "DigitsConfig",
    "balanced_subset",
    "chain_conditions",
    "chain_orders",
    "digits_binary",
    "digits_conditions",
    "scrambled_digits_conditions",
    "planted_chains",
    "ScrambledConfig",
]


def planted_chains(
    n_samples: int,
    n_features: int,
    *,
    gen: np.random.Generator,
    ar: float = 0.8,
    template: Sequence[float] = (1.0, 1.0, -1.0, -1.0, 1.0, 1.0),
    amplitude: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced samples of AR(1) chains, the positive half with a planted template.

    Args:
        n_samples: M (even numbers give exactly balanced classes).
        n_features: N, the chain length (>= len(template)).
        gen: the numpy generator (from ``theorylab.rng``).
        ar: the AR(1) coefficient a in (-1, 1).
        template: the local pattern u.
        amplitude: its scale.
    Returns:
        ``x`` (M, N) float64 and ``y`` (M,) in {-1, +1}, in random order.
    """
    tpl = np.asarray(template, dtype=np.float64)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    if tpl.ndim != 1 or tpl.size < 1:
        raise ValueError("template must be a non-empty 1-D sequence")
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < tpl.size:
        raise ValueError(f"n_features must be an int >= len(template) = {tpl.size}, got {n_features!r}")
    if not -1.0 < ar < 1.0:
        raise ValueError(f"ar must lie in (-1, 1), got {ar!r}")
    if not np.isfinite(amplitude):
        raise ValueError(f"amplitude must be finite, got {amplitude!r}")
    m, n = int(n_samples), int(n_features)
    eps = gen.standard_normal((m, n))
    x = np.empty((m, n))
    x[:, 0] = eps[:, 0]
    scale = np.sqrt(1.0 - ar**2)
    for t in range(1, n):
        x[:, t] = ar * x[:, t - 1] + scale * eps[:, t]
    y = np.where(np.arange(m) < m // 2, 1.0, -1.0)
    pos = np.flatnonzero(y > 0)
    start = gen.integers(0, n - tpl.size + 1, size=pos.size)
    cols = start[:, None] + np.arange(tpl.size)[None, :]
    x[pos[:, None], cols] += amplitude * tpl[None, :]
    order = gen.permutation(m)
    return x[order], y[order]


# ----------------------------------------------------------------------------- the experiment
@dataclass(frozen=True)
class ChainConfig:
    """Sizes of the swap / rearrangement experiment on planted chains (one profile's worth)."""

    n_features: int = 64
    n_train: int = 3000
    n_test: int = 1000
    n_entangle: int = 256  # M of the data tensor: a label-balanced subset of the training set
    ar: float = 0.8
    amplitude: float = 1.5
    template: tuple[float, ...] = (1.0, 1.0, -1.0, -1.0, 1.0, 1.0)
    swaps: tuple[int, ...] = (0, 16, 64, 256)
    theta: float = 0.5
    levels: tuple[int, ...] = (1, 2, 3, 4)
    cnn_width: int = 8
    cnn_depth: int = 2
    cnn_kernel: int = 5
    cnn_epochs: int = 8
    cnn_lr: float = 1e-2  # at 2e-3 about one replica in 100 stays at chance after 8 epochs
    mlp_hidden: tuple[int, ...] = (128, 128)
    mlp_epochs: int = 15
    mlp_inits: int = 2  # MLP replicas per (seed, order): its accuracy is noisier than the CNN's
    batch_size: int = 128


def balanced_subset(y: np.ndarray, m: int) -> np.ndarray:
    """Indices of the first m/2 positives and m/2 negatives (the data tensor's sample set).

    With exactly balanced labels the all-cosine component of the data tensor, proportional to
    the mean label, is zero up to the embedding, so QE does not fluctuate with the label balance
    of the subset.
    """
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y < 0)
    if m < 2 or m % 2 or min(pos.size, neg.size) < m // 2:
        raise ValueError(f"m must be even, >= 2 and at most twice the smaller class, got {m}")
    return np.concatenate([pos[: m // 2], neg[: m // 2]])


def chain_orders(x_train: np.ndarray, cfg: ChainConfig, gen: np.random.Generator) -> dict[str, np.ndarray]:
    """Feature orders of every condition, as permutations of the original features.

    ``swaps s``: s random transpositions; the largest is "fully permuted". ``rearranged``: the
    paper's recursive min-cut order computed from the fully permuted data; ``rearranged+orient``:
    the same with the children's directions fixed (see :func:`theorylab.structure.rearrange.feature_order`).
    """
    n = cfg.n_features
    orders = {f"swaps {s}": rearrange.random_swaps(n, s, gen=gen) for s in cfg.swaps}
    full = orders[f"swaps {max(cfg.swaps)}"]
    for name, orient in (("rearranged", False), ("rearranged+orient", True)):
        order = rearrange.feature_order(x_train[:, full], dims=1, seed=gen, orient=orient)
        orders[name] = full[order]
    return orders


def chain_conditions(seeds: Sequence[int], cfg: ChainConfig, *, base_seed: int, device: str = "cpu",
                     log: Callable[[str], None] = print) -> pd.DataFrame:
    """Entanglement, surrogate and CNN / MLP test accuracy for every condition and seed.

    Returns:
        one row per (seed, condition) with columns ``seed``, ``condition``, ``swaps`` (NaN for
        the rearranged orders), ``qe`` (mean QE over the canonical levels, nats), ``se`` (the
        canonical correlation surrogate), ``cnn`` and ``mlp`` (test accuracy; the MLP only on the
        original and fully permuted orders, averaged over ``cfg.mlp_inits`` initialisations) and
        ``cnn_train`` (the CNN's training accuracy: a replica below 0.6 there is stuck, an
        optimisation failure rather than a property of the feature order).
    """
    import torch

    rows, cnn_in, mlp_in, ys = [], [], [], []
    for seed in seeds:
        gen = rng.numpy(seed, "chains")
        x, y = planted_chains(cfg.n_train + cfg.n_test, cfg.n_features, gen=gen, ar=cfg.ar,
                              template=cfg.template, amplitude=cfg.amplitude)
        xtr = x[: cfg.n_train]
        orders = chain_orders(xtr, cfg, gen)
        sub = balanced_subset(y[: cfg.n_train], cfg.n_entangle)
        xs = tensors.scale_unit(xtr)[sub]
        for name, order in orders.items():
            qe = tensors.average_entanglement(xs[:, order], y[sub], levels=cfg.levels, theta=cfg.theta)
            se = rearrange.canonical_surrogate(xtr[:, order], levels=cfg.levels)
            swaps = float(name.split()[1]) if name.startswith("swaps") else np.nan
            rows.append(dict(seed=seed, condition=name, swaps=swaps, qe=qe, se=se))
            cnn_in.append(x[:, order])
            if name in ("swaps 0", f"swaps {max(cfg.swaps)}"):
                mlp_in += [x[:, order]] * cfg.mlp_inits
        ys.append(y)
        log(f"seed {seed}: data, orders and entanglement done")
    conds = len(rows) // len(seeds)
    y_rep = torch.tensor(np.repeat(np.stack(ys, 1), conds, axis=1), dtype=torch.float32, device=device)
    x_rep = torch.tensor(np.stack(cnn_in, 1), dtype=torch.float32, device=device)
    tgen = rng.torch(base_seed, "chains", "cnn")  # CPU: initialisation and batch order
    cnn = models.LocalCNN(x_rep.shape[1], gen=tgen, width=cfg.cnn_width, depth=cfg.cnn_depth,
                          kernel=cfg.cnn_kernel).to(device)
    tr = slice(0, cfg.n_train)
    te = slice(cfg.n_train, None)
    models.train_binary(cnn, x_rep[tr], y_rep[tr], gen=tgen, epochs=cfg.cnn_epochs, batch_size=cfg.batch_size,
                        lr=cfg.cnn_lr)
    acc = models.accuracy(cnn, x_rep[te], y_rep[te]).cpu().numpy()
    acc_train = models.accuracy(cnn, x_rep[tr], y_rep[tr]).cpu().numpy()
    log(f"CNN: {x_rep.shape[1]} replicas trained")
    y_mlp = torch.tensor(np.repeat(np.stack(ys, 1), 2 * cfg.mlp_inits, axis=1), dtype=torch.float32,
                         device=device)
    x_mlp = torch.tensor(np.stack(mlp_in, 1), dtype=torch.float32, device=device)
    tgen = rng.torch(base_seed, "chains", "mlp")
    mlp = models.MLP(x_mlp.shape[1], cfg.n_features, gen=tgen, hidden=cfg.mlp_hidden).to(device)
    models.train_binary(mlp, x_mlp[tr], y_mlp[tr], gen=tgen, epochs=cfg.mlp_epochs, batch_size=cfg.batch_size,
                        lr=3e-3)
    acc_mlp = models.accuracy(mlp, x_mlp[te], y_mlp[te]).cpu().numpy().reshape(-1, cfg.mlp_inits).mean(axis=1)
    log(f"MLP: {x_mlp.shape[1]} replicas trained")
    df = pd.DataFrame(rows)
    df["cnn"] = acc
    df["cnn_train"] = acc_train
    df["mlp"] = np.nan
    mlp_rows = df.index[df["condition"].isin(["swaps 0", f"swaps {max(cfg.swaps)}"])]
    df.loc[mlp_rows, "mlp"] = acc_mlp
    return df


# ----------------------------------------------------------------------------- real data: digits
@dataclass(frozen=True)
class DigitsConfig:
    """Sizes of the sklearn-digits arm (8 x 8 images, quad-tree partitions)."""

    n_train: int = 1200
    n_entangle: int = 256
    theta: float = 0.5
    levels: tuple[int, ...] = (1, 2)
    cnn_width: int = 16
    cnn_depth: int = 2
    cnn_kernel: int = 3
    cnn_epochs: int = 8
    lr: float = 5e-3
    batch_size: int = 64


def digits_binary() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8 x 8 digits (bundled, no download), pixels in [0, 1], y = +1 for digits >= 5."""
    images, labels = digits.load()
    return images, np.where(labels >= 5, 1.0, -1.0)


def digits_conditions(seeds: Sequence[int], cfg: DigitsConfig, *, base_seed: int, device: str = "cpu",
                      log: Callable[[str], None] = print) -> pd.DataFrame:
    """QE (quad-tree levels) and 2-D CNN accuracy on digits: original, permuted, rearranged pixels."""
    import torch

    x_all, y_all = digits_binary()
    rows, cnn_in, ys = [], [], []
    for seed in seeds:
        gen = rng.numpy(seed, "digits")
        split = gen.permutation(len(y_all))
        x, y = x_all[split], y_all[split]
        xtr = x[: cfg.n_train]
        perm = gen.permutation(64)
        order = rearrange.feature_order(xtr[:, perm], dims=2, seed=gen)
        sub = balanced_subset(y[: cfg.n_train], cfg.n_entangle)
        for name, o in (("original", np.arange(64)), ("permuted", perm), ("rearranged", perm[order])):
            qe = tensors.average_entanglement(xtr[sub][:, o], y[sub], dims=2, levels=cfg.levels,
                                              theta=cfg.theta)
            rows.append(dict(seed=seed, condition=name, qe=qe))
            cnn_in.append(x[:, o].reshape(-1, 8, 8))
        ys += [y] * 3
    x_rep = torch.tensor(np.stack(cnn_in, 1), dtype=torch.float32, device=device)
    y_rep = torch.tensor(np.stack(ys, 1), dtype=torch.float32, device=device)
    tgen = rng.torch(base_seed, "digits", "cnn")
    cnn = models.LocalCNN(x_rep.shape[1], gen=tgen, dims=2, width=cfg.cnn_width, depth=cfg.cnn_depth,
                          kernel=cfg.cnn_kernel).to(device)
    tr, te = slice(0, cfg.n_train), slice(cfg.n_train, None)
    models.train_binary(cnn, x_rep[tr], y_rep[tr], gen=tgen, epochs=cfg.cnn_epochs, batch_size=cfg.batch_size,
                        lr=cfg.lr)
    df = pd.DataFrame(rows)
    df["cnn"] = models.accuracy(cnn, x_rep[te], y_rep[te]).cpu().numpy()
    log(f"digits: {x_rep.shape[1]} CNN replicas trained")
    return df


# ----------------------------------------------------------------------------- no planted order
@dataclass(frozen=True)
class ScrambledConfig:
    """Sizes of the digits arm without a built-in order: pixels scrambled, read as a 1-D sequence."""

    n_train: int = 1200
    n_entangle: int = 256
    theta: float = 0.5
    levels: tuple[int, ...] = (1, 2, 3, 4)
    cnn_width: int = 16
    cnn_depth: int = 2
    cnn_kernel: int = 3
    cnn_epochs: int = 10
    lr: float = 1e-2
    batch_size: int = 64


def scrambled_digits_conditions(seeds: Sequence[int], cfg: ScrambledConfig, *, base_seed: int,
                                device: str = "cpu", log: Callable[[str], None] = print) -> pd.DataFrame:
    """Digits whose 64 pixels are scrambled and read as a sequence: random order against rearranged.

    No locality is planted here: each seed draws a random pixel order (the "scrambled" condition, a
    tabular data set with no meaningful order), and :func:`rearrange.feature_order` (1-D,
    ``orient=True``) reorders it from the training data only. Returns one row per (seed,
    condition) with the mean canonical QE (binary tree, ``cfg.levels``), the surrogate and the
    test and training accuracy of a 1-D CNN.
    """
    import torch

    x_all, y_all = digits_binary()
    rows, cnn_in, ys = [], [], []
    for seed in seeds:
        gen = rng.numpy(seed, "digits-1d")
        split = gen.permutation(len(y_all))
        x, y = x_all[split], y_all[split]
        xtr = x[: cfg.n_train]
        perm = gen.permutation(64)
        orders = {"scrambled": perm, "rearranged": perm[rearrange.feature_order(xtr[:, perm], dims=1, seed=gen,
                                                                                   orient=True)]}
        sub = balanced_subset(y[: cfg.n_train], cfg.n_entangle)
        for name, o in orders.items():
            qe = tensors.average_entanglement(xtr[sub][:, o], y[sub], levels=cfg.levels, theta=cfg.theta)
            se = rearrange.canonical_surrogate(xtr[:, o], levels=cfg.levels)
            rows.append(dict(seed=seed, condition=name, qe=qe, se=se))
            cnn_in.append(x[:, o])
        ys += [y] * 2
    x_rep = torch.tensor(np.stack(cnn_in, 1), dtype=torch.float32, device=device)
    y_rep = torch.tensor(np.stack(ys, 1), dtype=torch.float32, device=device)
    tgen = rng.torch(base_seed, "digits-1d", "cnn")
    cnn = models.LocalCNN(x_rep.shape[1], gen=tgen, dims=1, width=cfg.cnn_width, depth=cfg.cnn_depth,
                          kernel=cfg.cnn_kernel).to(device)
    tr, te = slice(0, cfg.n_train), slice(cfg.n_train, None)
    models.train_binary(cnn, x_rep[tr], y_rep[tr], gen=tgen, epochs=cfg.cnn_epochs, batch_size=cfg.batch_size,
                        lr=cfg.lr)
    df = pd.DataFrame(rows)
    df["cnn"] = models.accuracy(cnn, x_rep[te], y_rep[te]).cpu().numpy()
    df["cnn_train"] = models.accuracy(cnn, x_rep[tr], y_rep[tr]).cpu().numpy()
    log(f"scrambled digits: {x_rep.shape[1]} CNN replicas trained")
    return df
