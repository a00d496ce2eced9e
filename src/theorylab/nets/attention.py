r"""One softmax-attention layer with a fixed linear head, trained by normalized gradient descent.

The model reads a sequence :math:`X_i \in \mathbb R^{T\times d}` (rows are tokens :math:`x_{it}`)
through a query token :math:`z_i \in \mathbb R^d`:

.. math::  f(X_i) = v^\top X_i^\top s_i, \qquad s_i = \mathrm{softmax}(X_i W z_i), \qquad
           W = K Q^\top \ \text{(or } W \text{ itself)},

with the logistic loss :math:`L(W) = \tfrac1n\sum_i \log(1 + e^{-y_i f(X_i)})`. The token *scores*
are :math:`\gamma_{it} = y_i v^\top x_{it}`; :math:`y_i f(X_i) = \sum_t s_{it}\gamma_{it}`.

The gradient is written as a sum over token *pairs*,

.. math::  -\nabla_W L = \frac1n\sum_i \sigma(-y_i f_i) \sum_{t<t'} s_{it}s_{it'}
           (\gamma_{it} - \gamma_{it'})\,(x_{it} - x_{it'})\, z_i^\top ,

whose coefficients are products of positive numbers: we compute their logarithms
(log-softmax, log-sigmoid) and exponentiate after subtracting the largest one. The *direction*
of the gradient is then exact at any scale of :math:`W`, long after :math:`s_{it}` underflows and
long after :math:`\gamma_{i,\mathrm{opt}} - y_if_i` is lost to round-off (the naive autograd path
computes that difference and fails once it drops below the float's resolution).

Reference: Tarzanagh, Li, Thrampoulidis & Oymak (2023), *Transformers as Support Vector Machines*,
Section 2 (model) and Section 3; Tarzanagh, Li, Zhang & Oymak (NeurIPS 2023), *Max-Margin Token
Selection in Attention Mechanism*. Everything is float64 and batched over a leading seed axis S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import require_float, require_int


@dataclass(frozen=True)
class TokenData:
    """Sequences ``x`` (S, n, T, d), queries ``z`` (S, n, d), head ``v`` (S, d), labels ``y`` (S, n)."""

    x: np.ndarray
    z: np.ndarray
    v: np.ndarray
    y: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        r"""Token scores :math:`\gamma_{it} = y_i v^\top x_{it}`: (S, n, T)."""
        return self.y[..., None] * np.einsum("sntd,sd->snt", self.x, self.v)

    @property
    def opt(self) -> np.ndarray:
        """Index of the highest-scoring token of each sequence: (S, n)."""
        return self.scores.argmax(-1)


def separated_tokens(n: int, T: int, d: int, gens: list[np.random.Generator], low: float = -1.5,
                     high: float = -0.5, top: float = 1.0) -> TokenData:
    r"""Tokens with well-separated scores: one per sequence scores ``top``, the others uniform in [low, high].

    :math:`x_{it} = y_i\gamma_{it} v + g_{it}` with :math:`v` a random unit vector, :math:`g_{it}`
    Gaussian orthogonal to :math:`v` (entries of variance 1/d before projection); the optimal
    token's position is uniform. Queries :math:`z_i \sim N(0, I_d/d)`. One generator per seed.
    """
    n, T, d = (require_int(k, val, minimum=2) for k, val in (("n", n), ("T", T), ("d", d)))
    if not low <= high < top:
        raise ValueError(f"need low <= high < top; got {low}, {high}, {top}")
    xs, zs, vs, ys = [], [], [], []
    for g in gens:
        v = g.standard_normal(d)
        v /= np.linalg.norm(v)
        y = g.choice([-1.0, 1.0], size=n)
        gamma = g.uniform(low, high, size=(n, T))
        gamma[np.arange(n), g.integers(0, T, size=n)] = top
        noise = g.standard_normal((n, T, d)) / np.sqrt(d)
        noise -= np.einsum("ntd,d->nt", noise, v)[..., None] * v
        xs.append((y[:, None] * gamma)[..., None] * v + noise)
        zs.append(g.standard_normal((n, d)) / np.sqrt(d))
        vs.append(v), ys.append(y)
    return TokenData(*(np.stack(a) for a in (xs, zs, vs, ys)))


def two_optima_tokens(n: int, d: int, gens: list[np.random.Generator], noise: float = 0.05) -> TokenData:
    r"""Three tokens per sequence whose runner-up token is *also* a locally optimal selection.

    In the plane of the head :math:`v` and a random unit :math:`u_i \perp v`, with (v, u) coordinates
    and the score as first coordinate: runner-up :math:`(0.5, 0)`, worst :math:`(-1, 1)`, best
    :math:`(1, 5)`, times :math:`y_i` on the v axis, plus Gaussian noise of size ``noise`` off v.
    Selecting the runner-up, the best token lies beyond the worst one, its SVM constraint is
    inactive (4.25 / 3.25 > 1), and the only support token scores less: a local optimum. Queries are
    orthonormal (d >= n), so the SVM splits into one problem per sequence. Token order is random.
    """
    n, d = require_int("n", n, minimum=1), require_int("d", d, minimum=n + 1)
    coords = np.array([[0.5, 0.0], [-1.0, 1.0], [1.0, 5.0]])   # runner-up, worst, best
    xs, zs, vs, ys = [], [], [], []
    for g in gens:
        basis = np.linalg.qr(g.standard_normal((d, d)))[0]
        v, y = basis[:, 0], g.choice([-1.0, 1.0], size=n)
        u = np.linalg.qr(g.standard_normal((d, d)))[0][:, :n]
        u -= np.outer(v, v @ u)
        u /= np.linalg.norm(u, axis=0)
        x = np.empty((n, 3, d))
        for i in range(n):
            pts = y[i] * coords[:, :1] * v + coords[:, 1:] * u[:, i]
            x[i] = pts[g.permutation(3)]
        e = noise * g.standard_normal(x.shape) / np.sqrt(d)
        x += e - np.einsum("ntd,d->nt", e, v)[..., None] * v
        xs.append(x), zs.append(np.linalg.qr(g.standard_normal((d, d)))[0][:n]), vs.append(v), ys.append(y)
    return TokenData(*(np.stack(a) for a in (xs, zs, vs, ys)))


def forward(w: np.ndarray, data: TokenData) -> tuple[np.ndarray, np.ndarray]:
    """Attention logits X W z (S, n, T) and margins y f(X) (S, n) for W (S, d, d)."""
    logits = np.einsum("sntd,sde,sne->snt", data.x, w, data.z)
    s = np.exp(logits - logits.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    return logits, (s * data.scores).sum(-1)


def selected(w: np.ndarray, data: TokenData) -> np.ndarray:
    """The token each sequence attends to most, argmax_t x_t^T W z: (S, n)."""
    return forward(w, data)[0].argmax(-1)


def _log_softmax(a: np.ndarray) -> np.ndarray:
    top = a.max(-1, keepdims=True)
    return a - top - np.log(np.exp(a - top).sum(-1, keepdims=True))


def descent_direction(w: np.ndarray, data: TokenData) -> tuple[np.ndarray, np.ndarray]:
    r"""Unit Frobenius-norm direction of :math:`-\nabla_W L` and :math:`\log\|\nabla_W L\|_F`, in log domain.

    Uses the pair form of the module docstring: log-coefficients
    :math:`\log\sigma(-y_if_i) + \log s_{it} + \log s_{it'} + \log|\gamma_{it}-\gamma_{it'}|`, shifted by
    their maximum per seed before exponentiating. Args: w (S, d, d). Returns (S, d, d), (S,).
    """
    logits, margin = forward(w, data)
    log_s = _log_softmax(logits)                                   # (S, n, T)
    gam = data.scores
    diff = gam[..., :, None] - gam[..., None, :]                   # gamma_t - gamma_t'  (S, n, T, T)
    log_sig = -np.logaddexp(0.0, margin)                           # log sigma(-y f), (S, n)
    with np.errstate(divide="ignore"):
        omega = (log_sig[..., None, None] + log_s[..., :, None] + log_s[..., None, :]
                 + np.log(np.abs(diff)))
    top = omega.reshape(omega.shape[0], -1).max(-1)                # (S,)
    coef = np.sign(diff) * np.exp(omega - top[:, None, None, None])
    r = coef.sum(-1)                                               # sum_t' c_tt' (S, n, T); sum_t r_t = 0
    g = np.einsum("snt,sntd,sne->sde", r, data.x, data.z)          # = the pair sum (c is antisymmetric)
    size = np.linalg.norm(g, axis=(1, 2))
    n = data.x.shape[1]
    return g / size[:, None, None], top + np.log(size / n)


def loss(w: np.ndarray, data: TokenData) -> np.ndarray:
    """The logistic loss L(W) of each seed (for tests; not used to train): (S,)."""
    return np.logaddexp(0.0, -forward(w, data)[1]).mean(-1)


@dataclass(frozen=True)
class Trajectory:
    """Snapshots ``step`` (R,), attention matrices ``w`` (R, S, d, d) (W or K Q^T) and ``log_grad`` (R, S)."""

    step: np.ndarray
    w: np.ndarray
    log_grad: np.ndarray


def train(data: TokenData, *, param: str, lr: float, steps: int, record_every: int = 50,
          w0: np.ndarray | None = None, k0: np.ndarray | None = None, q0: np.ndarray | None = None,
          direction=None) -> Trajectory:
    r"""Normalized gradient descent on W (``param="w"``) or on (K, Q) with W = K Q^T (``param="kq"``).

    Each step has Frobenius length ``lr`` in the trained parameters: :math:`W \leftarrow W - \eta
    \nabla L/\|\nabla L\|_F`, or the same for the pair (K, Q), whose gradients are
    :math:`(\nabla_W L\, Q,\ \nabla_W L^\top K)`. The direction comes from :func:`descent_direction`
    (float64, log domain) unless ``direction`` (same signature) replaces it.
    Args: w0 (S, d, d), default 0; k0, q0 (S, d, m) for "kq" (required: K = Q = 0 is a saddle).
    """
    lr = require_float("lr", lr, low=0.0, low_open=True)
    steps = require_int("steps", steps, minimum=1)
    record_every = require_int("record_every", record_every, minimum=1)
    direction = descent_direction if direction is None else direction
    s, d = data.x.shape[0], data.x.shape[-1]
    if param == "w":
        w = np.zeros((s, d, d)) if w0 is None else np.array(w0, dtype=np.float64)
        current = lambda: w  # noqa: E731
    elif param == "kq":
        if k0 is None or q0 is None:
            raise ValueError("param='kq' needs k0 and q0 (K = Q = 0 is a stationary point)")
        k, q = np.array(k0, dtype=np.float64), np.array(q0, dtype=np.float64)
        current = lambda: k @ q.transpose(0, 2, 1)  # noqa: E731
    else:
        raise ValueError(f"param must be 'w' or 'kq'; got {param!r}")
    rec_step, rec_w, rec_g = [], [], []
    for t in range(steps + 1):
        wt = current()
        u, log_g = direction(wt, data)                      # u: unit direction of -grad_W L
        if t % record_every == 0 or t == steps:
            rec_step.append(t), rec_w.append(wt.copy()), rec_g.append(log_g)
        if t == steps:
            break
        if param == "w":
            w = w + lr * u
        else:
            dk, dq = u @ q, u.transpose(0, 2, 1) @ k        # -grad_K, -grad_Q up to the common scale
            size = np.sqrt((dk ** 2).sum((1, 2)) + (dq ** 2).sum((1, 2)))[:, None, None]
            k, q = k + lr * dk / size, q + lr * dq / size
    return Trajectory(np.array(rec_step), np.stack(rec_w), np.stack(rec_g))


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Frobenius cosine of the last two axes: (..., d, d) x (..., d, d) -> (...)."""
    num = (a * b).sum((-1, -2))
    return num / (np.linalg.norm(a, axis=(-1, -2)) * np.linalg.norm(b, axis=(-1, -2)))


def top_share(w: np.ndarray) -> np.ndarray:
    r"""Share of the largest singular value, :math:`\sigma_1/\sum_r\sigma_r`: (..., d, d) -> (...)."""
    sv = np.linalg.svd(w, compute_uv=False)
    return sv[..., 0] / sv.sum(-1)


def stable_rank(w: np.ndarray) -> np.ndarray:
    r"""Stable rank :math:`\|W\|_F^2/\|W\|_2^2`: (..., d, d) -> (...)."""
    sv = np.linalg.svd(w, compute_uv=False)
    return (sv ** 2).sum(-1) / sv[..., 0] ** 2


def naive_direction(w: np.ndarray, data: TokenData, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """The same direction as :func:`descent_direction`, by torch autograd on the loss as written (no log domain).

    For the "where it breaks" comparison: in ``dtype`` the margin's gap to the optimal score,
    and then the softmax tails, are rounded away as W grows, and the direction degrades to noise
    or NaN. Returns the normalized direction (S, d, d) and log ||grad|| (S,), both float64.
    """
    import torch

    dt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    wt = torch.tensor(w, dtype=dt, requires_grad=True)
    x, z = torch.tensor(data.x, dtype=dt), torch.tensor(data.z, dtype=dt)
    v, y = torch.tensor(data.v, dtype=dt), torch.tensor(data.y, dtype=dt)
    s = torch.softmax(torch.einsum("sntd,sde,sne->snt", x, wt, z), dim=-1)
    f = torch.einsum("snt,sntd,sd->sn", s, x, v)
    torch.nn.functional.softplus(-y * f).mean(-1).sum().backward()
    g = -wt.grad.detach().to(torch.float64).numpy()
    size = np.linalg.norm(g, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return g / size[:, None, None], np.log(size)
