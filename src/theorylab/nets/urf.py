r"""Universal random features: a layer's activation f(wᵀx) as a dot product Φ(x)ᵀΨ(w).

For a Gaussian vector :math:`\omega\sim\mathcal N(0, I_d)` the *tilt* (likelihood ratio of
:math:`\mathcal N(w, I)` against :math:`\mathcal N(0, I)`)

.. math::  \psi(\omega; w) = e^{\omega^\top w - \|w\|^2/2}

turns an average under :math:`\mathcal N(0, I)` into one under :math:`\mathcal N(w, I)`. Hence for any
input feature :math:`\phi(\omega; x) = g(\omega^\top x)`,
:math:`\mathbb E[\phi\,\psi] = \mathbb E_{z\sim\mathcal N(x^\top w, \|x\|^2)}[g(z)]`, and the activation is
reproduced exactly when :math:`g` is :math:`f` run backwards through the heat equation for time
:math:`s = \|x\|^2`:

.. math::  f(x^\top w) = \mathbb E_\omega\big[g_f(\omega^\top x; \|x\|^2)\,\psi(\omega; w)\big],\qquad
           g_{\exp}(z; s) = e^{z - s/2},\ g_{\sin}(z; s) = e^{s/2}\sin z,\ g_{\cos}(z; s) = e^{s/2}\cos z.

Monte Carlo with :math:`m` features gives :math:`\Phi(x)^\top\Psi(w)` with
:math:`\Phi_k = g(\omega_k^\top x)/\sqrt m`, :math:`\Psi_k = \psi(\omega_k; w)/\sqrt m`: unbiased, with
variance :math:`V/m` where :math:`V` is given in closed form by :func:`single_variance`. A two-layer
network :math:`\sum_j v_j f(w_j^\top x)` then *bundles* into one vector :math:`\Psi(W)v` (:func:`bundle`).

Reference: Sehanobish, Choromanski, Zhao, Dubey & Likhosherstov, *Scalable Neural Network Kernels*,
ICLR 2024 (arXiv:2310.13225), Sec. 3 (universal random features through the Fourier transform of
f and the Gaussian identity of positive random features) and Sec. 4 (bundling). The heat-equation
form used here is our way of writing the same construction with the whole frequency on the input side.
"""

from __future__ import annotations

import numpy as np
import torch

from ..runtime import require_choice, require_float, require_int

__all__ = ["ACTIVATIONS", "activation", "input_map", "weight_features", "input_features", "estimate",
           "second_moment", "single_variance", "network", "bundle", "bundled_variance", "lstsq_readout",
           "draw_omega", "train_classifiers", "parameter_counts", "digits_replicas"]

ACTIVATIONS = ("exp", "sin", "cos")


def activation(f: str, z: np.ndarray) -> np.ndarray:
    """The activation itself, f(z), for f in :data:`ACTIVATIONS`."""
    require_choice("f", f, ACTIVATIONS)
    return {"exp": np.exp, "sin": np.sin, "cos": np.cos}[f](z)


def input_map(f: str, z: np.ndarray, s: np.ndarray | float) -> np.ndarray:
    r"""The input-side function :math:`g_f(z; s)` with :math:`\mathbb E_{z\sim\mathcal N(\mu, s)}g_f(z; s) = f(\mu)`.

    .. math::  g_{\exp} = e^{z-s/2},\quad g_{\sin} = e^{s/2}\sin z,\quad g_{\cos} = e^{s/2}\cos z.

    Args: z: projections :math:`\omega^\top x`, any shape; s: :math:`\|x\|^2`, broadcastable to z.
    """
    require_choice("f", f, ACTIVATIONS)
    if f == "exp":
        return np.exp(z - s / 2)
    return np.exp(s / 2) * (np.sin(z) if f == "sin" else np.cos(z))


def draw_omega(d: int, m: int, gen: np.random.Generator) -> np.ndarray:
    """The m Gaussian frequencies of the features, shape (d, m), entries iid N(0, 1)."""
    require_int("d", d, minimum=1)
    require_int("m", m, minimum=1)
    return gen.standard_normal((d, m))


def weight_features(W: np.ndarray, omega: np.ndarray) -> np.ndarray:
    r"""Ψ(w) for each column w of ``W``: :math:`\Psi_k(w) = e^{\omega_k^\top w-\|w\|^2/2}/\sqrt m`.

    Args: W: (..., d, l) weights, one neuron per column; omega: (..., d, m), batch dimensions broadcast.
    Returns (..., m, l).
    """
    m = omega.shape[-1]
    return np.exp(np.swapaxes(omega, -1, -2) @ W - 0.5 * (W * W).sum(-2, keepdims=True)) / np.sqrt(m)


def input_features(f: str, X: np.ndarray, omega: np.ndarray) -> np.ndarray:
    r"""Φ(x) for each row x of ``X``: :math:`\Phi_k(x) = g_f(\omega_k^\top x; \|x\|^2)/\sqrt m`.

    Args: X: (..., n, d) inputs; omega: (..., d, m), batch dimensions broadcast. Returns (..., n, m).
    """
    m = omega.shape[-1]
    s = (X * X).sum(-1, keepdims=True)
    return input_map(f, X @ omega, s) / np.sqrt(m)


def estimate(f: str, X: np.ndarray, W: np.ndarray, omega: np.ndarray) -> np.ndarray:
    r"""The URF estimate :math:`\Phi(X)\Psi(W)\approx f(XW)`, shape (n, l), from the m features in ``omega``."""
    return input_features(f, X, omega) @ weight_features(W, omega)


def second_moment(f: str, x: np.ndarray, a: np.ndarray) -> np.ndarray:
    r"""The Gaussian average :math:`M_f(x; a) = \mathbb E_{z\sim\mathcal N(x^\top a, s)}[g_f(z; s)^2]`, :math:`s=\|x\|^2`.

    .. math::  M_{\exp} = e^{2x^\top a + s},\qquad M_{\sin/\cos} = \tfrac12 e^{s}\big(1 \mp e^{-2s}\cos(2x^\top a)\big).

    Args: x: (..., d); a: (..., d), broadcast against each other. Returns the batch shape.
    """
    require_choice("f", f, ACTIVATIONS)
    s = (x * x).sum(-1)
    mu = (x * a).sum(-1)
    if f == "exp":
        return np.exp(2 * mu + s)
    sign = -1.0 if f == "sin" else 1.0
    return 0.5 * np.exp(s) * (1 + sign * np.exp(-2 * s) * np.cos(2 * mu))


def single_variance(f: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    r"""Variance of one feature product :math:`g_f(\omega^\top x)\psi(\omega; w)`; the m-feature estimator has this over m.

    .. math::  V_f(x, w) = e^{\|w\|^2} M_f(x; 2w) - f(x^\top w)^2,
               \qquad V_{\exp} = e^{2x^\top w}\big(e^{\|x+w\|^2} - 1\big).

    Reference: SNNK Sec. 3 (variance of URFs); the exp case is the positive-random-feature variance
    of Choromanski et al. (2021), arXiv:2009.14794. Args: x, w: (..., d). Returns the batch shape.
    """
    ww = (w * w).sum(-1)
    return np.exp(ww) * second_moment(f, x, 2 * w) - activation(f, (x * w).sum(-1)) ** 2


def network(f: str, X: np.ndarray, W: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""A two-layer network :math:`y(x) = \sum_j v_j f(w_j^\top x)`. X: (n, d), W: (d, l), v: (l,) or (l, k)."""
    return activation(f, X @ W) @ v


def bundle(W: np.ndarray, v: np.ndarray, omega: np.ndarray) -> np.ndarray:
    r"""Collapse a layer and its readout into one vector: :math:`g = \Psi(W)v = \sum_j v_j\Psi(w_j)`.

    The bundled network is :math:`\Phi(x)^\top g`, the same number as
    :math:`\sum_j v_j\Phi(x)^\top\Psi(w_j)` (SNNK Sec. 4). Args: W: (d, l); v: (l,) or (l, k); omega: (d, m).
    Returns (m,) or (m, k).
    """
    return weight_features(W, omega) @ v


def bundled_variance(f: str, x: np.ndarray, W: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""Variance of one feature of the bundled network at the inputs x (so the m-feature MSE is this over m).

    .. math::  V(x) = \sum_{j,k} v_j v_k\, e^{w_j^\top w_k} M_f(x; w_j + w_k) - y(x)^2,

    from :math:`\psi(\omega; w_j)\psi(\omega; w_k) = e^{w_j^\top w_k}\psi(\omega; w_j + w_k)`.
    Args: x: (n, d); W: (d, l); v: (l,). Returns (n,).
    """
    pair = W.T[:, None, :] + W.T[None, :, :]                      # (l, l, d): w_j + w_k
    m2 = second_moment(f, x[:, None, None, :], pair[None])        # (n, l, l)
    coupling = np.outer(v, v) * np.exp(W.T @ W)                    # (l, l)
    return (m2 * coupling).sum((1, 2)) - network(f, x, W, v) ** 2


def lstsq_readout(Phi: np.ndarray, Y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    r"""The closed-form fully bundled network: :math:`G = (\Phi^\top\Phi + \lambda I)^{-1}\Phi^\top Y`.

    It minimises :math:`\|\Phi G - Y\|^2 + \lambda\|G\|^2` exactly, with no backpropagation (SNNK Sec. 4).
    Args: Phi: (..., n, m); Y: (..., n, k). Returns (..., m, k).
    """
    require_float("ridge", ridge, low=0.0)
    m = Phi.shape[-1]
    A = np.swapaxes(Phi, -1, -2) @ Phi + ridge * np.eye(m)
    return np.linalg.solve(A, np.swapaxes(Phi, -1, -2) @ Y)


def parameter_counts(d: int, width: int, m: int, classes: int) -> dict[str, int]:
    """Trainable parameters: dense layer (d x width, bias folded into x), SNNK layer (m x width), readout shared;
    and the fully bundled network (m x classes)."""
    readout = width * classes + classes
    return {"dense": d * width + readout, "snnk": m * width + readout, "bundled": m * classes}


def train_classifiers(kind: str, Xtr: torch.Tensor, ytr: torch.Tensor, Xte: torch.Tensor, yte: torch.Tensor, *,
                      width: int, steps: int, lr: float, gen: torch.Generator, omega: torch.Tensor | None = None,
                      init_scale: float = 1.0) -> torch.Tensor:
    r"""Train R replicas at once (full-batch Adam, cross-entropy) and return their test accuracies, shape (R,).

    ``kind="dense"``: :math:`x\mapsto V^\top\sin(W^\top x) + c`, W of shape (d, width) trained.
    ``kind="snnk"``: :math:`x\mapsto V^\top(\Theta^\top\Phi(x)) + c` with the sin-URF input features
    :math:`\Phi(x)` of ``omega`` (R, d, m) fixed and :math:`\Theta` (m, width) trained, initialised at
    :math:`\Psi(W_0)`, the weight features of the dense layer's initial weights (SNNK Sec. 3.1).
    Args: Xtr: (R, n, d) with the bias folded in as a constant coordinate; ytr: (R, n) labels; likewise Xte, yte.
    """
    require_choice("kind", kind, ("dense", "snnk"))
    R, _, d = Xtr.shape
    classes = int(ytr.max()) + 1
    W0 = torch.randn(R, d, width, generator=gen, dtype=Xtr.dtype) * init_scale / d ** 0.5
    V = (torch.randn(R, width, classes, generator=gen, dtype=Xtr.dtype) / width ** 0.5).requires_grad_(True)
    c = torch.zeros(R, 1, classes, dtype=Xtr.dtype, requires_grad=True)
    if kind == "dense":
        first = W0.clone().requires_grad_(True)
        feats = (lambda X: torch.sin(X @ first))
    else:
        if omega is None:
            raise ValueError("omega must be given (shape (R, d, m)) when kind='snnk'")
        om = omega.numpy()                                  # the same maps as input_features / weight_features
        phi_tr, phi_te = (torch.from_numpy(input_features("sin", X.numpy(), om)).to(Xtr.dtype) for X in (Xtr, Xte))
        first = torch.from_numpy(weight_features(W0.numpy(), om)).to(Xtr.dtype).requires_grad_(True)
        feats = (lambda X: (phi_tr if X is Xtr else phi_te) @ first)
    opt = torch.optim.Adam([first, V, c], lr=lr)
    for _ in range(steps):
        logits = feats(Xtr) @ V + c
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, classes), ytr.reshape(-1)) * R
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return ((feats(Xte) @ V + c).argmax(-1) == yte).to(Xtr.dtype).mean(1)


def digits_replicas(seeds: list[int], n_train: int, radius: float) -> tuple[torch.Tensor, ...]:
    r"""scikit-learn's 8x8 digits, centred, each image scaled to norm ``radius``, with a constant 1 appended
    (the bias), and split at random into train/test once per seed.

    Returns Xtr (R, n_train, 65), ytr (R, n_train), Xte (R, 1797 - n_train, 65), yte, float32, R = len(seeds).
    """
    from .. import rng
    from ..data import digits

    require_int("n_train", n_train, minimum=10, maximum=1700)
    require_float("radius", radius, low=0.0, low_open=True)
    X, y = digits.load()  # pixels in [0, 1]; the scale cancels in the normalization below
    X = X - X.mean(0)
    X = radius * X / np.linalg.norm(X, axis=1, keepdims=True)
    Xa = torch.tensor(np.c_[X, np.ones(len(X))], dtype=torch.float32)
    yt = torch.tensor(y)
    perms = [rng.numpy(s, "digits-split").permutation(len(X)) for s in seeds]
    tr, te = [p[:n_train] for p in perms], [p[n_train:] for p in perms]
    return (torch.stack([Xa[i] for i in tr]), torch.stack([yt[i] for i in tr]),
            torch.stack([Xa[i] for i in te]), torch.stack([yt[i] for i in te]))
