"""Is-same-class at a distance: a small 1-D CNN, and a regularizer that counters locality.

Razin, Maman & Cohen (ICML 2022, arXiv 2201.11729, section on convolutional networks): the
implicit bias of a hierarchical tensor factorization toward low hierarchical tensor rank is, for
the convolutional network it models, a bias toward *local* interactions. A task whose label needs
two distant regions of the input to interact is then hard, harder the farther apart they are, and
a penalty that rewards interaction between distant regions helps.

Task. Two 8 x 8 digits (scikit-learn's, via :mod:`theorylab.data.digits`) are laid on a strip of
``length`` positions, each digit column one position with its 8 pixels as 8 channels, ``distance``
positions of noise between them; the label is 1 when both digits have the same class.

Regularizer (our description of the paper's "input gradient change" penalty). Let ``f(x)`` be the
network's logit and ``g_P(x)`` its input gradient restricted to a patch ``P``. Replace the other
patch ``Q`` of every example by patch ``Q`` of the next example in the batch (a cyclic shift),
giving ``x'``. Then

    R = mean over the batch of | cos( g_P(x), g_P(x') ) | .

If ``f`` had no interaction between ``P`` and ``Q`` (``f = a(x_P) + b(rest)``), ``g_P`` would not
change and ``|cos| = 1``; minimizing ``R`` pushes the gradient on ``P`` to depend on ``Q``, i.e.
toward non-local interactions. Here the two patches are the two digits; which one is ``P`` is
drawn at random at each step (as in the paper). The loss is ``BCE + lam * R``.

Every function works on ``M`` independent models at once (seeds x distances x penalties), stacked
along a leading axis and run as grouped convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

DIGIT = 8  # an 8 x 8 digit: 8 positions, 8 channels


def positions(length: int, distance: int) -> tuple[int, int]:
    """Start positions of the left and right digit, centred on the strip: right - left = 8 + distance."""
    free = length - 2 * DIGIT - distance
    if distance < 0 or free < 0:
        raise ValueError(f"distance {distance} does not fit on a strip of length {length}")
    left = free // 2
    return left, left + DIGIT + distance


def make_pairs(images: np.ndarray, labels: np.ndarray, n: int, distance: int, length: int, noise: float,
               gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` strips (n, 8, length) float32, labels (n,) with exactly n // 2 ones, and the classes (n, 2).

    ``images`` (N, 64) in [0, 1]. The background is uniform noise in [0, noise]; the digits are
    written over it (column j of a digit -> position start + j, its 8 rows -> the 8 channels).
    """
    if n % 2:
        raise ValueError("n must be even (balanced labels)")
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    y = np.zeros(n, dtype=np.int64)
    y[: n // 2] = 1
    y = gen.permutation(y)
    c1 = gen.integers(0, 10, n)
    c2 = np.where(y == 1, c1, (c1 + gen.integers(1, 10, n)) % 10)  # a different class, uniform
    i1 = np.array([gen.choice(by_class[c]) for c in c1])
    i2 = np.array([gen.choice(by_class[c]) for c in c2])
    x = (noise * gen.random((n, DIGIT, length))).astype(np.float32)
    left, right = positions(length, distance)
    cols = lambda idx: images[idx].reshape(-1, DIGIT, DIGIT)  # (n, row = channel, column = position)
    x[:, :, left:left + DIGIT] = cols(i1)
    x[:, :, right:right + DIGIT] = cols(i2)
    return x, y, np.stack([c1, c2], 1)


def init(n_models: int, channels: int, n_levels: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Weights and biases of ``n_models`` CNNs: ``n_levels`` conv(k=3)-ReLU-maxpool(2) blocks, then
    a conv(k=3)-ReLU, global average pooling and a linear output. He-uniform initialisation."""
    params, c_in = [], DIGIT
    for _ in range(n_levels + 1):
        bound = (6.0 / (3 * c_in)) ** 0.5
        params += [(torch.rand(n_models, channels, c_in, 3, generator=gen) * 2 - 1) * bound,
                   torch.zeros(n_models, channels)]
        c_in = channels
    params += [(torch.rand(n_models, channels, generator=gen) * 2 - 1) * (3.0 / channels) ** 0.5,
               torch.zeros(n_models)]
    return params


def forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits (M, B) of the M models on their inputs x (M, B, 8, L)."""
    m, b, c, length = x.shape
    h = x.permute(1, 0, 2, 3).reshape(b, m * c, length)
    convs = params[:-2]
    for k in range(0, len(convs), 2):
        w, bias = convs[k], convs[k + 1]
        h = F.conv1d(h, w.reshape(-1, w.shape[2], 3), bias.reshape(-1), padding=1, groups=m).relu()
        if k < len(convs) - 2:
            h = F.max_pool1d(h, 2)
    h = h.mean(-1).reshape(b, m, -1)                                   # (B, M, channels)
    return (h * params[-2]).sum(-1).T + params[-1][:, None]


def shuffle_patch(x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """x (M, B, 8, L) with the patch [start_m, start_m + 8) of example i replaced by example i+1's."""
    out = x.clone()
    for m, s in enumerate(start.tolist()):
        out[m, :, :, s:s + DIGIT] = x[m, :, :, s:s + DIGIT].roll(-1, dims=0)
    return out


def _patch(g: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """Flattened patch (M, B, 64) of g (M, B, 8, L) at per-model starts."""
    idx = start[:, None, None, None] + torch.arange(DIGIT)
    return torch.take_along_dim(g, idx.expand(*g.shape[:3], DIGIT), dim=3).flatten(2)


def grad_change(params: list[torch.Tensor], x: torch.Tensor, p_start: torch.Tensor,
                q_start: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """The regularizer R per model (M,): mean |cos| between the input gradients on patch P before
    and after patch Q is replaced by the next example's (differentiable in the parameters)."""
    xs = [x.detach().clone().requires_grad_(True), shuffle_patch(x.detach(), q_start).requires_grad_(True)]
    g = [_patch(torch.autograd.grad(forward(params, z).sum(), z, create_graph=True)[0], p_start) for z in xs]
    cos = (g[0] * g[1]).sum(-1) / (g[0].norm(dim=-1) * g[1].norm(dim=-1) + eps)
    return cos.abs().mean(-1)


@dataclass
class Result:
    accuracy: np.ndarray       # (M,) test accuracy
    train_accuracy: np.ndarray  # (M,)
    reg: np.ndarray            # (M,) regularizer on the test set at the end
    loss: np.ndarray           # (n_steps, M) training BCE per step


def train(params: list[torch.Tensor], x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
          y_test: torch.Tensor, starts: torch.Tensor, lam: torch.Tensor, *, n_steps: int, batch: int, lr: float,
          gen: torch.Generator) -> Result:
    """Adam on ``sum_m [BCE_m + lam_m R_m]``; x (M, n, 8, L), y (M, n), starts (M, 2) digit starts,
    lam (M,). Models with lam = 0 skip the regularizer's cost only if all of them have lam = 0."""
    params = [p.clone().requires_grad_(True) for p in params]
    opt = torch.optim.Adam(params, lr=lr)
    m, n = y_train.shape
    use_reg = bool((lam > 0).any())
    losses = []
    for _ in range(n_steps):
        idx = torch.randint(0, n, (batch,), generator=gen)
        xb, yb = x_train[:, idx], y_train[:, idx].float()
        bce = F.binary_cross_entropy_with_logits(forward(params, xb), yb, reduction="none").mean(-1)
        total = bce.sum()
        if use_reg:
            flip = int(torch.randint(0, 2, (1,), generator=gen))
            total = total + (lam * grad_change(params, xb, starts[:, flip], starts[:, 1 - flip])).sum()
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(bce.detach())
    with torch.no_grad():
        acc = ((forward(params, x_test) > 0).long() == y_test).float().mean(-1).numpy()
        tr = ((forward(params, x_train) > 0).long() == y_train).float().mean(-1).numpy()
    reg = grad_change(params, x_test[:, :256], starts[:, 0], starts[:, 1]).detach().numpy()
    return Result(acc, tr, reg, torch.stack(losses).numpy())


def run_grid(seeds: list[int], distances: list[int], lams: list[float], *, length: int = 64, noise: float = 0.5,
             n_train: int = 1000, n_test: int = 1000, channels: int = 8, n_steps: int = 300, batch: int = 64,
             lr: float = 3e-3) -> tuple[list[tuple[int, int, float]], Result]:
    """Train one CNN per (seed, distance, lam), all at once. Each seed splits the 1797 digits into
    1200 for training pairs and 597 for test pairs (no digit image in both), draws its pairs at every
    distance and one initialisation shared by its models. Returns the configurations and the result."""
    from theorylab import rng
    from theorylab.data import digits

    images, labels = digits.load()
    configs = [(s, d, lam) for s in seeds for d in distances for lam in lams]
    xs, ys, xts, yts, starts, inits = [], [], [], [], [], []
    levels = int(np.log2(length)) - 1
    for s in seeds:
        perm = rng.numpy(s, "samedist-split").permutation(len(labels))
        tr, te = perm[:1200], perm[1200:]
        w0 = init(1, channels, levels, rng.torch(s, "samedist-init"))
        for d in distances:
            gen = rng.numpy(s, "samedist-pairs", d)
            x, y, _ = make_pairs(images[tr], labels[tr], n_train, d, length, noise, gen)
            xt, yt, _ = make_pairs(images[te], labels[te], n_test, d, length, noise, gen)
            for _ in lams:
                xs.append(x), ys.append(y), xts.append(xt), yts.append(yt)
                starts.append(positions(length, d)), inits.append(w0)
    lam = np.array([c[2] for c in configs], dtype=np.float32)
    out = Result(np.zeros(len(configs)), np.zeros(len(configs)), np.zeros(len(configs)), np.zeros((n_steps, len(configs))))
    for group in (np.flatnonzero(lam == 0), np.flatnonzero(lam > 0)):  # unpenalized models skip the double backward
        if len(group) == 0:
            continue
        stack = lambda a: torch.as_tensor(np.stack([a[i] for i in group]))
        params = [torch.cat([inits[i][k] for i in group]) for k in range(len(inits[0]))]
        res = train(params, stack(xs), stack(ys), stack(xts), stack(yts), stack(starts), torch.as_tensor(lam[group]),
                    n_steps=n_steps, batch=batch, lr=lr, gen=rng.torch(seeds[0], "samedist-batches"))
        out.accuracy[group], out.train_accuracy[group], out.reg[group] = res.accuracy, res.train_accuracy, res.reg
        out.loss[:, group] = res.loss
    return configs, out
