r"""Weight companders: a bounded, steep-at-zero reparametrization of every weight, w = c(v).

The network's weights are w = c(v), with c odd, increasing, bounded by a and of slope k at zero;
gradient descent runs on v. To first order in the step size this is gradient descent on w with the
per-weight learning-rate factor c'(v)^2 (a diagonal preconditioner), and weight decay on v is the
penalty (lambda/2) c^{-1}(w)^2 on w. Two companders of this class are provided:

.. math::  c_{\tanh}(v) = a\tanh(kv/a), \qquad c_{\arctan}(v) = \tfrac{2a}{\pi}\arctan\!\big(\tfrac{\pi k v}{2a}\big).

Reference: Cakaj, Mehnert & Yang (2023), *Weight Compander: A Simple Weight Reparameterization for
Regularization* (arXiv:2306.16993), which introduces the idea; the two maps here are members of the
class it describes (bounded, steep at zero), not necessarily its own formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from theorylab.runtime import require_choice, require_float, require_int

KINDS = ("tanh", "arctan")


@dataclass(frozen=True)
class Compander:
    """The map w = c(v): odd, increasing, |c| < a (``bound``), c'(0) = k (``slope``)."""

    bound: float
    slope: float
    kind: str = "tanh"

    def __post_init__(self) -> None:
        require_float("bound", self.bound, low=0.0, low_open=True)
        require_float("slope", self.slope, low=0.0, low_open=True)
        require_choice("kind", self.kind, KINDS)

    @property
    def _s(self) -> float:
        """Inner scale: c(v) = a f(s v) / f'-normalisation, with s = k/a (tanh) or pi k/(2a) (arctan)."""
        return self.slope / self.bound if self.kind == "tanh" else math.pi * self.slope / (2 * self.bound)

    def __call__(self, v: Tensor) -> Tensor:
        """w = c(v), elementwise."""
        if self.kind == "tanh":
            return self.bound * torch.tanh(self._s * v)
        return self.slope / self._s * torch.atan(self._s * v)

    def inverse(self, w: Tensor) -> Tensor:
        """v = c^{-1}(w) for |w| < a (``ValueError`` outside)."""
        if bool((w.abs() >= self.bound).any()):
            raise ValueError(f"w: every entry must lie strictly inside (-{self.bound}, {self.bound})")
        if self.kind == "tanh":
            return torch.atanh(w / self.bound) / self._s
        return torch.tan(w * self._s / self.slope) / self._s

    def derivative(self, v: Tensor) -> Tensor:
        """c'(v): k sech^2(kv/a) (tanh) or k / (1 + (pi k v / 2a)^2) (arctan)."""
        u = self._s * v
        if self.kind == "tanh":
            return self.slope / torch.cosh(u) ** 2
        return self.slope / (1 + u * u)

    def second_derivative(self, v: Tensor) -> Tensor:
        """c''(v): -2 k s sech^2(sv) tanh(sv) (tanh) or -2 k s u / (1 + u^2)^2 with u = s v (arctan)."""
        u = self._s * v
        if self.kind == "tanh":
            return -2 * self.slope * self._s * torch.tanh(u) / torch.cosh(u) ** 2
        return -2 * self.slope * self._s * u / (1 + u * u) ** 2

    @property
    def max_curvature(self) -> float:
        r"""sup_v |c''(v)|: 4ks/(3 sqrt 3) (tanh, at tanh^2(sv) = 1/3) or 9ks/(8 sqrt 3) (arctan, at sv = 1/sqrt 3)."""
        factor = 4 / (3 * math.sqrt(3)) if self.kind == "tanh" else 9 / (8 * math.sqrt(3))
        return factor * self.slope * self._s

    def rate(self, w: Tensor) -> Tensor:
        r"""Per-weight learning-rate factor P(w) = c'(c^{-1}(w))^2 in terms of w itself.

        .. math::  P_{\tanh}(w) = k^2\,(1 - w^2/a^2)^2, \qquad P_{\arctan}(w) = k^2\cos^4\!\big(\tfrac{\pi w}{2a}\big).
        """
        if self.kind == "tanh":
            return self.slope ** 2 * (1 - (w / self.bound) ** 2) ** 2
        return self.slope ** 2 * torch.cos(math.pi * w / (2 * self.bound)) ** 4

    def penalty_gradient(self, w: Tensor) -> Tensor:
        r"""d/dw of the penalty (1/2) c^{-1}(w)^2 that weight decay on v puts on w.

        .. math::  \rho(w) = \frac{c^{-1}(w)}{c'(c^{-1}(w))} \;\approx\; \frac{w}{k^2}\ \text{near } 0 .
        """
        v = self.inverse(w)
        return v / self.derivative(v)


def step_via_v(comp: Compander, v: Tensor, grad_w: Tensor, lr: float) -> Tensor:
    r"""The change of w = c(v) after one gradient step on v: c(v - lr c'(v) g) - c(v).

    Exact (no expansion); ``grad_w`` is dL/dw at w = c(v), so dL/dv = c'(v) dL/dw (chain rule).
    """
    return comp(v - lr * comp.derivative(v) * grad_w) - comp(v)


def step_preconditioned(comp: Compander, v: Tensor, grad_w: Tensor, lr: float) -> Tensor:
    r"""One preconditioned gradient step on w: -lr c'(v)^2 dL/dw (the first-order twin of step_via_v)."""
    return -lr * comp.derivative(v) ** 2 * grad_w


def step_second_order(comp: Compander, v: Tensor, grad_w: Tensor, lr: float) -> Tensor:
    r"""Leading error of the preconditioned step, from Taylor's theorem:

    .. math::  c(v - \eta c' g) - c(v) + \eta c'^2 g = \tfrac12\,\eta^2\,c''(v)\,c'(v)^2 g^2 + O(\eta^3).
    """
    return 0.5 * lr ** 2 * comp.second_derivative(v) * comp.derivative(v) ** 2 * grad_w ** 2


# -- batched MLP replicas ------------------------------------------------------------------------


@dataclass(frozen=True)
class Arms:
    """Per-replica switches: which replicas use the compander, their weight decay and step-size factor."""

    companded: Tensor   # (R,) bool
    weight_decay: Tensor  # (R,) float
    lr_scale: Tensor | None = None  # (R,) float, multiplies the step size (default 1)


def uniform_weights(sizes: list[int], gens: list[torch.Generator], dtype: torch.dtype = torch.float32) -> list[Tensor]:
    """Initial weights of len(gens) replicas, uniform in +-1/sqrt(fan_in): a list of (R, fan_in, fan_out)."""
    if len(sizes) < 2 or not gens:
        raise ValueError(f"sizes: at least [d_in, d_out] and gens non-empty; got {sizes}, {len(gens)} generators")
    out = []
    for fi, fo in zip(sizes[:-1], sizes[1:]):
        w = [(torch.rand(fi, fo, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fi) for g in gens]
        out.append(torch.stack(w).to(dtype))
    return out


class CompandedMLP:
    r"""R replicas of a ReLU MLP, each weight matrix W = c(V) (companded replicas) or W = V.

    Layer l: h_{l+1} = relu(h_l W_l + b_l), with W_l of shape (R, fan_in, fan_out); biases are not
    reparametrized. The compander of layer l has bound ``bound_mult / sqrt(fan_in)`` and slope
    ``slope``, so that the initial weights (uniform in +-1/sqrt(fan_in)) lie inside its range.
    Every replica starts from the weights ``w0`` (so V = c^{-1}(w0) in companded replicas).
    """

    def __init__(self, w0: list[Tensor], arms: Arms, *, slope: float, bound_mult: float, kind: str = "tanh"):
        require_float("bound_mult", bound_mult, low=1.0, low_open=True)
        if not w0 or any(w.dim() != 3 or w.shape[0] != arms.companded.shape[0] for w in w0):
            raise ValueError("w0: a list of (R, fan_in, fan_out) tensors, R = len(arms.companded)")
        self.arms = arms
        self.sizes = [int(w0[0].shape[1])] + [int(w.shape[2]) for w in w0]
        self.companders = [Compander(bound_mult / math.sqrt(w.shape[1]), slope, kind) for w in w0]
        mask = arms.companded.view(-1, 1, 1)
        self.v = [torch.where(mask, comp.inverse(w), w).detach().requires_grad_(True)
                  for w, comp in zip(w0, self.companders)]
        self.b = [torch.zeros(w.shape[0], 1, w.shape[2], dtype=w.dtype, requires_grad=True) for w in w0]

    def weights(self) -> list[Tensor]:
        """The weights W_l = c(V_l) (companded replicas) or V_l, each (R, fan_in, fan_out)."""
        mask = self.arms.companded.view(-1, 1, 1)
        return [torch.where(mask, comp(v), v) for v, comp in zip(self.v, self.companders)]

    def forward(self, x: Tensor, weights: list[Tensor] | None = None) -> Tensor:
        """Logits (R, n, d_out) for inputs x (R, n, d_in)."""
        h = x
        ws = self.weights() if weights is None else weights
        for l, (w, b) in enumerate(zip(ws, self.b)):
            h = torch.baddbmm(b, h, w)
            if l < len(ws) - 1:
                h = torch.relu(h)
        return h

    def parameters(self) -> list[Tensor]:
        return self.v + self.b


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy of each replica, summed over replicas (so each replica's gradient is its own). (R,) -> scalar."""
    r, n, k = logits.shape
    per = torch.nn.functional.cross_entropy(logits.reshape(r * n, k), y.reshape(r * n), reduction="none")
    return per.view(r, n).mean(1).sum()


def train(model: CompandedMLP, x: Tensor, y: Tensor, *, lr: float, steps: int) -> None:
    r"""Full-batch gradient descent on (V, b) with coupled weight decay on V, per replica r:

    .. math::  V \leftarrow V - \eta_r\,(\nabla_V L + \lambda_r V), \qquad b \leftarrow b - \eta_r \nabla_b L,
               \qquad \eta_r = \eta \cdot \text{lr\_scale}_r .

    x: (R, n, d_in), y: (R, n) integer labels.
    """
    require_int("steps", steps, minimum=0)
    wd = model.arms.weight_decay.view(-1, 1, 1).to(x.dtype)
    scale = model.arms.lr_scale
    step = lr * (torch.ones(x.shape[0], dtype=x.dtype) if scale is None else scale.to(x.dtype)).view(-1, 1, 1)
    for _ in range(steps):
        loss = cross_entropy(model.forward(x), y)
        grads = torch.autograd.grad(loss, model.parameters())
        with torch.no_grad():
            for v, g in zip(model.v, grads[:len(model.v)]):
                v -= step * (g + wd * v)
            for b, g in zip(model.b, grads[len(model.v):]):
                b -= step * g


def accuracy(model: CompandedMLP, x: Tensor, y: Tensor) -> Tensor:
    """Accuracy of each replica, (R,)."""
    with torch.no_grad():
        return (model.forward(x).argmax(-1) == y).to(torch.float64).mean(1)
