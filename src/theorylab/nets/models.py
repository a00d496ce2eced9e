r"""Small binary classifiers, vectorised over independent replicas (seeds or conditions).

``n_models`` independent networks run as one module: grouped convolutions for the CNN and
batched matrix products for the MLP. Replica ``r`` reads channel ``r`` of the input, so every
replica may see its own data (another seed, another feature order) and has its own weights.
Parameters are disjoint across replicas and Adam is elementwise, so training them together on the
sum of their losses is the same as training each alone (up to floating-point summation order).

- :class:`LocalCNN`: ``depth`` conv layers (kernel ``kernel``, ``width`` channels, ReLU), a
  global max-pool and a linear read-out; ``dims=1`` for sequences, ``dims=2`` for images. A
  locally connected, translation-equivariant model.
- :class:`MLP`: fully connected ReLU layers; blind to the order of the features in distribution.

Loss: logistic, :math:`\ell(f, y) = \ln(1 + e^{-y f})`, labels :math:`y = \pm 1`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LocalCNN", "MLP", "accuracy", "train_binary"]


def _check_pos_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _uniform_(t: torch.Tensor, bound: float, gen: torch.Generator) -> None:
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=gen)


class LocalCNN(nn.Module):
    """``n_models`` independent small CNNs; input (B, n_models, N) or (B, n_models, H, W)."""

    def __init__(self, n_models: int, *, gen: torch.Generator, dims: int = 1, width: int = 16,
                 depth: int = 2, kernel: int = 5) -> None:
        super().__init__()
        for name, v in (("n_models", n_models), ("width", width), ("depth", depth), ("kernel", kernel)):
            _check_pos_int(name, v)
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {dims!r}")
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        self.n_models, self.width, self.dims = n_models, width, dims
        layers, c_in = [], 1
        for _ in range(depth):
            layer = conv(n_models * c_in, n_models * width, kernel, padding=kernel // 2, groups=n_models)
            fan_in = c_in * kernel**dims
            _uniform_(layer.weight, math.sqrt(6.0 / fan_in), gen)  # He-uniform for ReLU
            _uniform_(layer.bias, 1.0 / math.sqrt(fan_in), gen)
            layers += [layer, nn.ReLU()]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head_w = nn.Parameter(torch.empty(n_models, width))
        self.head_b = nn.Parameter(torch.zeros(n_models))
        _uniform_(self.head_w, 1.0 / math.sqrt(width), gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_models, *spatial) -> logits (B, n_models)."""
        h = self.features(x)  # (B, n_models * width, *spatial)
        h = h.flatten(2).amax(dim=2).view(x.shape[0], self.n_models, self.width)
        return torch.einsum("bmc,mc->bm", h, self.head_w) + self.head_b


class MLP(nn.Module):
    """``n_models`` independent ReLU MLPs; input (B, n_models, N) -> logits (B, n_models)."""

    def __init__(self, n_models: int, n_features: int, *, gen: torch.Generator,
                 hidden: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        _check_pos_int("n_models", n_models)
        _check_pos_int("n_features", n_features)
        sizes = [n_features, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            _check_pos_int("hidden", fan_out)
            w = nn.Parameter(torch.empty(n_models, fan_in, fan_out))
            b = nn.Parameter(torch.empty(n_models, fan_out))
            _uniform_(w, math.sqrt(6.0 / fan_in) if fan_out > 1 else 1.0 / math.sqrt(fan_in), gen)
            _uniform_(b, 1.0 / math.sqrt(fan_in), gen)
            self.weights.append(w)
            self.biases.append(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.einsum("bmi,mio->bmo", h, w) + b
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
    """Fraction of correct signs per replica: (n_models,)."""
    with torch.no_grad():
        out = torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])
    return ((out > 0) == (y > 0)).double().mean(dim=0)


def train_binary(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, gen: torch.Generator,
                 epochs: int = 20, batch_size: int = 256, lr: float = 2e-3) -> list[float]:
    """Adam on the logistic loss, summed over replicas; returns the mean loss per epoch.

    Args:
        x: (B, n_models, ...) inputs, replica r in channel r.
        y: (B, n_models) labels in {-1, +1}.
        gen: torch generator for the mini-batch order (shared by all replicas).
    """
    _check_pos_int("epochs", epochs)
    _check_pos_int("batch_size", batch_size)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if y.shape != x.shape[:2]:
        raise ValueError(f"y must have shape {tuple(x.shape[:2])} (samples, replicas), got {tuple(y.shape)}")
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("y must contain labels -1 or +1 only")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen, device=gen.device).to(x.device)
        total = 0.0
        for i in range(0, x.shape[0], batch_size):
            idx = order[i:i + batch_size]
            loss = nn.functional.softplus(-y[idx] * model(x[idx])).mean(dim=0).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        history.append(total / x.shape[0] / y.shape[1])
    return history
