import itertools

import numpy as np
import pytest

from theorylab.linear import gf2


def _brute_rank(x):
    """Rank over GF(2) as log2 of the number of distinct vectors in the row span."""
    m = x.shape[0]
    span = {tuple(np.array(c, np.int64) @ x % 2) for c in itertools.product((0, 1), repeat=m)}
    return int(np.log2(len(span)))


def test_rank_matches_brute_force_span():
    g = np.random.default_rng(0)
    for m, d in [(1, 3), (3, 3), (4, 6), (6, 4), (7, 5)]:
        xs = g.integers(0, 2, (20, m, d))
        assert list(gf2.rank(xs)) == [_brute_rank(x) for x in xs]


def test_gf2_rank_differs_from_real_rank():
    x = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])              # rows sum to 0 mod 2, not over the reals
    assert gf2.rank(x) == 2 and np.linalg.matrix_rank(x) == 3


def test_consistent_parities_match_brute_force():
    g = np.random.default_rng(1)
    for m, d in [(2, 5), (5, 5), (8, 6), (3, 8)]:
        for _ in range(10):
            x = g.integers(0, 2, (m, d))
            y = x @ g.integers(0, 2, d) % 2 if g.random() < 0.8 else g.integers(0, 2, m)
            enum, brute = gf2.consistent_parities(x, y), gf2.consistent_brute_force(x, y)
            assert sorted(map(tuple, enum)) == sorted(map(tuple, brute))
            w, ok = gf2.solve(x, y)
            assert ok == (len(brute) > 0)
            if ok:
                assert len(brute) == 2 ** (d - int(gf2.rank(x)))
                assert (x @ w % 2 == y).all()


def test_solve_is_batched():
    g = np.random.default_rng(2)
    x, w = g.integers(0, 2, (50, 4, 7)), g.integers(0, 2, (50, 7))
    y = np.einsum("bmd,bd->bm", x, w) % 2
    h, ok = gf2.solve(x, y)
    assert ok.all() and (np.einsum("bmd,bd->bm", x, h) % 2 == y).all()


def test_twin_is_consistent_and_errors_are_exact():
    g = np.random.default_rng(3)
    x = g.integers(0, 2, (4, 6))
    h = g.integers(0, 2, 6)
    f = gf2.twin(x, h)
    assert f is not None and (f != h).any() and (x @ f % 2 == x @ h % 2).all()
    assert gf2.population_error_enumerated(h, f) == gf2.population_error(h, f) == 0.5
    assert gf2.population_error_enumerated(h, h) == 0.0
    assert gf2.twin(np.eye(3, dtype=int), np.zeros(3, int)) is None


@pytest.mark.parametrize("m,d", [(2, 3), (3, 3), (4, 2), (3, 4)])
def test_rank_distribution_exact_by_enumeration(m, d):
    counts = np.zeros(min(m, d) + 1)
    xs = gf2.all_vectors(m * d).reshape(-1, m, d)
    np.add.at(counts, gf2.rank(xs), 1)
    assert np.allclose(gf2.rank_distribution(m, d), counts / counts.sum(), atol=1e-15)
    assert gf2.rank_distribution(m, d).sum() == pytest.approx(1.0)


def test_full_rank_product_formula():
    for m in range(16, 30):
        assert gf2.p_full_column_rank(m, 16) == pytest.approx(gf2.rank_distribution(m, 16)[16], rel=1e-12)
    assert gf2.p_full_column_rank(8, 16) == 0.0


def test_rejects_non_binary():
    with pytest.raises(ValueError):
        gf2.rank(np.array([[2, 0]]))
