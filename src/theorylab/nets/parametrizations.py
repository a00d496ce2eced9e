r"""abc-parametrizations of a deep MLP: per-layer multipliers, initial scales and learning rates.

A width-:math:`n` MLP with :math:`L` hidden layers, input dimension :math:`d` and a scalar output,

.. math::  h^1 = W^1\xi,\quad h^l = W^l x^{l-1}\ (2\le l\le L),\quad x^l = \phi(h^l),\quad f = W^{L+1}x^L,

is *abc-parametrized* (Yang & Hu 2021, arXiv:2011.14522, Sec. 3) when every weight is a multiplier
times a trained parameter, :math:`W^l = n^{-a_l}w^l`, with :math:`w^l_{ij}\sim\mathcal N(0, n^{-2b_l})`
at initialisation, and SGD updates :math:`w^l` with learning rate :math:`\eta n^{-c}`. Here every
power of :math:`n` is taken relative to a *base width* :math:`n_0` (:math:`n\to n/n_0`), with the
width-independent constants of the base model (variance :math:`1/d` in the input layer, :math:`1/n_0`
elsewhere): all parametrizations coincide at :math:`n = n_0` and differ only in how they scale, as
in the muTransfer recipe (Yang et al. 2022, arXiv:2203.03466). Exponents are unchanged by the base.

This module holds the tables (:data:`SP`, :data:`SP_LR`, :data:`NTK`, :data:`MUP` via
:func:`named`), the exponent theory of the first SGD step (:func:`update_exponents`), TP4's
feature-learning exponent :math:`r` (:func:`feature_exponent`) and its stability / nontriviality
classification (:func:`regime`), the concrete per-layer scalings at a width (:func:`layer_scales`,
:func:`effective_scales`), and a batched MLP trained by plain SGD in that parametrization
(:class:`AbcMLP`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..runtime import require_choice, require_float, require_int

__all__ = ["Abc", "LayerScales", "AbcMLP", "NAMES", "named", "maximal_update", "update_exponents", "feature_exponent",
           "stable_lr_shift", "regime", "layer_scales", "effective_scales", "train_sgd",
           "first_step_updates"]

NAMES = ("SP", "SP_LR", "NTK", "MUP")


@dataclass(frozen=True)
class Abc:
    """Exponents of an abc-parametrization: ``a[l]``, ``b[l]`` for layers l = 1..L+1 (index 0..L), and ``c``."""

    name: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    c: float

    @property
    def depth(self) -> int:
        """Number of hidden layers L."""
        return len(self.a) - 1


def named(name: str, depth: int) -> Abc:
    r"""The named parametrizations of TP4 (Sec. 3 there) for ``depth`` hidden layers.

    - ``SP``: standard (fan-in) initialisation, no multipliers, a width-independent learning rate
      (:math:`a = 0`, :math:`b = (0, \tfrac12, \dots, \tfrac12)`, :math:`c = 0`).
    - ``SP_LR``: the same with the learning rate scaled as :math:`1/n` (:math:`c = 1`), the largest
      that keeps SP stable.
    - ``NTK``: unit-variance parameters, multipliers :math:`n^{-1/2}` after the input layer
      (:math:`a = (0, \tfrac12, \dots)`, :math:`b = 0`, :math:`c = 0`).
    - ``MUP``: the Maximal Update Parametrization, :math:`a = (-\tfrac12, 0, \dots, 0, \tfrac12)`,
      :math:`b = \tfrac12`, :math:`c = 0` (TP4, Sec. 5; TP5, Table 3, in effective form).
    """
    require_choice("name", name, NAMES)
    depth = require_int("depth", depth, minimum=1)
    half = (0.5,) * depth
    if name in ("SP", "SP_LR"):
        return Abc(name, (0.0,) * (depth + 1), (0.0,) + half, 0.0 if name == "SP" else 1.0)
    if name == "NTK":
        return Abc(name, (0.0,) + half, (0.0,) * (depth + 1), 0.0)
    return Abc(name, (-0.5,) + (0.0,) * (depth - 1) + (0.5,), (0.5,) * (depth + 1), 0.0)


def maximal_update(depth: int, c: float = 0.0) -> Abc:
    r"""Solve for the parametrization whose every layer moves by :math:`\Theta(1)` after one step.

    Impose :func:`update_exponents`' terms one by one: the output layer's own term
    :math:`1-c-2a_{L+1} = 0`, the backward signal of a Θ(1) feature change :math:`\beta = 1`, the
    input layer :math:`-c-2a_1-\beta = 0`, each hidden layer :math:`1-c-2a_l-\beta = 0`, and stability
    at initialisation for the b's. With :math:`c = 0` this is μP (TP4, Sec. 5); other ``c``
    give the same network by the abc-symmetry.
    """
    depth = require_int("depth", depth, minimum=1)
    c = require_float("c", c)
    beta = 1.0
    a_out = (1 - c) / 2
    a = [-(c + beta) / 2] + [(1 - c - beta) / 2] * (depth - 1) + [a_out]
    b = [-a[0]] + [0.5 - x for x in a[1:-1]] + [beta - a_out]
    return Abc("maximal update", tuple(a), tuple(b), c)


def _check_init_stable(p: Abc) -> None:
    a, b = np.asarray(p.a), np.asarray(p.b)
    if len(p.a) != len(p.b) or len(p.a) < 2:
        raise ValueError("a and b must have the same length L + 1 >= 2")
    if abs(a[0] + b[0]) > 1e-12 or np.any(np.abs(a[1:-1] + b[1:-1] - 0.5) > 1e-12) or a[-1] + b[-1] < 0.5 - 1e-12:
        raise ValueError(f"{p.name}: the exponents must keep the forward pass stable at initialisation "
                         "(a_1 + b_1 = 0, a_l + b_l = 1/2 for hidden layers, a_{L+1} + b_{L+1} >= 1/2)")


def update_exponents(p: Abc) -> np.ndarray:
    r"""Width exponents of the first SGD step: :math:`\Delta h^l \sim n^{e_l}` (l = 1..L) and :math:`\Delta f \sim n^{e_f}`.

    With :math:`\beta = a_{L+1}+b_{L+1}` (the size of the backward signal :math:`dh^l\sim n^{-\beta}`),
    :math:`\Delta W^l = -\eta n^{-c-2a_l}\,dh^l x^{l-1\top}` is rank one, so

    .. math::  e_1 = -c-2a_1-\beta,\qquad e_l = \max\big(e_{l-1},\ 1-c-2a_l-\beta\big),\qquad
               e_f = \max\big(1-c-2a_{L+1},\ 1-\beta+e_L\big):

    the input layer meets a fixed-size input (no factor :math:`n`), a hidden layer sums :math:`n`
    *correlated* terms (law of large numbers: a factor :math:`n`), and :math:`W^l\Delta x^{l-1}`
    passes the previous layer's change on. Unrolled, :math:`-e_L = \beta+c-1+\min_l(2a_l+[l=1])`,
    TP4's :math:`r` (Sec. 3) with its first term at step 1, when :math:`W^{L+1}` has not moved.

    Returns: (L + 1,) array ``[e_1, ..., e_L, e_f]``.
    """
    _check_init_stable(p)
    a, c = np.asarray(p.a, dtype=float), float(p.c)
    beta = a[-1] + p.b[-1]
    e = [-c - 2 * a[0] - beta]
    for l in range(1, p.depth):
        e.append(max(e[-1], 1 - c - 2 * a[l] - beta))
    e.append(max(1 - c - 2 * a[-1], 1 - beta + e[-1]))
    return np.array(e)


def feature_exponent(p: Abc) -> float:
    r"""TP4's :math:`r`: the last hidden layer's features move by :math:`n^{-r}` once training is under way.

    .. math::  r = \min(a_{L+1}+b_{L+1},\ 2a_{L+1}+c) + c - 1 + \min_{1\le l\le L}\big(2a_l + [l = 1]\big)

    From the second step on, the backward signal :math:`dx^L = W^{L+1\top}df` also carries the updated
    output weights, of size :math:`n^{-(2a_{L+1}+c)}`; hence the min. Reference: Yang & Hu (2021), Sec. 3.
    """
    _check_init_stable(p)
    a = np.asarray(p.a, dtype=float)
    first = min(a[-1] + p.b[-1], 2 * a[-1] + p.c)
    return float(first + p.c - 1 + min(2 * a[l] + (l == 0) for l in range(p.depth)))


def regime(p: Abc) -> str:
    r"""TP4's classification (stability, nontriviality and the Dynamical Dichotomy, Sec. 3 there).

    Stable iff :math:`r\ge0`, :math:`2a_{L+1}+c\ge1` and :math:`a_{L+1}+b_{L+1}+r\ge1`; nontrivial iff
    :math:`2a_{L+1}+c = 1` or :math:`a_{L+1}+b_{L+1}+r = 1`. A stable nontrivial parametrization learns
    features iff :math:`r = 0` and is in the kernel regime iff :math:`r > 0`.
    Returns one of ``"unstable"``, ``"trivial"``, ``"feature learning"``, ``"kernel"``.
    """
    r, a, b = feature_exponent(p), p.a[-1], p.b[-1]
    tol = 1e-12
    if r < -tol or 2 * a + p.c < 1 - tol or a + b + r < 1 - tol:
        return "unstable"
    if abs(2 * a + p.c - 1) > tol and abs(a + b + r - 1) > tol:
        return "trivial"
    return "feature learning" if abs(r) <= tol else "kernel"


def stable_lr_shift(p: Abc) -> float:
    r"""The smallest :math:`\delta\ge0` such that the learning rate :math:`\eta n^{-c-\delta}` is stable.

    With a fixed :math:`\eta`, the largest stable (and, for short training, the best) learning rate of
    ``p`` then scales as :math:`n^{-\delta}`: :math:`\delta = 1` for SP, 0 for NTK and μP.
    """
    for delta in np.arange(0.0, 4.0 + 1e-9, 0.5):
        if regime(Abc(p.name, p.a, p.b, p.c + float(delta))) != "unstable":
            return float(delta)
    raise ValueError(f"{p.name}: no learning-rate exponent up to c + 4 makes it stable")


@dataclass(frozen=True)
class LayerScales:
    """Per-layer numbers at one width: W = multiplier * w, w ~ N(0, init_std^2), SGD on w at lr * lr_factor."""

    multiplier: np.ndarray   # (L + 1,)
    init_std: np.ndarray     # (L + 1,)
    lr_factor: np.ndarray    # (L + 1,)


def layer_scales(p: Abc, width: int, d: int, base_width: int) -> LayerScales:
    r"""Multipliers :math:`m^{-a_l}`, initial scales :math:`\sigma_l m^{-b_l}` and learning-rate factors :math:`m^{-c}`, :math:`m = n/n_0`.

    :math:`\sigma_1 = d^{-1/2}`, :math:`\sigma_l = n_0^{-1/2}` for :math:`l\ge2`: the base model is a
    fan-in (He-type, without the ReLU gain) network.
    """
    width = require_int("width", width, minimum=1)
    d = require_int("d", d, minimum=1)
    base_width = require_int("base_width", base_width, minimum=1)
    m = width / base_width
    a, b = np.asarray(p.a, dtype=float), np.asarray(p.b, dtype=float)
    sigma = np.array([d ** -0.5] + [base_width ** -0.5] * p.depth)
    return LayerScales(m ** -a, sigma * m ** -b, np.full(p.depth + 1, m ** -float(p.c)))


def effective_scales(p: Abc, width: int, d: int, base_width: int) -> LayerScales:
    r"""The same network without multipliers: SGD directly on :math:`W^l` (TP5's Table 3 form).

    The abc-symmetry :math:`(a, b, c)\to(a+\theta, b-\theta, c-2\theta)` leaves SGD's trajectory of
    :math:`f` unchanged (TP4, Sec. 3); with :math:`\theta = -a_l` layer by layer, :math:`W^l` starts
    with standard deviation :math:`m^{-a_l}\sigma_l m^{-b_l}` and trains at learning rate
    :math:`\eta m^{-c-2a_l}`. For μP: input std :math:`d^{-1/2}`, lr :math:`\propto n`; hidden std
    :math:`n^{-1/2}`, lr constant; output std :math:`\propto 1/n`, lr :math:`\propto 1/n`.
    """
    s = layer_scales(p, width, d, base_width)
    return LayerScales(np.ones_like(s.multiplier), s.multiplier * s.init_std, s.lr_factor * s.multiplier ** 2)


class AbcMLP:
    r"""``replicas`` independent ReLU MLPs (L hidden layers of width n, scalar output) in an abc-parametrization.

    Weights ``w[l]`` have shape (R, fan_in, fan_out); replica r reads ``x[r]`` (shape (R, B, d)). The
    replicas share no parameter, so one SGD step on the sum of their mean losses is each replica's own
    step. ``lr`` may be a float or an (R,) tensor (a learning-rate sweep as replicas).
    Float32 by default (``dtype``); the identity checks use float64.
    """

    def __init__(self, p: Abc, width: int, d: int, *, replicas: int, gen: torch.Generator, base_width: int = 64,
                 effective: bool = False, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> None:
        replicas = require_int("replicas", replicas, minimum=1)
        s = (effective_scales if effective else layer_scales)(p, width, d, base_width)
        self.p, self.width, self.scales = p, width, s
        sizes = [d] + [width] * p.depth + [1]
        self.mult = [float(m) for m in s.multiplier]
        self.lr_factor = [float(f) for f in s.lr_factor]
        self.w = [(torch.randn(replicas, i, o, generator=gen, dtype=dtype, device=gen.device).to(device)
                   * float(sd)).requires_grad_() for i, o, sd in zip(sizes[:-1], sizes[1:], s.init_std)]

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """x (R, B, d) -> (preactivations [h^1, ..., h^L], each (R, B, n); output f (R, B))."""
        hs, z = [], x
        for l, (w, m) in enumerate(zip(self.w, self.mult)):
            z = m * (z @ w)
            if l < self.p.depth:
                hs.append(z)
                z = torch.relu(z)
        return hs, z[..., 0]

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor, lr: float | torch.Tensor) -> torch.Tensor:
        r"""One SGD step on :math:`\tfrac12\,\mathrm{mean}_B (f - y)^2` per replica; returns the losses (R,) before it."""
        _, f = self.forward(x)
        loss = 0.5 * ((f - y) ** 2).mean(1)
        grads = torch.autograd.grad(loss.sum(), self.w)
        lr_t = torch.as_tensor(lr, dtype=self.w[0].dtype, device=self.w[0].device).reshape(-1, 1, 1)
        with torch.no_grad():
            for w, g, k in zip(self.w, grads, self.lr_factor):
                w -= (lr_t * k) * g
        return loss.detach()

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Forward pass without the graph (for measurements)."""
        with torch.no_grad():
            return self.forward(x)


def train_sgd(net: AbcMLP, x: torch.Tensor, y: torch.Tensor, lr: float | torch.Tensor, steps: int) -> torch.Tensor:
    r"""Full-batch SGD for ``steps`` steps on the *centred* output :math:`f - f_0` (targets ``y`` (R, B)).

    Centring (training :math:`f(x) - f_0(x)` with :math:`f_0` the output at initialisation) makes
    the loss gradient at the first step exactly :math:`-y`, whatever the random initial output,
    so that every width starts from the same signal. Returns the loss before each step: (steps, R).
    """
    steps = require_int("steps", steps, minimum=1)
    _, f0 = net.features(x)
    return torch.stack([net.sgd_step(x, y + f0, lr) for _ in range(steps)])


def first_step_updates(p: Abc, widths: list[int], x: torch.Tensor, y: torch.Tensor, lr: float, *,
                       gen: torch.Generator, base_width: int = 64) -> np.ndarray:
    r"""Coordinate check: the RMS change of every preactivation and of the output after one SGD step.

    For each width a fresh network (one replica per row of ``x``: (R, B, d), ``y``: (R, B)) takes one
    centred step (:func:`train_sgd`) and is evaluated again on the same inputs.
    Returns: (len(widths), L + 1, R) array, ``[w, l]`` = RMS of :math:`\Delta h^{l+1}` (l < L) or of :math:`\Delta f`.
    """
    require_float("lr", lr, low=0.0, low_open=True)
    out = []
    for n in widths:
        net = AbcMLP(p, n, x.shape[-1], replicas=x.shape[0], gen=gen, base_width=base_width, dtype=x.dtype,
                     device=x.device)
        h0, f0 = net.features(x)
        train_sgd(net, x, y, lr, 1)
        h1, f1 = net.features(x)
        sizes = [((b - a).double() ** 2).mean((-2, -1)).sqrt() for a, b in zip(h0, h1)]
        sizes.append(((f1 - f0).double() ** 2).mean(-1).sqrt())
        out.append(torch.stack(sizes).cpu().numpy())
    return np.stack(out)
