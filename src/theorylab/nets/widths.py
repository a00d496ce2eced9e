r"""Many two-layer ReLU networks of different widths, trained together as one tensor program.

A student of width :math:`H` computes

.. math::  f(x) = \sum_{j=1}^{H} a_j\,\mathrm{relu}(w_j^\top x/\sqrt d), \qquad
           a_j \sim \mathcal N(0, s^2/H),\; w_j \sim \mathcal N(0, s^2 I_d),

with :math:`H(d+1)` parameters. A sweep over widths (and seeds, each with its own data) is one
set of hidden units: unit ``j`` belongs to model ``owner[j]``, and a 0/1 matrix sums each model's
units. The models share no parameter, so the summed loss gives each its own gradient, and Adam,
being elementwise, treats each as if trained alone. The teacher is a network of the same form
plus Gaussian label noise. Used for the nonlinear analogue of the overtraining peak in
Advani & Saxe (2017), arXiv:1710.03667, Sec. 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

__all__ = ["SweepResult", "teacher_data", "train_width_sweep"]


def _check_widths(widths: Sequence[int]) -> list[int]:
    out = [int(h) for h in widths]
    if not out or any(h < 1 or h != w for h, w in zip(out, widths)):
        raise ValueError(f"widths must be a non-empty list of integers >= 1, got {widths!r}")
    return out


def teacher_data(n: int, n_test: int, d: int, teacher_width: int, noise: float, seeds: int,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Training and test sets from a random two-layer ReLU teacher, one per seed.

    Training labels carry noise :math:`\mathcal N(0, \mathrm{noise}^2)`; test labels are noiseless,
    so the test error is the excess risk.
    Returns: x (seeds, n, d), y (seeds, n), x_test (seeds, n_test, d), y_test (seeds, n_test); float64.
    """
    for name, v, lo in (("n", n, 1), ("n_test", n_test, 1), ("d", d, 1), ("teacher_width", teacher_width, 1), ("seeds", seeds, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    kw = dict(generator=gen, dtype=torch.float64)
    u = torch.randn(seeds, teacher_width, d, **kw)
    v = torch.randn(seeds, teacher_width, **kw) / teacher_width**0.5
    x = torch.randn(seeds, n + n_test, d, **kw)
    clean = torch.einsum("sh,snh->sn", v, torch.relu(x @ u.transpose(1, 2) / d**0.5))
    y = clean[:, :n] + noise * torch.randn(seeds, n, **kw)
    return x[:, :n], y, x[:, n:], clean[:, n:]


@dataclass(frozen=True)
class SweepResult:
    """Test and training error over training, for each seed and width."""
    steps: np.ndarray        # (T,) steps at which errors were recorded
    test: np.ndarray         # (seeds, widths, T) test mean squared error
    train: np.ndarray        # (seeds, widths, T) training mean squared error
    widths: np.ndarray       # (widths,)


def train_width_sweep(x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                      widths: Sequence[int], *, steps: int, lr: float, init_scale: float, every: int,
                      gen: torch.Generator) -> SweepResult:
    r"""Train one two-layer ReLU student per (seed, width) by full-batch Adam on the mean squared error.

    Args: x (seeds, n, d), y (seeds, n) and the test set as from :func:`teacher_data` (their dtype is used:
        float32 is enough here and twice as fast);
        widths: hidden widths H; steps: Adam steps; lr: learning rate; init_scale: s above;
        every: record the errors every ``every`` steps (and at step 0).
    Returns: a :class:`SweepResult`.
    """
    widths = _check_widths(widths)
    if steps < 1 or every < 1 or lr <= 0 or init_scale <= 0:
        raise ValueError("steps, every, lr and init_scale must be positive")
    seeds, n, d = x.shape
    owner = torch.repeat_interleave(torch.arange(len(widths)), torch.tensor(widths))
    units = owner.numel()
    kw = dict(dtype=x.dtype, device=x.device)                                             # gen must live on x.device
    summer = torch.nn.functional.one_hot(owner, len(widths)).to(**kw)                    # (U, M)
    fan = torch.tensor(widths, **kw)[owner.to(x.device)]                                  # (U,)
    w = (init_scale * torch.randn(seeds, units, d, generator=gen, **kw)).requires_grad_()
    a = (init_scale * torch.randn(seeds, units, generator=gen, **kw) / fan.sqrt()).requires_grad_()
    opt = torch.optim.Adam([w, a], lr=lr)

    def predict(inputs: torch.Tensor) -> torch.Tensor:                                 # (S, m, d) -> (S, m, M)
        return (torch.relu(inputs @ w.transpose(1, 2) / d**0.5) * a[:, None, :]) @ summer

    record, test, train = [], [], []
    for step in range(steps + 1):
        out = predict(x)
        per_model = ((out - y[..., None]) ** 2).mean(1)                                  # (S, M)
        if step % every == 0 or step == steps:
            with torch.no_grad():
                record.append(step)
                train.append(per_model.detach().cpu().numpy().copy())
                test.append(((predict(x_test) - y_test[..., None]) ** 2).mean(1).cpu().numpy())
        if step == steps:
            break
        opt.zero_grad()
        per_model.sum().backward()
        opt.step()
    return SweepResult(np.array(record), np.stack(test, -1), np.stack(train, -1), np.array(widths))
