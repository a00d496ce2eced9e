r"""Two-layer ReLU network with a fixed second layer, trained by full-batch gradient descent.

.. math:: f(x; W) = \sum_{j=1}^m a_j\,\mathrm{relu}(\langle w_j, x\rangle),\qquad a_j = \pm 1/\sqrt m \text{ fixed},

    \hat L(W) = \frac1n\sum_{i=1}^n \log\big(1 + e^{-y_i f(x_i; W)}\big),\qquad
    W^{(t+1)} = W^{(t)} - \alpha \nabla \hat L(W^{(t)}).

Reference: Xu, Wang, Frei, Vardi & Hu, *Benign Overfitting and Grokking in ReLU Networks for XOR
Cluster Data*, ICLR 2024 (arXiv 2310.02541), Section 2 (model and algorithm). Every function is
batched over replicas: W is (S, m, k), inputs (S, N, k), labels (S, N), the head (m,) or (S, m).
Everything runs in float64 (alignments and margins are compared at the percent level).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from ..runtime import require_float, require_int

DTYPE = torch.float64


def head(m: int) -> Tensor:
    """Second-layer weights (m,): the first m/2 are +1/sqrt(m), the rest -1/sqrt(m) (m even)."""
    m = require_int("m", m, minimum=2)
    if m % 2:
        raise ValueError(f"m must be even (half the neurons of each sign); got {m}")
    return torch.cat([torch.ones(m // 2), -torch.ones(m // 2)]).to(DTYPE) / math.sqrt(m)


def forward(w: Tensor, a: Tensor, x: Tensor) -> Tensor:
    """Network outputs f(x; W): (S, N) for w (S, m, k), a (m,) or (S, m), x (S, N, k)."""
    return (torch.relu(x @ w.transpose(1, 2)) * a.expand(w.shape[0], -1)[:, None, :]).sum(-1)


def loss(w: Tensor, a: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Mean logistic loss per replica (S,): (1/n) sum_i log(1 + exp(-y_i f(x_i)))."""
    return torch.nn.functional.softplus(-y * forward(w, a, x)).mean(-1)


def gradient(w: Tensor, a: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r"""Hand-written gradient of :func:`loss` with respect to W, (S, m, k).

    .. math:: \nabla_{w_j}\hat L = -\frac1n\sum_i \sigma(-y_i f_i)\,y_i\,a_j\,\mathbb 1[\langle w_j, x_i\rangle > 0]\,x_i
    """
    pre = x @ w.transpose(1, 2)                                            # (S, n, m)
    f = (torch.relu(pre) * a.expand(w.shape[0], -1)[:, None, :]).sum(-1)   # (S, n)
    g = -torch.sigmoid(-y * f) * y / x.shape[1]                            # dL/df_i, (S, n)
    coef = g[:, :, None] * (pre > 0) * a.expand(w.shape[0], -1)[:, None, :]  # (S, n, m)
    return coef.transpose(1, 2) @ x


def gd_step(w: Tensor, a: Tensor, x: Tensor, y: Tensor, lr: float) -> Tensor:
    """One full-batch gradient-descent step W - lr * grad (all replicas at once)."""
    return w - lr * gradient(w, a, x, y)


def train(w0: Tensor, a: Tensor, x: Tensor, y: Tensor, lr: float, steps: int,
          log_steps: Sequence[int]) -> Tensor:
    """Run ``steps`` GD steps from w0 and return the weights at ``log_steps`` (0 = init): (T, S, m, k)."""
    steps = require_int("steps", steps, minimum=0)
    require_float("lr", lr, low=0.0, low_open=True)
    wanted = sorted(set(int(s) for s in log_steps))
    if not wanted or wanted[0] < 0 or wanted[-1] > steps:
        raise ValueError(f"log_steps must lie in [0, steps = {steps}]; got {list(log_steps)}")
    snaps, w = {}, w0
    for t in range(steps + 1):
        if t in wanted:
            snaps[t] = w
        if t < steps:
            w = gd_step(w, a, x, y, lr)
    return torch.stack([snaps[t] for t in wanted])


def accuracy(w: Tensor, a: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Fraction of points with sign f(x) = y, per replica (S,) (a zero output counts as wrong)."""
    return (y * forward(w, a, x) > 0).to(DTYPE).mean(-1)


def step_size(n: int, m: int, d: int) -> float:
    r"""The chapter's step size :math:`\alpha = n\sqrt m / d`: it makes the first step's outputs of order one."""
    return n * math.sqrt(m) / d


def one_step_margin(n: int, d: int, r: float, lr: float, net_signal_sq: float = 0.0) -> float:
    r"""Leading-order mean training margin after one step from a vanishing initialisation.

    .. math:: \frac1n\sum_k y_k f(x_k; W^{(1)}) \approx \frac{\alpha\,\|\sum_i y_i x_i\|^2}{8n^2}
              \approx \frac{\alpha\,(d + r^2 |D|^2/n)}{8n}

    (the mean of the linear limit :func:`linear_limit` over the training points; ``net_signal_sq`` is
    :math:`|D|^2` from :func:`theorylab.data.xor.net_linear_signal`, zero for a balanced sample). Each point
    alone gets about :math:`\alpha\|x_k\|^2/8n = \alpha(d + r^2)/8n`, but the other points of its own and of
    the opposite cluster add :math:`\alpha r^2(y_k\langle D, s_k\rangle - 1)/8n`, which removes the
    :math:`r^2` on average. Corrections are of relative order :math:`1/\sqrt m` (finite width) and
    :math:`\sqrt n\,r^2/d` (sign changes of the neuron sums).
    """
    return lr * (d + r**2 * net_signal_sq / n) / (8 * n)


def linear_limit(x_train: Tensor, y_train: Tensor, x: Tensor, lr: float) -> Tensor:
    r"""Wide-network limit of the output after one step: a linear classifier (S, N).

    .. math:: f(x; W^{(1)}) \to \frac{\alpha}{8n}\Big\langle \sum_i y_i x_i,\ x\Big\rangle \qquad (m\to\infty,\ \omega\to 0)
    """
    v = torch.einsum("sn,snk->sk", y_train, x_train)
    return lr / (8 * x_train.shape[1]) * torch.einsum("sk,stk->st", v, x)


def alignment(w: Tensor) -> Tensor:
    r"""Cosines :math:`\langle w_j, \mu_c\rangle / (\|w_j\|\,\|\mu_c\|)` with the two means (S, m, 2).

    The means lie along coordinates 0 and 1 (as in :mod:`theorylab.data.xor`).
    """
    return w[..., :2] / w.norm(dim=-1, keepdim=True).clamp_min(1e-300)


def history(snaps: Tensor, a: Tensor, x: Tensor, y: Tensor, flipped: Tensor, x_test: Tensor,
            y_test: Tensor, threshold: float = 0.3) -> dict[str, Tensor]:
    r"""What the chapter tracks along a run, per logged step and replica: a dict of (T, S) tensors.

    ``train``: accuracy on the observed (noisy) training labels; ``flipped``: accuracy on the flipped
    ones only; ``test``: accuracy on clean test labels; ``matched`` / ``crossed``: mean over neurons
    of :math:`|\cos(w_j, \mu_{c(j)})|` and :math:`|\cos(w_j, \mu_{3-c(j)})|`, where :math:`c(j) = 1` if
    :math:`a_j > 0` (the class +1 means) and 2 otherwise; ``aligned``: fraction of neurons with
    :math:`\max_c |\cos(w_j, \mu_c)| > ` threshold; ``own``: among those, the fraction whose best mean is
    :math:`\mu_{c(j)}` (NaN when none is aligned).
    """
    fl = flipped.to(DTYPE)
    own = (a.expand(x.shape[0], -1) < 0).long()                                  # (S, m): 0 -> mu1, 1 -> mu2
    out: dict[str, list[Tensor]] = {k: [] for k in ("train", "flipped", "test", "matched", "crossed", "aligned", "own")}
    for w in snaps:
        out["train"].append(accuracy(w, a, x, y))
        out["flipped"].append(((y * forward(w, a, x) > 0).to(DTYPE) * fl).sum(-1) / fl.sum(-1).clamp_min(1))
        out["test"].append(accuracy(w, a, x_test, y_test))
        cos = alignment(w).abs()                                                 # (S, m, 2)
        mine = cos.gather(-1, own[..., None])[..., 0]
        out["matched"].append(mine.mean(-1))
        out["crossed"].append((cos.sum(-1) - mine).mean(-1))
        hit = cos.amax(-1) > threshold
        out["aligned"].append(hit.to(DTYPE).mean(-1))
        good = (hit & (cos.argmax(-1) == own)).to(DTYPE).sum(-1)
        out["own"].append(torch.where(hit.any(-1), good / hit.to(DTYPE).sum(-1).clamp_min(1), torch.nan))
    return {k: torch.stack(v) for k, v in out.items()}
