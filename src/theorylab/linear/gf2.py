"""Linear algebra over the two-element field GF(2), and parities as a hypothesis class.

A parity on {0, 1}^d is h_w(x) = <w, x> mod 2 for a weight vector w in GF(2)^d. A sample
S = (X, y), X in GF(2)^{m x d}, is fitted by every solution of X w = y, an affine subspace of size
2^{d - rank X} when it is non-empty. Under uniform inputs two different parities disagree on exactly
half of the inputs, so the population error of h_w under target h_f is 0 if w = f and 1/2 otherwise.
The rank of a uniform random m x d matrix has the exact law (Gaussian binomial counting)

    P(rank = r) = 2^{-md} prod_{i<r} (2^m - 2^i)(2^d - 2^i) / (2^r - 2^i),

and in particular P(rank = d) = prod_{i<d} (1 - 2^{i-m}) for m >= d. This is the finite construction
of Gastpar, Nachum, Shafer and Weinberger, "Fantastic generalization measures are nowhere to be
found" (ICLR 2024, arXiv:2309.13658). Every routine is batched over leading axes where it says so.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _bits(a) -> np.ndarray:
    a = np.asarray(a)
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError("GF(2) arrays must hold only 0 and 1")
    return a.astype(np.uint8)


def row_reduce(a, n_cols: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Jordan elimination over GF(2) of a batch ``a`` of shape (..., m, n) (row operations are XOR).

    Only the first ``n_cols`` columns are used as pivots (default: all; pass d for an augmented
    [X | y]). Returns the reduced matrices (rows in their original places), ``pivot_row`` of shape
    (..., n_cols) (the row holding column j's pivot, or -1) and the rank, shape (...).
    """
    a = _bits(a).copy()
    shape, (m, n) = a.shape[:-2], a.shape[-2:]
    n_cols = n if n_cols is None else n_cols
    a = a.reshape(-1, m, n)
    b = np.arange(a.shape[0])
    used = np.zeros((a.shape[0], m), bool)
    pivot_row = np.full((a.shape[0], n_cols), -1)
    for j in range(n_cols):
        ones = a[:, :, j] == 1
        cand = ones & ~used
        has = cand.any(1)
        p = cand.argmax(1)
        prow = a[b, p]                                       # (B, n)
        hit = ones.copy()
        hit[b, p] = False
        hit &= has[:, None]
        a ^= hit[:, :, None].astype(np.uint8) * prow[:, None, :]
        used[b[has], p[has]] = True
        pivot_row[has, j] = p[has]
    return a.reshape(*shape, m, n), pivot_row.reshape(*shape, n_cols), used.sum(1).reshape(shape)


def rank(a) -> np.ndarray:
    """Rank over GF(2) of a batch of matrices (..., m, n)."""
    return row_reduce(a)[2]


def solve(x, y) -> tuple[np.ndarray, np.ndarray]:
    """One solution of X w = y over GF(2) (free coordinates set to 0), batched over leading axes.

    Returns ``(w, consistent)``: w of shape (..., d) and a boolean (...) saying whether a solution exists.
    This is the ERM of the parity class: a parity with zero training error whenever one exists.
    """
    x, y = _bits(x), _bits(y)
    d = x.shape[-1]
    red, piv, _ = row_reduce(np.concatenate([x, y[..., None]], -1), d)
    rhs = red[..., -1]                                              # (..., m)
    pivot_rows = (piv[..., None, :] == np.arange(rhs.shape[-1])[:, None]).any(-1)   # (..., m)
    consistent = ~((rhs == 1) & ~pivot_rows).any(-1)
    w = np.where(piv >= 0, np.take_along_axis(rhs, np.maximum(piv, 0), -1), 0).astype(np.uint8)
    return w, consistent


def null_space(x) -> np.ndarray:
    """A basis of {v : X v = 0} over GF(2) for one matrix X (m, d): shape (d - rank, d)."""
    red, piv, _ = row_reduce(x)
    d = piv.shape[-1]
    basis = []
    for f in np.flatnonzero(piv < 0):
        v = np.zeros(d, np.uint8)
        v[f] = 1
        for j in np.flatnonzero(piv >= 0):
            v[j] = red[piv[j], f]
        basis.append(v)
    return np.array(basis, np.uint8).reshape(-1, d)


def all_vectors(d: int) -> np.ndarray:
    """Every vector of GF(2)^d, shape (2^d, d), in binary counting order."""
    return ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(np.uint8)


def consistent_parities(x, y) -> np.ndarray:
    """Every parity w with X w = y (one sample): the particular solution plus the span of the null space."""
    w, ok = solve(x, y)
    if not ok:
        return np.zeros((0, np.shape(x)[-1]), np.uint8)
    basis = null_space(x)
    coef = all_vectors(len(basis))
    return (w[None] ^ (coef.astype(np.int64) @ basis % 2).astype(np.uint8)) if len(basis) else w[None]


def consistent_brute_force(x, y) -> np.ndarray:
    """The same set by trying all 2^d parities (for checking; d <= 20)."""
    x, y = _bits(x), _bits(y)
    ws = all_vectors(x.shape[-1])
    return ws[((ws.astype(np.int64) @ x.T.astype(np.int64)) % 2 == y).all(1)]


def twin(x, h) -> np.ndarray | None:
    """A second target f != h that agrees with h on every row of X: h XOR a nonzero null vector.

    It exists iff rank X < d; returns None otherwise. Both targets label the sample identically.
    """
    basis = null_space(x)
    return None if len(basis) == 0 else h ^ basis[0]


def population_error(h, f) -> np.ndarray:
    """Error of parity h under target parity f with uniform inputs: 0 if h = f, else exactly 1/2 (batched)."""
    return 0.5 * (np.asarray(h) != np.asarray(f)).any(-1)


def population_error_enumerated(h, f) -> float:
    """The same error by averaging over all 2^d inputs (for checking)."""
    xs = all_vectors(len(h)).astype(np.int64)
    return float(np.mean((xs @ np.asarray(h, np.int64)) % 2 != (xs @ np.asarray(f, np.int64)) % 2))


def rank_distribution(m: int, d: int) -> np.ndarray:
    """Exact P(rank = r), r = 0..min(m, d), for an m x d matrix with independent uniform bits."""
    out = []
    for r in range(min(m, d) + 1):
        count = 1
        for i in range(r):
            count *= (2**m - 2**i) * (2**d - 2**i)
        den = 1
        for i in range(r):
            den *= 2**r - 2**i
        out.append(float(Fraction(count, den * 2 ** (m * d))))
    return np.array(out)


def p_full_column_rank(m: int, d: int) -> float:
    """P(rank = d) = prod_{i<d} (1 - 2^{i-m}) (zero when m < d): all d columns independent."""
    return float(np.prod([1 - 2.0 ** (i - m) for i in range(d)])) if m >= d else 0.0
