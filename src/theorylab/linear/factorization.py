r"""Deep matrix factorization: a depth-N linear network trained by gradient descent from small init.

The model is the end-to-end matrix of N square factors,

.. math::  W = W_N W_{N-1} \cdots W_1, \qquad W_j \in \mathbb{R}^{d \times d},

trained on the matrix-completion loss over the observed entries :math:`\Omega`,

.. math::  \ell(W) = \frac{d^2}{2|\Omega|} \sum_{(i,j) \in \Omega} (W_{ij} - M_{ij})^2,

normalised so that its average over random masks is :math:`\tfrac12 \|W - M\|_F^2`; with every
entry observed it *is* that. Gradient descent with step ``lr`` follows gradient flow in the time
:math:`t = \text{lr} \cdot \text{step}`. With balanced factors the end-to-end matrix obeys

.. math::  \dot W = -\sum_{j=1}^{N} (W W^\top)^{\frac{N-j}{N}} \, \nabla\ell(W) \, (W^\top W)^{\frac{j-1}{N}},

and each singular value :math:`\sigma_r` (left/right singular vectors :math:`u_r, v_r`) obeys

.. math::  \dot\sigma_r = -N \sigma_r^{2 - 2/N} \langle \nabla\ell(W), u_r v_r^\top \rangle .

References: Arora, Cohen & Hazan (2018) for the end-to-end equation; Arora, Cohen, Hu & Luo (2019)
for the singular values; Cohen & Razin (2024), lecture notes on linear neural networks. The
effective rank is that of Roy & Vetterli (2007).

Every tensor carries a leading batch axis ``S`` (one problem and one initialisation per seed), so a
whole sweep over seeds is a handful of batched matrix products. All math is in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from scipy.integrate import quad, solve_ivp
from torch import Tensor

from ..runtime import require_generators, require_float, require_int

DTYPE = torch.float64


# ----------------------------------------------------------------------------- problems and inits

def random_orthogonal(d: int, gen: torch.Generator) -> Tensor:
    """A Haar-distributed (d, d) orthogonal matrix (QR of a Gaussian matrix, signs fixed by R's diagonal)."""
    d = require_int("d", d, minimum=1)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=DTYPE))
    return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


def low_rank_target(d: int, singular_values: Sequence[float], gens: Sequence[torch.Generator]) -> Tensor:
    r"""Targets :math:`M = U \operatorname{diag}(s) V^\top` with Haar-random singular vectors.

    Args: d: side of the square target; singular_values: s_1 >= s_2 >= ... > 0 (at most d of them);
    gens: one generator per batch member. Returns: (S, d, d).
    """
    d = require_int("d", d, minimum=2)
    s = torch.as_tensor(singular_values, dtype=DTYPE)
    if s.ndim != 1 or not 1 <= len(s) <= d or bool((s <= 0).any()) or bool((s[1:] > s[:-1]).any()):
        raise ValueError(f"singular_values must be 1 to d={d} positive numbers in decreasing order; "
                         f"got {singular_values!r}")
    out = []
    for gen in require_generators("gens", gens):
        u, v = random_orthogonal(d, gen)[:, : len(s)], random_orthogonal(d, gen)[:, : len(s)]
        out.append((u * s) @ v.T)
    return torch.stack(out)


def observation_mask(d: int, n_observed: int, gens: Sequence[torch.Generator], *, order: int = 2) -> Tensor:
    """Uniformly random sets Omega of exactly ``n_observed`` of the d**order entries (a matrix by default;
    the tensor chapters use ``order`` > 2).

    Returns: (S, d, ..., d) float tensor, 1 on observed entries and 0 elsewhere.
    """
    order = require_int("order", order, minimum=2)
    d = require_int("d", d, minimum=1)
    n_observed = require_int("n_observed", n_observed, minimum=1, maximum=d**order)
    out = []
    for gen in require_generators("gens", gens):
        mask = torch.zeros(d**order, dtype=DTYPE)
        mask[torch.randperm(d**order, generator=gen)[:n_observed]] = 1.0
        out.append(mask.reshape((d,) * order))
    return torch.stack(out)


def balanced_init(d: int, depth: int, scale: float, gens: Sequence[torch.Generator]) -> list[Tensor]:
    r"""Factors :math:`W_j = \alpha O_j` with independent Haar-orthogonal :math:`O_j`.

    They are exactly balanced, :math:`W_{j+1}^\top W_{j+1} = W_j W_j^\top = \alpha^2 I`, and the
    end-to-end matrix starts with all singular values equal to :math:`\alpha^N`.
    Returns: ``depth`` tensors of shape (S, d, d), ``W_1`` first.
    """
    depth = require_int("depth", depth, minimum=1)
    scale = require_float("scale", scale, low=0.0, low_open=True)
    gens = require_generators("gens", gens)
    return [torch.stack([scale * random_orthogonal(d, g) for g in gens]) for _ in range(depth)]


def gaussian_init(d: int, depth: int, scale: float, gens: Sequence[torch.Generator]) -> list[Tensor]:
    r"""Independent factors with i.i.d. :math:`\mathcal N(0, \alpha^2/d)` entries: small but not balanced."""
    d = require_int("d", d, minimum=1)
    depth = require_int("depth", depth, minimum=1)
    scale = require_float("scale", scale, low=0.0, low_open=True)
    gens = require_generators("gens", gens)
    return [torch.stack([scale * torch.randn(d, d, generator=g, dtype=DTYPE) / d**0.5 for g in gens])
            for _ in range(depth)]


# ----------------------------------------------------------------------------- model and loss
def end_to_end(factors: Sequence[Tensor]) -> Tensor:
    """W = W_N ... W_1 for factors given as [W_1, ..., W_N], each (S, d, d). Returns: (S, d, d)."""
    if len(factors) == 0:
        raise ValueError("factors must hold at least one matrix")
    w = factors[0]
    for f in factors[1:]:
        w = f @ w
    return w


def loss(w: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r""":math:`\ell(W) = \frac{d^2}{2|\Omega|}\sum_\Omega (W-M)_{ij}^2` per batch member. Returns: (S,)."""
    weight = mask[0].numel() / mask.sum(dim=(-2, -1))
    return 0.5 * weight * (mask * (w - target) ** 2).sum(dim=(-2, -1))


def loss_grad(w: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r""":math:`\nabla \ell(W) = \frac{d^2}{|\Omega|} P_\Omega(W - M)`. Returns: (S, d, d)."""
    weight = mask[0].numel() / mask.sum(dim=(-2, -1))
    return weight[:, None, None] * mask * (w - target)


def test_error(w: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r"""Relative error on the unobserved entries,
    :math:`\|P_{\Omega^c}(W-M)\|_F / \|P_{\Omega^c}(M)\|_F`. Returns: (S,)."""
    hidden = 1.0 - mask
    error = torch.linalg.norm(hidden * (w - target), dim=(-2, -1))
    return error / torch.linalg.norm(hidden * target, dim=(-2, -1))


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class Trajectory:
    """Snapshots of a gradient-descent run. t: (R,) flow times lr*step; w: (R, S, d, d); loss: (R, S)."""

    t: np.ndarray
    w: Tensor
    loss: Tensor
    depth: int

    def singular_values(self) -> Tensor:
        """Singular values of every snapshot, largest first. Returns: (R, S, d)."""
        return torch.linalg.svdvals(self.w)


def train(factors: Sequence[Tensor], target: Tensor, mask: Tensor, *, lr: float, n_steps: int,
          record_every: int) -> Trajectory:
    r"""Full-batch gradient descent on all factors at once, recording W every ``record_every`` steps.

    The factor gradients are the chain rule written out,
    :math:`\nabla_{W_j} = (W_N \cdots W_{j+1})^\top \nabla\ell(W) (W_{j-1} \cdots W_1)^\top`.
    The input factors are not modified.
    """
    lr = require_float("lr", lr, low=0.0, low_open=True)
    n_steps = require_int("n_steps", n_steps, minimum=1)
    record_every = require_int("record_every", record_every, minimum=1)
    factors = [f.clone() for f in factors]
    if not factors or any(f.shape != target.shape for f in factors) or mask.shape != target.shape:
        raise ValueError("factors, target and mask must all have the same (S, d, d) shape")
    ws, losses, ts = [], [], []
    for step in range(n_steps + 1):
        prefix = [None]  # prefix[j] = W_j ... W_1
        for f in factors:
            prefix.append(f if prefix[-1] is None else f @ prefix[-1])
        w = prefix[-1]
        if step % record_every == 0 or step == n_steps:
            ws.append(w.clone())
            losses.append(loss(w, target, mask))
            ts.append(lr * step)
        if step == n_steps:
            break
        back = loss_grad(w, target, mask)  # (W_N ... W_{j+1})^T grad, built from the top down
        grads = [None] * len(factors)
        for j in range(len(factors) - 1, -1, -1):
            grads[j] = back if j == 0 else back @ prefix[j].transpose(-2, -1)
            back = factors[j].transpose(-2, -1) @ back
        for f, g in zip(factors, grads):
            f.sub_(lr * g)
    return Trajectory(np.asarray(ts), torch.stack(ws), torch.stack(losses), len(factors))


def simulate(target: Tensor, mask: Tensor, *, depth: int, scale: float, gens: Sequence[torch.Generator],
             lr: float, t_end: float, record_every: int | None = None, init: str = "balanced") -> Trajectory:
    """Initialise ``depth`` factors at scale ``scale`` (one generator per batch member) and run
    gradient descent up to flow time ``t_end``; by default only the first and last W are recorded.

    ``init`` is ``"balanced"`` (:func:`balanced_init`) or ``"gaussian"`` (:func:`gaussian_init`).
    The factors are created on the CPU and moved to ``target``'s device.
    """
    t_end = require_float("t_end", t_end, low=0.0, low_open=True)
    lr = require_float("lr", lr, low=0.0, low_open=True)
    make = {"balanced": balanced_init, "gaussian": gaussian_init}.get(init)
    if make is None:
        raise ValueError(f"init must be 'balanced' or 'gaussian'; got {init!r}")
    n_steps = max(1, round(t_end / lr))
    factors = [f.to(target.device) for f in make(target.shape[-1], depth, scale, gens)]
    return train(factors, target, mask, lr=lr, n_steps=n_steps,
                 record_every=n_steps if record_every is None else record_every)


# ----------------------------------------------------------------------------- the dynamics (theory)
def _psd_power(a: Tensor, p: float) -> Tensor:
    """a**p for symmetric PSD a (batched), via eigh; tiny negative eigenvalues are clamped to 0."""
    lam, q = torch.linalg.eigh(a)
    return (q * lam.clamp(min=0.0).pow(p).unsqueeze(-2)) @ q.transpose(-2, -1)


def end_to_end_velocity(w: Tensor, grad: Tensor, depth: int) -> Tensor:
    r"""Right-hand side of the end-to-end equation,
    :math:`-\sum_{j=1}^N (WW^\top)^{(N-j)/N} \nabla\ell(W) (W^\top W)^{(j-1)/N}`. Returns: (S, d, d)."""
    depth = require_int("depth", depth, minimum=1)
    wwt, wtw = w @ w.transpose(-2, -1), w.transpose(-2, -1) @ w
    out = torch.zeros_like(w)
    for j in range(1, depth + 1):
        left = _psd_power(wwt, (depth - j) / depth) if j < depth else None
        right = _psd_power(wtw, (j - 1) / depth) if j > 1 else None
        term = grad if left is None else left @ grad
        out -= term if right is None else term @ right
    return out


def singular_value_velocity(w: Tensor, grad: Tensor, depth: int, k: int) -> Tensor:
    r"""Right-hand side of the singular-value equation for the top ``k`` singular values,
    :math:`\dot\sigma_r = -N \sigma_r^{2-2/N} u_r^\top \nabla\ell(W) v_r`. Returns: (S, k)."""
    depth = require_int("depth", depth, minimum=1)
    k = require_int("k", k, minimum=1, maximum=w.shape[-1])
    u, s, vh = torch.linalg.svd(w)
    proj = torch.einsum("...ir,...ij,...rj->...r", u[..., :k], grad, vh[..., :k, :])
    return -depth * s[..., :k].pow(2.0 - 2.0 / depth) * proj


def effective_rank(w: Tensor) -> Tensor:
    r"""Effective rank of Roy & Vetterli (2007): the exponential of the entropy of the normalised
    singular values, :math:`\exp(-\sum_i p_i \ln p_i)` with :math:`p_i = \sigma_i / \sum_j \sigma_j`.

    It lies between 1 and rank(W) and equals r for r equal nonzero singular values; it is undefined
    (NaN) for W = 0. Returns: (...,) for w of shape (..., m, n).
    """
    s = torch.linalg.svdvals(w)
    p = s / s.sum(dim=-1, keepdim=True)
    return torch.exp(-torch.special.xlogy(p, p).sum(dim=-1))


def aligned_flow(t: np.ndarray, s: Sequence[float], sigma0: float, depth: int) -> np.ndarray:
    r"""Theory twin of the singular-value trajectories: all entries observed and W(0) aligned with M,
    so that each :math:`\sigma_r` solves :math:`\dot\sigma = N\sigma^{2-2/N}(s_r - \sigma)`,
    :math:`\sigma(0)=\sigma_0`. Integrated in :math:`x=\ln\sigma` for accuracy. Returns: (len(t), len(s))."""
    depth = require_int("depth", depth, minimum=1)
    sigma0 = require_float("sigma0", sigma0, low=0.0, low_open=True)
    if len(s) == 0 or any(not s_r > sigma0 for s_r in s):
        raise ValueError(f"s must be a non-empty sequence of targets above sigma0={sigma0}; got {s!r}")
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size == 0 or bool((t < 0).any()):
        raise ValueError("t must be a non-empty 1-D array of times >= 0")
    cols = []
    for s_r in s:
        rhs = lambda _, x: depth * np.exp(x * (1 - 2 / depth)) * (s_r - np.exp(x))  # noqa: E731
        sol = solve_ivp(rhs, (0.0, float(t.max())), [np.log(sigma0)], t_eval=t, method="LSODA",
                        rtol=1e-10, atol=1e-12)
        cols.append(np.exp(sol.y[0]))
    return np.stack(cols, axis=1)


def aligned_learning_time(s: float, sigma0: float, depth: int, level: float = 0.5) -> float:
    r"""Time for the aligned flow to go from :math:`\sigma_0` to ``level`` :math:`\cdot s`:
    :math:`\int_{\ln\sigma_0}^{\ln(\text{level}\, s)} \frac{dx}{N\sigma^{1-2/N}(s-\sigma)}`, :math:`\sigma=e^x`."""
    depth = require_int("depth", depth, minimum=1)
    level = require_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    if not 0.0 < sigma0 < level * s:
        raise ValueError(f"sigma0 must lie in (0, level*s) = (0, {level * s}); got {sigma0!r}")
    integrand = lambda x: 1.0 / (depth * np.exp(x * (1 - 2 / depth)) * (s - np.exp(x)))  # noqa: E731
    return float(quad(integrand, np.log(sigma0), np.log(level * s), limit=200)[0])


# ----------------------------------------------------------------------------- measurements
def learning_times(t: np.ndarray, sv: Tensor, s: Sequence[float], level: float = 0.5) -> np.ndarray:
    """First time sigma_r reaches ``level`` * s_r (linear interpolation between records; NaN if never).

    Args: t: (R,); sv: (R, S, >=k) singular values; s: the k target values. Returns: (S, k).
    """
    level = require_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    if sv.ndim != 3 or sv.shape[0] != len(t) or sv.shape[2] < len(s):
        raise ValueError(f"sv must have shape (len(t), S, >= len(s)); got {tuple(sv.shape)}")
    sv = sv.detach().cpu().numpy()
    out = np.full((sv.shape[1], len(s)), np.nan)
    for r, s_r in enumerate(s):
        above = sv[:, :, r] >= level * s_r
        for b in range(sv.shape[1]):
            hits = np.flatnonzero(above[:, b])
            if hits.size and hits[0] > 0:
                i = hits[0]
                y0, y1 = sv[i - 1, b, r], sv[i, b, r]
                out[b, r] = t[i - 1] + (level * s_r - y0) / (y1 - y0) * (t[i] - t[i - 1])
    return out


def velocity_table(traj: Trajectory, target: Tensor, mask: Tensor, k: int, at: Sequence[int]) -> pd.DataFrame:
    r"""Measured :math:`\dot\sigma_r` (central difference of the recorded trajectory) beside the
    equation's right-hand side, at record indices ``at``.

    Returns: tidy frame with columns t, r (1-based), seed (batch index), measured, predicted, rel_error
    (per singular value) and vec_rel_error (of the k-vector of velocities at that t and seed).
    """
    sv = traj.singular_values()
    rows = []
    for i in at:
        if not 0 < i < len(traj.t) - 1:
            raise ValueError(f"at must hold interior record indices in [1, {len(traj.t) - 2}]; got {i}")
        measured = (sv[i + 1, :, :k] - sv[i - 1, :, :k]) / (traj.t[i + 1] - traj.t[i - 1])
        w = traj.w[i]
        predicted = singular_value_velocity(w, loss_grad(w, target, mask), traj.depth, k)
        for b in range(w.shape[0]):
            for r in range(k):
                m, p = float(measured[b, r]), float(predicted[b, r])
                rows.append(dict(t=traj.t[i], r=r + 1, seed=b, measured=m, predicted=p,
                                 rel_error=abs(m - p) / abs(p)))
    table = pd.DataFrame(rows)
    # error of the whole velocity vector (sigma_1..sigma_k) at one time: robust where one sigma_r is at rest
    err = (table.measured - table.predicted) ** 2
    num = err.groupby([table.t, table.seed]).transform("sum")
    den = (table.predicted ** 2).groupby([table.t, table.seed]).transform("sum")
    table["vec_rel_error"] = np.sqrt(num / den)
    return table


def trajectory_frame(traj: Trajectory, k: int, stride: int = 1) -> pd.DataFrame:
    """The top ``k`` singular values of every ``stride``-th snapshot as a tidy frame (t, r, seed, sigma)."""
    k = require_int("k", k, minimum=1, maximum=traj.w.shape[-1])
    stride = require_int("stride", stride, minimum=1)
    sv = traj.singular_values()[::stride, :, :k].cpu().numpy()  # (R', S, k)
    t = traj.t[::stride]
    n_t, n_s, _ = sv.shape
    return pd.DataFrame({"t": np.repeat(t, n_s * k), "seed": np.tile(np.repeat(np.arange(n_s), k), n_t),
                         "r": np.tile(np.arange(1, k + 1), n_t * n_s), "sigma": sv.reshape(-1)})


def end_to_end_table(traj: Trajectory, target: Tensor, mask: Tensor, at: Sequence[int]) -> pd.DataFrame:
    r"""Measured :math:`\dot W` (central difference of the recorded trajectory) against the right-hand
    side of the end-to-end equation (:func:`end_to_end_velocity`), at record indices ``at``.

    Returns: tidy frame with columns t, seed (batch index) and rel_error
    :math:`\|\dot W_{\text{measured}} - \dot W_{\text{theory}}\|_F / \|\dot W_{\text{theory}}\|_F`.
    """
    rows = []
    for i in at:
        if not 0 < i < len(traj.t) - 1:
            raise ValueError(f"at must hold interior record indices in [1, {len(traj.t) - 2}]; got {i}")
        measured = (traj.w[i + 1] - traj.w[i - 1]) / (traj.t[i + 1] - traj.t[i - 1])
        w = traj.w[i]
        predicted = end_to_end_velocity(w, loss_grad(w, target, mask), traj.depth)
        err = torch.linalg.norm(measured - predicted, dim=(-2, -1)) / torch.linalg.norm(predicted, dim=(-2, -1))
        rows += [dict(t=traj.t[i], seed=b, rel_error=float(e)) for b, e in enumerate(err)]
    return pd.DataFrame(rows)
