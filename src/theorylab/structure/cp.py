r"""CP (tensor-rank) factorization trained by gradient descent, and the dynamics of its components.

An order-:math:`N` tensor of side :math:`d` is modelled as a sum of :math:`R` rank-one components,

.. math::  \mathcal W = \sum_{r=1}^R \mathcal W_r, \qquad
           \mathcal W_r = w_r^{1} \otimes w_r^{2} \otimes \cdots \otimes w_r^{N},
           \quad w_r^{n} \in \mathbb{R}^d ,

and fitted to the observed entries :math:`\Omega` of a target :math:`\mathcal W^*` with the
completion loss normalised as in :mod:`theorylab.linear.factorization`,

.. math::  \ell(\mathcal W) = \frac{d^N}{2|\Omega|} \sum_{I \in \Omega} (\mathcal W_I - \mathcal W^*_I)^2 .

Under gradient flow the norm of a component, :math:`\|\mathcal W_r\| = \prod_n \|w_r^n\|`, obeys the
exact identity (chain rule; the factor norms' squared differences are conserved)

.. math::  \frac{d}{dt}\|\mathcal W_r\| = \|\mathcal W_r\|^2 \Big(\sum_{n=1}^N \|w_r^n\|^{-2}\Big)
           \langle -\nabla\ell(\mathcal W), \widehat{\mathcal W}_r \rangle ,

which for balanced factors (:math:`\|w_r^n\| = \|\mathcal W_r\|^{1/N}`) is the law of
Razin, Maman & Cohen (ICML 2021, Theorem 1 with zero unbalancedness)

.. math::  \frac{d}{dt}\|\mathcal W_r\| = N \|\mathcal W_r\|^{2 - 2/N}
           \langle -\nabla\ell(\mathcal W), \widehat{\mathcal W}_r \rangle ,
           \qquad \widehat{\mathcal W}_r = \otimes_n w_r^n / \|w_r^n\| .

Near zero the gradient is the constant :math:`G_0 = -\nabla\ell(0) = \tfrac{d^N}{|\Omega|} P_\Omega(\mathcal W^*)`
and every component follows the *reduced flow* :math:`\dot w_r^n = G_0(w_r^1, .., \cdot, .., w_r^N)`,
homogeneous of degree :math:`N-1`: scaling the start by :math:`\lambda` scales its blow-up time by
:math:`\lambda^{2-N}` (:func:`reduced_blowup_time`). That is the small-init clock of the staircase.

Factors are stored as one tensor of shape (S, N, R, d): a batch of S problems (seeds), N modes,
R components. All math is in float64.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..linear.factorization import observation_mask as observation_mask_of
from ..runtime import require_float, require_generators, require_int

__all__ = [
    "DTYPE", "Trajectory", "activation_times", "balanced_init", "blowup_time_scaling", "component_norms",
    "crossing_times", "factor_grads", "loss", "loss_grad", "next_activation_time", "norm_velocity",
    "norm_velocity_exact", "observation_mask", "projections", "random_target", "reconstruct",
    "reduced_blowup_time", "train", "velocity_check",
]

DTYPE = torch.float64
_LETTERS = string.ascii_lowercase[:20]  # tensor modes; 's' and 'r' are avoided below


def _modes(order: int) -> list[str]:
    letters = [c for c in _LETTERS if c not in "sr"]
    if order > len(letters):
        raise ValueError(f"order must be at most {len(letters)}; got {order}")
    return letters[:order]


def _check_factors(factors: Tensor) -> tuple[int, int, int, int]:
    if not isinstance(factors, Tensor) or factors.ndim != 4:
        raise ValueError("factors must be a tensor of shape (S, N, R, d)")
    return tuple(factors.shape)  # type: ignore[return-value]


# ----------------------------------------------------------------------------- problems and inits
def random_target(order: int, d: int, norms: Sequence[float], gens: Sequence[torch.Generator]) -> Tensor:
    r"""Targets :math:`\mathcal W^* = \sum_k s_k\, u_k^1 \otimes \cdots \otimes u_k^N` with random unit
    vectors :math:`u_k^n` (Gaussian, normalised), so the k-th component has norm :math:`s_k` and the
    tensor has CP rank at most len(norms). Returns: (S, d, ..., d)."""
    order = require_int("order", order, minimum=2)
    d = require_int("d", d, minimum=2)
    s = torch.as_tensor(norms, dtype=DTYPE)
    if s.ndim != 1 or len(s) == 0 or bool((s <= 0).any()):
        raise ValueError(f"norms must be a non-empty sequence of positive numbers; got {norms!r}")
    out = []
    for gen in require_generators("gens", gens):
        u = torch.randn(order, len(s), d, generator=gen, dtype=DTYPE)
        u = u / torch.linalg.norm(u, dim=-1, keepdim=True)
        u[0] = u[0] * s[:, None]
        out.append(reconstruct(u.unsqueeze(0))[0])
    return torch.stack(out)


def observation_mask(order: int, d: int, n_observed: int, gens: Sequence[torch.Generator]) -> Tensor:
    """Uniformly random sets of exactly ``n_observed`` of the d**N entries; (S, d, ..., d), 1 = observed."""
    d = require_int("d", d, minimum=2)
    return observation_mask_of(d, n_observed, gens, order=order).to(DTYPE)


def balanced_init(order: int, rank: int, d: int, scale: float, gens: Sequence[torch.Generator]) -> Tensor:
    r"""Gaussian factors with i.i.d. :math:`\mathcal N(0, \text{scale}^2)` entries, then *balanced*: within
    each component every factor is rescaled to the geometric mean of the component's factor norms.
    Directions and :math:`\|\mathcal W_r\|` are those of the Gaussian draw. Returns: (S, N, R, d)."""
    order = require_int("order", order, minimum=2)
    rank = require_int("rank", rank, minimum=1)
    d = require_int("d", d, minimum=1)
    scale = require_float("scale", scale, low=0.0, low_open=True)
    f = torch.stack([scale * torch.randn(order, rank, d, generator=g, dtype=DTYPE)
                     for g in require_generators("gens", gens)])
    norms = torch.linalg.norm(f, dim=-1, keepdim=True)  # (S, N, R, 1)
    geo = torch.exp(torch.log(norms).mean(dim=1, keepdim=True))
    return f / norms * geo


# ----------------------------------------------------------------------------- model and loss
def reconstruct(factors: Tensor) -> Tensor:
    r""":math:`\mathcal W = \sum_r \otimes_n w_r^n` for factors (S, N, R, d). Returns: (S, d, ..., d)."""
    _, order, _, _ = _check_factors(factors)
    m = _modes(order)
    spec = ",".join(f"sr{c}" for c in m) + "->s" + "".join(m)
    return torch.einsum(spec, *factors.unbind(1))


def loss(w: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r""":math:`\ell = \frac{d^N}{2|\Omega|}\sum_\Omega (\mathcal W - \mathcal W^*)_I^2` per batch member. Returns: (S,)."""
    dims = tuple(range(1, w.ndim))
    weight = mask[0].numel() / mask.sum(dim=dims)
    return 0.5 * weight * (mask * (w - target) ** 2).sum(dim=dims)


def loss_grad(w: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r""":math:`\nabla\ell = \frac{d^N}{|\Omega|} P_\Omega(\mathcal W - \mathcal W^*)`. Returns: like w."""
    dims = tuple(range(1, w.ndim))
    weight = mask[0].numel() / mask.sum(dim=dims)
    return weight.reshape((-1,) + (1,) * len(dims)) * mask * (w - target)


def factor_grads(factors: Tensor, grad: Tensor) -> Tensor:
    r"""Chain rule: :math:`\partial\ell/\partial w_r^n = \nabla\ell(\mathcal W)` contracted with
    :math:`w_r^m` on every mode :math:`m \ne n`. Args: factors (S, N, R, d); grad (S, d, ..., d).
    Returns: (S, N, R, d)."""
    _, order, _, _ = _check_factors(factors)
    m = _modes(order)
    fs = factors.unbind(1)
    out = []
    for n in range(order):
        others = [k for k in range(order) if k != n]
        spec = "s" + "".join(m) + "," + ",".join(f"sr{m[k]}" for k in others) + f"->sr{m[n]}"
        out.append(torch.einsum(spec, grad, *(fs[k] for k in others)))
    return torch.stack(out, dim=1)


def component_norms(factors: Tensor) -> Tensor:
    r""":math:`\|\mathcal W_r\| = \prod_n \|w_r^n\|` (Frobenius norm of a rank-one tensor). Returns: (..., R)."""
    return torch.linalg.norm(factors, dim=-1).prod(dim=-2)


def projections(factors: Tensor, grad: Tensor) -> Tensor:
    r""":math:`\langle -\nabla\ell, \widehat{\mathcal W}_r\rangle` for every component. Returns: (S, R)."""
    _, order, _, _ = _check_factors(factors)
    m = _modes(order)
    units = factors / torch.linalg.norm(factors, dim=-1, keepdim=True)
    spec = "s" + "".join(m) + "," + ",".join(f"sr{c}" for c in m) + "->sr"
    return -torch.einsum(spec, grad, *units.unbind(1))


def norm_velocity(factors: Tensor, grad: Tensor, exponent: float | None = None) -> Tensor:
    r"""The balanced law :math:`N\|\mathcal W_r\|^{2-2/N}\langle -\nabla\ell, \widehat{\mathcal W}_r\rangle`.

    ``exponent`` replaces :math:`2-2/N` (to test rival laws). Reference: Razin, Maman & Cohen (2021),
    Theorem 1. Returns: (S, R)."""
    _, order, _, _ = _check_factors(factors)
    p = 2.0 - 2.0 / order if exponent is None else float(exponent)
    return order * component_norms(factors).pow(p) * projections(factors, grad)


def norm_velocity_exact(factors: Tensor, grad: Tensor) -> Tensor:
    r"""The identity for any (unbalanced) factors,
    :math:`\|\mathcal W_r\|^2 (\sum_n \|w_r^n\|^{-2}) \langle -\nabla\ell, \widehat{\mathcal W}_r\rangle`. Returns: (S, R)."""
    _check_factors(factors)
    inv = torch.linalg.norm(factors, dim=-1).pow(-2).sum(dim=1)
    return component_norms(factors).pow(2) * inv * projections(factors, grad)


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class Trajectory:
    """A gradient-descent run. t: (T,) flow times lr*step of the factor snapshots factors: (T, S, N, R, d)
    and losses loss: (T, S); t_fine: (T',) the times of every ``norm_every``-th step, with the
    component norms norms_fine: (T', S, R) (fine records make crossing times accurate)."""

    t: np.ndarray
    factors: Tensor
    loss: Tensor
    t_fine: np.ndarray
    norms_fine: Tensor

    def norms(self) -> Tensor:
        """Component norms of every factor snapshot. Returns: (T, S, R)."""
        return component_norms(self.factors)


def train(factors: Tensor, target: Tensor, mask: Tensor, *, lr: float, n_steps: int,
          record_every: int, norm_every: int = 1) -> Trajectory:
    """Full-batch gradient descent on all factors, every batch member at once; the input is not modified.

    Factors are recorded every ``record_every`` steps, component norms every ``norm_every`` steps."""
    lr = require_float("lr", lr, low=0.0, low_open=True)
    n_steps = require_int("n_steps", n_steps, minimum=1)
    record_every = require_int("record_every", record_every, minimum=1)
    norm_every = require_int("norm_every", norm_every, minimum=1)
    _check_factors(factors)
    if target.shape != mask.shape or target.shape[0] != factors.shape[0]:
        raise ValueError("target and mask must have shape (S, d, ..., d) with the factors' S")
    f = factors.clone()
    ts, fs, losses, t_fine, norms = [], [], [], [], []
    for step in range(n_steps + 1):
        w = reconstruct(f)
        if step % record_every == 0 or step == n_steps:
            ts.append(lr * step)
            fs.append(f.clone())
            losses.append(loss(w, target, mask))
        if step % norm_every == 0 or step == n_steps:
            t_fine.append(lr * step)
            norms.append(component_norms(f))
        if step == n_steps:
            break
        f -= lr * factor_grads(f, loss_grad(w, target, mask))
    return Trajectory(np.asarray(ts), torch.stack(fs), torch.stack(losses), np.asarray(t_fine),
                      torch.stack(norms))


# ----------------------------------------------------------------------------- measurements
def crossing_times(t: np.ndarray, values: Tensor | np.ndarray, level: float | np.ndarray) -> np.ndarray:
    """First time each series reaches ``level`` (linear interpolation between records; NaN if never).

    Args: t: (T,); values: (T, ...) series; level: scalar or broadcastable to values.shape[1:].
    Returns: values.shape[1:]."""
    v = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values, float)
    t = np.asarray(t, float)
    if v.shape[0] != len(t):
        raise ValueError(f"values must have len(t)={len(t)} records on axis 0; got {v.shape}")
    lev = np.broadcast_to(np.asarray(level, float), v.shape[1:])
    flat, lev = v.reshape(len(t), -1), lev.reshape(-1)
    out = np.full(flat.shape[1], np.nan)
    for j in range(flat.shape[1]):
        hits = np.flatnonzero(flat[:, j] >= lev[j])
        if hits.size and hits[0] > 0:
            i = hits[0]
            y0, y1 = flat[i - 1, j], flat[i, j]
            out[j] = t[i - 1] + (lev[j] - y0) / (y1 - y0) * (t[i] - t[i - 1])
        elif hits.size:
            out[j] = t[0]
    return out.reshape(v.shape[1:])


def activation_times(traj: Trajectory, level: float) -> np.ndarray:
    """Times at which the largest, second largest, ... component norm first reach ``level``.

    The k-th entry of a row is the time at which k components have norm >= level (sorted activation
    times; NaN if fewer ever do). Returns: (S, R)."""
    level = require_float("level", level, low=0.0, low_open=True)
    per_component = crossing_times(traj.t_fine, traj.norms_fine, level)  # (S, R)
    return np.sort(per_component, axis=1)


def velocity_check(traj: Trajectory, target: Tensor, mask: Tensor, at: Sequence[int],
                   exponent: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Measured :math:`d\|\mathcal W_r\|/dt` (central difference of the fine norm records around the
    factor snapshot) and the law :func:`norm_velocity` at snapshot indices ``at``.
    Returns: (measured, predicted), each (len(at), S, R)."""
    meas, pred = [], []
    for i in at:
        j = int(np.searchsorted(traj.t_fine, traj.t[i] - 1e-12))
        if not (0 < j < len(traj.t_fine) - 1 and np.isclose(traj.t_fine[j], traj.t[i])):
            raise ValueError(f"snapshot {i} has no fine norm records on both sides (train with norm_every=1)")
        dt = traj.t_fine[j + 1] - traj.t_fine[j - 1]
        meas.append((traj.norms_fine[j + 1] - traj.norms_fine[j - 1]) / dt)
        f = traj.factors[i]
        pred.append(norm_velocity(f, loss_grad(reconstruct(f), target, mask), exponent))
    return torch.stack(meas).numpy(), torch.stack(pred).numpy()


# ----------------------------------------------------------------------------- small-init theory
def reduced_blowup_time(factors: Tensor, g0: Tensor, *, growth: float = 1e4, substeps: int = 20,
                        max_steps: int = 20_000) -> Tensor:
    r"""Blow-up time of every component under the reduced flow :math:`\dot w_r^n = G_0(\ldots)` (no
    interaction between components, gradient frozen at its value at zero).

    The flow is integrated by RK4 in the clock :math:`d\tau = \|x\|^{N-2} dt` (x = all factors of one
    component), in which its size grows at most exponentially; the time
    :math:`t = \int \|x\|^{2-N} d\tau` is accumulated until :math:`\|x\|` has grown by ``growth``
    (the rest of the integral is below :math:`\text{growth}^{2-N}` of the total). Needs N >= 3.
    Args: factors (S, N, R, d); g0 (S, d, ..., d), usually :math:`-\nabla\ell(0)`. Returns: (S, R);
    components that never blow up (a component driven to zero) get ``inf``."""
    _, order, _, _ = _check_factors(factors)
    if order < 3:
        raise ValueError("reduced_blowup_time needs order N >= 3 (N = 2 grows exponentially, never blows up)")
    growth = require_float("growth", growth, low=1.0, low_open=True)
    substeps = require_int("substeps", substeps, minimum=1)
    max_steps = require_int("max_steps", max_steps, minimum=1)
    def size(y: Tensor) -> Tensor:
        return torch.linalg.norm(y.transpose(1, 2).flatten(2), dim=-1)  # (S, R)

    x = factors.clone()
    size0 = size(x)

    def rhs(y: Tensor) -> tuple[Tensor, Tensor]:
        n = size(y)
        return -factor_grads(y, -g0) / n.pow(order - 2)[:, None, :, None], n.pow(2 - order)

    # tau step: ln|x| changes at a rate below |G0|_F per unit tau, so h |G0|_F = 1/substeps is accurate
    rate = float(torch.linalg.norm(g0.flatten(1), dim=1).max())
    h = 1.0 / (rate * substeps)
    t = torch.zeros(size0.shape, dtype=DTYPE)
    done = torch.zeros(size0.shape, dtype=torch.bool)
    for _ in range(max_steps):
        k1, q1 = rhs(x)
        k2, q2 = rhs(x + 0.5 * h * k1)
        k3, q3 = rhs(x + 0.5 * h * k2)
        k4, q4 = rhs(x + h * k3)
        live = (~done)[:, None, :, None]
        x = torch.where(live, x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), x)
        t = torch.where(done, t, t + h / 6 * (q1 + 2 * q2 + 2 * q3 + q4))
        done |= size(x) >= growth * size0
        if bool(done.all()):
            break
    return torch.where(done, t, torch.full_like(t, float("inf")))


def blowup_time_scaling(order: int) -> float:
    r"""Exponent :math:`p` in :math:`t^* \propto \text{scale}^{p}` of the reduced flow: :math:`p = 2 - N`.

    (With a rival law :math:`\dot\rho \propto \rho^{2-1/N}` it would be :math:`1 - N`.)"""
    order = require_int("order", order, minimum=3)
    return float(2 - order)


def next_activation_time(factors: Tensor, t_now: float | np.ndarray, target: Tensor, mask: Tensor,
                         n_active: int) -> np.ndarray:
    r"""Predicted time of the next activation, from a snapshot taken while ``n_active`` components are
    active and the others are still small: the ``n_active`` largest components are frozen, the
    gradient is frozen at its value :math:`G = -\nabla\ell(\mathcal W(t_{\text{now}}))`, and the
    next activation is the earliest blow-up of the reduced flow among the remaining components.

    This is the greedy rank search of Razin, Maman & Cohen (2021), one step at a time.
    Args: factors (S, N, R, d) at t_now (scalar or (S,)). Returns: (S,)."""
    s, order, rank, d = _check_factors(factors)
    n_active = require_int("n_active", n_active, minimum=0, maximum=rank - 1)
    g = -loss_grad(reconstruct(factors), target, mask)
    order_r = torch.argsort(component_norms(factors), dim=1, descending=True)[:, n_active:]  # (S, R-k)
    idx = order_r[:, None, :, None].expand(s, order, rank - n_active, d)
    rest = torch.gather(factors, 2, idx)
    return np.asarray(t_now, float) + reduced_blowup_time(rest, g).min(dim=1).values.numpy()
