"""theorylab.structure.rearrange: recovery of a hidden order, surrogate identities, bad inputs."""

import numpy as np
import pytest

from theorylab import rng
from theorylab.structure import locality, rearrange, tensors


def _chains(seed: int, n: int = 32, m: int = 2000, ar: float = 0.8):
    gen = rng.numpy(seed, "test-rearrange")
    x, y = locality.planted_chains(m, n, gen=gen, ar=ar, amplitude=0.0)
    return x, y, gen


def _blocks(order: np.ndarray, size: int) -> set[frozenset]:
    return {frozenset(order[i:i + size].tolist()) for i in range(0, order.size, size)}


def test_rearrangement_recovers_the_canonical_sets_of_a_scrambled_chain():
    x, _, gen = _chains(0)
    perm = gen.permutation(32)
    rec = perm[rearrange.feature_order(x[:, perm], seed=0)]  # original index at each new position
    for size in (16, 8, 4):
        assert _blocks(rec, size) == _blocks(np.arange(32), size)


def test_orientation_fix_recovers_the_chain_up_to_reversal():
    x, _, gen = _chains(1)
    perm = gen.permutation(32)
    rec = perm[rearrange.feature_order(x[:, perm], seed=0, orient=True)]
    assert np.array_equal(rec, np.arange(32)) or np.array_equal(rec, np.arange(32)[::-1])


def test_rearrangement_lowers_the_surrogate_to_the_original_value():
    x, _, gen = _chains(2)
    perm = gen.permutation(32)
    xp = x[:, perm]
    xr = xp[:, rearrange.feature_order(xp, seed=0)]
    orig = rearrange.canonical_surrogate(x, levels=[1, 2, 3])
    assert rearrange.canonical_surrogate(xr, levels=[1, 2, 3]) <= orig * (1 + 1e-9)
    assert rearrange.canonical_surrogate(xp, levels=[1, 2, 3]) > 1.2 * orig


def test_two_dimensional_order_is_a_permutation_and_restores_quadrants():
    gen = rng.numpy(3, "image")
    # smooth 8x8 images: a 2-D random field by blurring white noise
    noise = gen.standard_normal((1500, 12, 12))
    k = np.ones(5) / 5
    field = np.apply_along_axis(lambda r: np.convolve(r, k, "valid"), 2, noise)
    field = np.apply_along_axis(lambda c: np.convolve(c, k, "valid"), 1, field).reshape(1500, 64)
    perm = gen.permutation(64)
    order = rearrange.feature_order(field[:, perm], dims=2, seed=0)
    assert sorted(order) == list(range(64))
    rec = perm[order]
    quads = {frozenset(q.tolist()) for q in tensors.canonical_partitions(64, dims=2)[1]}
    got = {frozenset(rec[q].tolist()) for q in tensors.canonical_partitions(64, dims=2)[1]}
    assert got == quads


def test_surrogate_is_the_cut_of_the_abs_correlation_graph():
    x, _, _ = _chains(4, n=8, m=500)
    c = np.abs(np.corrcoef(x, rowvar=False))
    assert np.isclose(rearrange.correlation_surrogate(x, [0, 1, 2]), c[:3, 3:].sum())
    rest = rearrange.correlation_surrogate(x, range(3, 8))
    assert np.isclose(rearrange.correlation_surrogate(x, [0, 1, 2]), rest)


def test_random_swaps_is_a_permutation_and_zero_swaps_is_identity():
    gen = rng.numpy(0, "swaps")
    assert np.array_equal(rearrange.random_swaps(10, 0, gen=gen), np.arange(10))
    p = rearrange.random_swaps(10, 7, gen=gen)
    assert sorted(p) == list(range(10)) and (p != np.arange(10)).sum() <= 14


def test_constant_features_do_not_break_the_correlation():
    x, _, _ = _chains(5, n=8, m=300)
    x[:, 3] = 1.0
    c = rearrange.abs_correlation(x)
    assert np.all(np.isfinite(c)) and c[3, 0] > 0


def test_bad_inputs():
    x, _, _ = _chains(0, n=8, m=100)
    with pytest.raises(ValueError, match="n_features"):
        rearrange.feature_order(x[:, :6])
    with pytest.raises(ValueError, match="orient"):
        rearrange.feature_order(np.zeros((10, 16)) + np.arange(16), dims=2, orient=True)
    with pytest.raises(ValueError, match="part"):
        rearrange.correlation_surrogate(x, [0, 0])
    with pytest.raises(ValueError, match="n_swaps"):
        rearrange.random_swaps(8, -1, gen=rng.numpy(0, "x"))
