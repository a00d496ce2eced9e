"""Pools of small digit classifiers over (data, initialisation) seeds, trained as one tensor program.

The population: an 8 x 8 scikit-learn digit x with its clean class y(x), and an observed label
equal to y(x) with probability 1 - eps and uniform over the C = 10 classes otherwise, so the label
distribution is known exactly, y_bar(x) = (1 - eps) e_y + eps / C. A *data set* Z is a bootstrap
resample of the n training images with freshly drawn noisy labels; an *initialisation* W is the
draw of a two-layer ReLU network's weights. A pool has B data sets x S initialisations, B * S
networks trained together (one batched matrix product per layer), and returns their logits on the
test images, the raw material of :mod:`theorylab.nets.bregman`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from theorylab.data.digits import load as load_digits


@dataclass(frozen=True)
class DigitsTask:
    """Train/test split of the digits with label noise ``eps``: arrays as float64/int64 numpy."""

    x_train: np.ndarray   # (n, 64) pixels in [0, 1]
    y_train: np.ndarray   # (n,) clean classes
    x_test: np.ndarray    # (n_test, 64)
    y_test: np.ndarray    # (n_test,)
    eps: float
    classes: int = 10

    def label_distribution(self, y: np.ndarray) -> np.ndarray:
        """y_bar = (1 - eps) e_y + eps / C for clean classes y (n,), shape (n, C)."""
        return (1 - self.eps) * np.eye(self.classes)[y] + self.eps / self.classes


def digits_task(n_train: int, n_test: int, eps: float, gen: np.random.Generator) -> DigitsTask:
    """A random split of the 1,797 digits into n_train training and n_test test images."""
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"eps must lie in [0, 1), got {eps}")
    x, y = load_digits()
    if n_train < 1 or n_test < 1 or n_train + n_test > len(x):
        raise ValueError(f"n_train + n_test must be at most {len(x)} (both >= 1), got {n_train} + {n_test}")
    perm = gen.permutation(len(x))
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    return DigitsTask(x[tr], y[tr], x[te], y[te], float(eps))


def draw_data_sets(task: DigitsTask, n_sets: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """B bootstrap data sets: multiplicities (B, n) of the training images (multinomial, sum n) and
    noisy labels (B, n) (each image's label redrawn per data set from y_bar)."""
    n, c = len(task.y_train), task.classes
    counts = gen.multinomial(n, np.full(n, 1.0 / n), size=n_sets)
    flip = gen.random((n_sets, n)) < task.eps
    labels = np.where(flip, gen.integers(0, c, (n_sets, n)), task.y_train[None, :])
    return counts, labels


def train_pool(task: DigitsTask, counts: np.ndarray, labels: np.ndarray, n_inits: int, *, width: int,
               steps: int, lr: float, weight_decay: float, gen: torch.Generator,
               device: str | torch.device = "cpu") -> np.ndarray:
    """Train B x S two-layer ReLU networks f(x) = V relu(W x + b) + c by full-batch Adam on the
    bootstrap-weighted cross-entropy (plus weight decay on W, V), all at once.

    Network (b, s) sees data set b (``counts[b]``, ``labels[b]``) and initialisation s, drawn from
    ``gen`` in the order (b, s), PyTorch's default (uniform +- 1/sqrt(fan_in)) scales. Returns the
    test logits as float64, shape (B, S, n_test, C).
    """
    n_sets, n = counts.shape
    m, d, c = n_sets * n_inits, task.x_train.shape[1], task.classes
    dev = torch.device(device)
    x = torch.tensor(task.x_train, dtype=torch.float32, device=dev)
    xt = torch.tensor(task.x_test, dtype=torch.float32, device=dev)
    wts = torch.tensor(np.repeat(counts, n_inits, 0) / n, dtype=torch.float32, device=dev)        # (M, n)
    y = torch.tensor(np.repeat(labels, n_inits, 0), dtype=torch.long, device=dev)                # (M, n)

    def uniform(shape, fan_in):
        u = torch.rand(shape, generator=gen, device=gen.device, dtype=torch.float32)
        return ((2 * u - 1) / fan_in**0.5).to(dev).requires_grad_()

    params = [uniform((m, d, width), d), uniform((m, 1, width), d), uniform((m, width, c), width),
              uniform((m, 1, c), width)]
    opt = torch.optim.Adam(params, lr=lr)

    def logits(inp):
        w1, b1, w2, b2 = params
        h = torch.relu(torch.matmul(inp, w1) + b1)            # (M, n, width): inp (n, d) broadcasts
        return torch.matmul(h, w2) + b2                       # (M, n, C)

    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        logp = torch.log_softmax(logits(x), -1)
        nll = -(logp.gather(-1, y[..., None])[..., 0] * wts).sum()
        reg = 0.5 * weight_decay * (params[0].pow(2).sum() + params[2].pow(2).sum())
        (nll + reg).backward()
        opt.step()
    with torch.no_grad():
        out = logits(xt).double().cpu().numpy()
    return out.reshape(n_sets, n_inits, len(task.x_test), c)
