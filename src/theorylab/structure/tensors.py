r"""Data tensors and their quantum entanglement under canonical partitions.

Each scalar feature :math:`x_n \in [0, 1]` is embedded as
:math:`\phi(x_n) = (\cos \pi\theta x_n, \sin \pi\theta x_n)`, and a labelled sample set
:math:`\{(x^{(m)}, y_m)\}_{m=1}^M` with :math:`y_m = \pm 1` defines the empirical data tensor

.. math::  \mathcal D = \frac1M \sum_{m=1}^M y_m \, \phi(x^{(m)}_1) \otimes \cdots \otimes \phi(x^{(m)}_N).

Its entanglement under a partition :math:`(K, K^c)` of the feature indices is the entropy of the
normalised squared singular values :math:`\rho_r` of the matricization :math:`[\![\mathcal D; K]\!]`,

.. math::  \mathrm{QE}(\mathcal D; K) = -\sum_r \rho_r \ln \rho_r  \quad \text{(nats)}.

Reference: Alexander, De La Vega, Razin & Cohen (NeurIPS 2023): the data tensor, quantum
entanglement and canonical partitions, and their released ``entropy_module.py`` (Gram matrices).

``data_entanglement`` never forms the :math:`2^N` tensor: with :math:`\Phi_K` the
:math:`M \times 2^{|K|}` matrix of embedded rows restricted to K, the matricization is
:math:`\tfrac1M \Phi_K^\top Y \Phi_{K^c}` (Y = diag(y)), so its squared singular values are the
eigenvalues of :math:`B^\top Y G_{K^c} Y B` where :math:`B B^\top = G_K` and the Gram matrices
:math:`G_S[i, j] = \prod_{n \in S} \cos(\pi\theta (x^{(i)}_n - x^{(j)}_n))` are M x M.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from theorylab.runtime import require_choice, require_float, require_int

__all__ = [
    "EntanglementPlan",
    "average_entanglement",
    "canonical_entanglement",
    "canonical_partitions",
    "clear_cache",
    "data_entanglement",
    "data_tensor",
    "embed",
    "entanglement",
    "entropy",
    "scale_unit",
]

_MAX_EXPLICIT_FEATURES = 22  # 2**22 float64 entries per sample row is already 32 MiB


# ----------------------------------------------------------------------------- validation
def _check_theta(theta: float) -> float:
    return require_float("theta", theta, low=0.0, high=1.0, low_open=True)


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be a non-empty (M, N) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() < -1e-9 or x.max() > 1 + 1e-9:
        raise ValueError("x must be finite with features scaled to [0, 1] (see scale_unit)")
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {y.shape}")
    if not np.all((y == 1) | (y == -1)):
        raise ValueError("y must contain labels -1 or +1 only")
    return x, y.astype(np.float64)


def _check_part(part: Sequence[int], n: int) -> np.ndarray:
    try:
        idx = np.asarray(part)
    except Exception as err:  # pragma: no cover - exotic inputs
        raise ValueError(f"part must be a sequence of feature indices: {err}") from None
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("part must be a non-empty 1-D sequence of integer feature indices")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"part has indices out of range [0, {n - 1}]")
    if np.unique(idx).size != idx.size:
        raise ValueError("part has repeated indices")
    if idx.size == n:
        raise ValueError("part must be a proper subset: its complement is empty")
    return idx.astype(np.int64)


def _tree_depth(n_features: int, dims: int) -> int:
    require_choice("dims", dims, (1, 2))  # 1: binary tree, 2: quad-tree
    n_features = require_int("n_features", n_features)
    branching = 2**dims
    depth, size = 0, 1
    while size < n_features:
        size *= branching
        depth += 1
    if size != n_features or n_features < branching:
        what = "a power of 2 (>= 2)" if dims == 1 else "a power of 4 (>= 4): a square 2^L x 2^L image"
        raise ValueError(f"n_features must be {what}, got {n_features}")
    return depth


# ----------------------------------------------------------------------------- partitions
def canonical_partitions(
    n_features: int, *, dims: int = 1, levels: Sequence[int] | None = None
) -> dict[int, list[np.ndarray]]:
    r"""Node sets of the perfect binary tree (or quad-tree) over the features, level by level.

    .. math::  \mathcal C_N = \{K = \{2^{L-l}(n-1)+1, \dots, 2^{L-l} n\} : l \in [L], n \in [2^l]\}

    Reference: Alexander et al. (2023), the canonical partitions; the quad-tree
    version (``dims=2``) splits a square image into quadrants recursively.

    Args:
        n_features: N = 2^L (``dims=1``) or N = 4^L, a 2^L x 2^L image flattened row-major
            (``dims=2``).
        dims: 1 for sequences, 2 for square images.
        levels: which tree levels to return (1 = children of the root, L = single features);
            all of 1..L by default.
    Returns:
        ``{level: [K_1, K_2, ...]}``: the sorted index arrays of the level's nodes, in
        depth-first (left-to-right, or Z-order for images) order, so siblings are consecutive.
    """
    depth = _tree_depth(n_features, dims)
    if levels is None:
        levels = range(1, depth + 1)
    levels = list(levels)
    levels = [require_int("levels", lev, minimum=1, maximum=depth) for lev in levels]
    out: dict[int, list[np.ndarray]] = {}
    for lev in levels:
        if dims == 1:
            size = n_features >> lev
            out[int(lev)] = [np.arange(k * size, (k + 1) * size) for k in range(2**lev)]
        else:
            side = 2**depth
            block = side >> lev
            blocks = []
            for code in range(4**lev):  # Z-order: interleave the bits of (row, col)
                r = c = 0
                for b in range(lev):
                    c |= ((code >> (2 * b)) & 1) << b
                    r |= ((code >> (2 * b + 1)) & 1) << b
                rows = np.arange(r * block, (r + 1) * block)
                cols = np.arange(c * block, (c + 1) * block)
                blocks.append((rows[:, None] * side + cols[None, :]).ravel())
            out[int(lev)] = blocks
    return out


# ----------------------------------------------------------------------------- explicit route
def scale_unit(x: np.ndarray) -> np.ndarray:
    """Min-max scale every feature (column) of ``x`` to [0, 1]; constant features become 0."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D (M, N) array, got shape {x.shape}")
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (x - lo) / span


def embed(x: np.ndarray, *, theta: float = 0.085) -> np.ndarray:
    r"""Feature map :math:`\phi(x) = (\cos\pi\theta x, \sin\pi\theta x)`; (M, N) -> (M, N, 2)."""
    theta = _check_theta(theta)
    x = np.asarray(x, dtype=np.float64)
    return np.stack([np.cos(np.pi * theta * x), np.sin(np.pi * theta * x)], axis=-1)


def data_tensor(x: np.ndarray, y: np.ndarray, *, theta: float = 0.085) -> np.ndarray:
    r"""The explicit data tensor :math:`\mathcal D = \frac1M\sum_m y_m \otimes_n \phi(x^{(m)}_n)`.

    Only for small N (memory M * 2^N); the test twin of :func:`data_entanglement`.

    Returns:
        an array of shape (2,) * N.
    """
    x, y = _check_xy(x, y)
    m, n = x.shape
    if n > _MAX_EXPLICIT_FEATURES:
        raise ValueError(f"x has N={n} features; the explicit tensor allows N <= {_MAX_EXPLICIT_FEATURES}")
    phi = embed(x, theta=theta)
    rows = (y / m)[:, None]  # (M, 1): running Kronecker product per sample
    for j in range(n):
        rows = (rows[:, :, None] * phi[:, None, j, :]).reshape(m, -1)
    return rows.sum(axis=0).reshape((2,) * n)


def entropy(weights: np.ndarray) -> float:
    r"""Shannon entropy :math:`-\sum_r \rho_r \ln\rho_r` of non-negative weights after normalising."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = w.sum()
    if total <= 0:
        raise ValueError("weights must have a positive sum (the tensor is zero)")
    rho = w[w > 0] / total
    return float(-(rho * np.log(rho)).sum())


def entanglement(tensor: np.ndarray, part: Sequence[int]) -> float:
    r"""Quantum entanglement :math:`\mathrm{QE}(A; K)` of an explicit tensor, by SVD.

    .. math::  \rho_r = \sigma_r^2 / \textstyle\sum_{r'} \sigma_{r'}^2, \qquad
               \mathrm{QE} = -\sum_r \rho_r \ln \rho_r,

    with :math:`\sigma_r` the singular values of the matricization whose rows are indexed by the
    modes in ``part`` (K) and whose columns by the rest.
    """
    a = np.asarray(tensor, dtype=np.float64)
    idx = _check_part(part, a.ndim)
    rest = np.setdiff1d(np.arange(a.ndim), idx)
    rows = int(np.prod([a.shape[i] for i in idx]))
    mat = np.transpose(a, np.concatenate([idx, rest])).reshape(rows, -1)
    return entropy(np.linalg.svd(mat, compute_uv=False) ** 2)


# ----------------------------------------------------------------------------- Gram route
def _gram(x: np.ndarray, idx: np.ndarray, theta: float) -> np.ndarray:
    """G[i, j] = prod_{n in idx} cos(pi theta (x_in - x_jn)) = <phi_idx(x_i), phi_idx(x_j)>."""
    c, s = np.cos(np.pi * theta * x[:, idx]), np.sin(np.pi * theta * x[:, idx])
    g = np.ones((x.shape[0], x.shape[0]))
    tmp = np.empty_like(g)
    for j in range(idx.size):  # one rank-2 factor per feature; cost O(M^2) each
        np.multiply.outer(c[:, j], c[:, j], out=tmp)
        tmp += np.multiply.outer(s[:, j], s[:, j])
        g *= tmp
    return g


def _explicit_rows(x: np.ndarray, idx: np.ndarray, theta: float) -> np.ndarray:
    """Phi_K: the (M, 2^|K|) embedded rows restricted to K (Khatri-Rao product of phi's)."""
    phi = embed(x[:, idx], theta=theta)
    rows = np.ones((x.shape[0], 1))
    for j in range(idx.size):
        rows = (rows[:, :, None] * phi[:, None, j, :]).reshape(x.shape[0], -1)
    return rows


def _qe_from_factor(b: np.ndarray, y: np.ndarray, g_rest: np.ndarray) -> float:
    """QE from B (B B^T = G_K) and G_{K^c}: sigma^2 = eig(B^T Y G_{K^c} Y B)."""
    yb = y[:, None] * b
    core = yb.T @ g_rest @ yb
    return entropy(np.linalg.eigvalsh((core + core.T) / 2))


def _factor(g: np.ndarray) -> np.ndarray:
    """B with B B^T = G, dropping the numerically-zero eigen-directions (exact up to rounding)."""
    w, u = np.linalg.eigh(g)
    keep = w > w.max() * g.shape[0] * np.finfo(float).eps
    return u[:, keep] * np.sqrt(w[keep])


def _qe_split(x: np.ndarray, y: np.ndarray, idx: np.ndarray, g_side: np.ndarray | None,
              g_rest: np.ndarray, theta: float) -> float:
    """QE for K = idx given G_{K^c}; uses Phi_K explicitly when 2^|K| < M, else an eigh of G_K."""
    if 2 ** idx.size < x.shape[0]:
        return _qe_from_factor(_explicit_rows(x, idx, theta), y, g_rest)
    if g_side is None:
        g_side = _gram(x, idx, theta)
    return _qe_from_factor(_factor(g_side), y, g_rest)


def _dyadic_blocks(idx: np.ndarray) -> list[tuple[int, int]]:
    """Split sorted distinct indices into maximal aligned blocks [s, s + 2^k): (s, 2^k) pairs."""
    blocks = []
    runs = np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1)
    for run in runs:
        s, e = int(run[0]), int(run[-1]) + 1
        while s < e:
            size = s & -s if s else 1 << (e - s).bit_length()
            while s + size > e:
                size //= 2
            blocks.append((s, size))
            s += size
    return blocks


class EntanglementPlan:
    r"""Shares the work of :func:`data_entanglement` across partitions of the same data.

    The Gram matrix of a feature set is the entrywise product of those of its parts, so the plan
    keeps :math:`G_S` for aligned dyadic blocks of features, :math:`S = [s, s + 2^k)`, each the
    product of its two halves, and builds :math:`G_K`, :math:`G_{K^c}` from the few blocks that
    tile them. The first partition costs :math:`O(M^2 N)` as before; every later one costs a few
    :math:`M \times M` products and one eigendecomposition, so looping over the canonical
    partitions costs about as much as :func:`canonical_entanglement`. Blocks of at least
    ``N / 2^k`` features are kept, k as large as ``budget`` bytes allow.

    Usage: ``plan = EntanglementPlan(x, y, theta=theta)``; ``plan.entanglement(part)``. The
    function :func:`data_entanglement` keeps one plan for the last data it saw.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, theta: float = 0.085,
                 budget: int = 128 * 2**20):
        self.theta = _check_theta(theta)
        self.x, self.y = _check_xy(x, y)
        m, n = self.x.shape
        fit = max(int(budget) // (8 * m * m), 0)  # number of M x M blocks the budget holds
        levels = max((fit + 2).bit_length() - 2, 0)  # 2 + 4 + ... + 2^levels <= fit
        self.min_cached = max(n >> levels, 1) if levels else n + 1
        self._blocks: dict[tuple[int, int], np.ndarray] = {}

    def _block(self, start: int, size: int) -> np.ndarray:
        key = (start, size)
        if key in self._blocks:
            return self._blocks[key]
        if size < max(self.min_cached, 2) or size <= 8:  # small: straight from the features
            g = _gram(self.x, np.arange(start, start + size), self.theta)
        else:
            half = size // 2
            g = self._block(start, half) * self._block(start + half, half)
        if size >= self.min_cached:
            self._blocks[key] = g
        return g

    def gram(self, idx: np.ndarray) -> np.ndarray:
        """G_S for sorted distinct feature indices S: the product of the blocks that tile S."""
        blocks = _dyadic_blocks(np.asarray(idx, dtype=np.int64))
        g = self._block(*blocks[0]).copy()
        for b in blocks[1:]:
            g *= self._block(*b)
        return g

    def entanglement(self, part: Sequence[int]) -> float:
        """QE (nats) under the partition (part, rest); see :func:`data_entanglement`."""
        x, y = self.x, self.y
        idx = _check_part(part, x.shape[1])
        rest = np.setdiff1d(np.arange(x.shape[1]), idx)
        if idx.size > rest.size:  # factor the smaller side: the explicit route is cheaper there
            idx, rest = rest, idx
        idx = np.sort(idx)
        g_side = None if 2 ** idx.size < x.shape[0] else self.gram(idx)
        return _qe_split(x, y, idx, g_side, self.gram(rest), self.theta)


_PLANS: dict[tuple, EntanglementPlan] = {}  # the last data seen by data_entanglement


def _plan_for(x: np.ndarray, y: np.ndarray, theta: float) -> EntanglementPlan:
    xs = np.ascontiguousarray(x, dtype=np.float64)
    ys = np.ascontiguousarray(y, dtype=np.float64)
    digest = hashlib.blake2b(memoryview(xs).cast("B"), digest_size=16)
    digest.update(memoryview(ys).cast("B"))
    key = (xs.shape, ys.shape, float(theta), digest.hexdigest())
    plan = _PLANS.get(key)
    if plan is None:
        _PLANS.clear()
        plan = _PLANS[key] = EntanglementPlan(xs, ys, theta=theta)
    return plan


def clear_cache() -> None:
    """Forget the plan that :func:`data_entanglement` keeps for the last data (frees its memory)."""
    _PLANS.clear()


def data_entanglement(
    x: np.ndarray, y: np.ndarray, part: Sequence[int], *, theta: float = 0.085
) -> float:
    r"""QE (nats) of the data tensor of ``(x, y)`` under the partition (part, rest), exactly.

    .. math::  \sigma^2(\mathcal D; K) = \mathrm{eig}\big(B^\top Y G_{K^c} Y B\big)/M^2,
               \quad B B^\top = G_K

    Reference: Alexander et al. (2023) and their released code, which also works with Gram
    matrices. Cost O(M^2 N + M^3) for the first partition of a data set; the 2^N tensor is never
    formed. Later calls on the same ``(x, y, theta)`` (recognised by a hash of the values) reuse
    the Gram matrices of feature blocks through an :class:`EntanglementPlan`: O(M^3) each.

    Args:
        x: (M, N) features scaled to [0, 1] (see :func:`scale_unit`).
        y: (M,) labels in {-1, +1}.
        part: indices of K (non-empty, distinct, in range, not all features).
        theta: the frequency of the embedding.
    Returns:
        QE in nats, in [0, ln min(M, 2^|K|, 2^{N-|K|})].
    """
    theta = _check_theta(theta)
    x, y = _check_xy(x, y)
    _check_part(part, x.shape[1])
    return _plan_for(x, y, theta).entanglement(part)


def canonical_entanglement(
    x: np.ndarray,
    y: np.ndarray,
    *,
    dims: int = 1,
    levels: Sequence[int] | None = (1, 2, 3, 4),
    theta: float = 0.085,
) -> dict[int, np.ndarray]:
    r"""QE of the data tensor under every canonical partition of the given levels.

    Same numbers as calling :func:`data_entanglement` on each set of
    :func:`canonical_partitions`, but the Gram matrices are shared along the tree: a node's Gram
    matrix is the entrywise product of its children's, and its complement's is the parent's
    complement times the siblings'. Cost O(M^2 N + (#partitions) M^3), memory O(#nodes M^2).

    Returns:
        ``{level: array of QE, one per node of that level in canonical order}``.
    """
    theta = _check_theta(theta)
    x, y = _check_xy(x, y)
    n = x.shape[1]
    _tree_depth(n, dims)
    parts = canonical_partitions(n, dims=dims, levels=levels)
    deepest = max(parts)
    tree = canonical_partitions(n, dims=dims, levels=range(1, deepest + 1))
    branching = 2**dims
    # Gram matrices of every node, bottom-up (level `deepest` from the features).
    grams: dict[int, list[np.ndarray]] = {deepest: [_gram(x, k, theta) for k in tree[deepest]]}
    for lev in range(deepest - 1, 0, -1):
        kids = grams[lev + 1]
        grams[lev] = [np.prod(kids[i * branching:(i + 1) * branching], axis=0)
                      for i in range(len(tree[lev]))]
    out: dict[int, np.ndarray] = {}
    comp_prev = [np.ones((x.shape[0], x.shape[0]))]  # the root has an empty complement
    for lev in range(1, deepest + 1):
        comp = []
        for i, _ in enumerate(tree[lev]):
            parent, first = divmod(i, branching)[0], (i // branching) * branching
            sib = [grams[lev][j] for j in range(first, first + branching) if j != i]
            comp.append(comp_prev[parent] * np.prod(sib, axis=0))
        if lev in parts:
            values = []
            for i, k in enumerate(tree[lev]):
                if dims == 1 and lev == 1 and i == 1:  # the two halves are complementary
                    values.append(values[0])
                    continue
                values.append(_qe_split(x, y, k, grams[lev][i], comp[i], theta))
            out[lev] = np.asarray(values)
        comp_prev = comp
        grams.pop(lev - 1, None)
    return out


def average_entanglement(
    x: np.ndarray,
    y: np.ndarray,
    *,
    dims: int = 1,
    levels: Sequence[int] | None = (1, 2, 3, 4),
    theta: float = 0.085,
) -> float:
    """Mean over levels of the mean QE over the level's canonical partitions (the paper's summary)."""
    per_level = canonical_entanglement(x, y, dims=dims, levels=levels, theta=theta)
    return float(np.mean([v.mean() for v in per_level.values()]))
