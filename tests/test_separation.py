"""Tests of theorylab.structure.separation: grid tensors of product-aggregation GNNs and the walk bound."""

import itertools

import networkx as nx
import numpy as np
import pytest

from theorylab.structure import graphs
from theorylab.structure import separation as sp

TRIANGLES = nx.to_numpy_array(nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (3, 5)]),
                              nodelist=range(6), weight=None, dtype=np.int64)


def test_product_gnn_by_hand_on_an_edge():
    adj = np.array([[0, 1], [1, 0]])
    x = np.array([[[1.0], [2.0]]])  # D_x = 1
    w1, out = np.array([[3.0], [1.0]]), np.array([1.0, -1.0])
    # h1 = (3*1*3*2, 1*2) = (18, 2) at both vertices; graph output: 18*18 - 2*2
    assert sp.product_gnn(adj, x, [w1], out)[0] == pytest.approx(18 * 18 - 2 * 2)
    assert sp.product_gnn(adj, x, [w1], out, target=0)[0] == pytest.approx(18 - 2)


def test_boundary_and_walk_counts_agree_with_graphs():
    gen = np.random.default_rng(0)
    for _ in range(20):
        g = nx.gnp_random_graph(7, 0.35, seed=int(gen.integers(1 << 30)))
        adj = nx.to_numpy_array(g, nodelist=range(7), weight=None, dtype=np.int64)
        part = np.flatnonzero(gen.random(7) < 0.5)
        if len(part) in (0, 7):
            continue
        assert sorted(sp.boundary_set(adj, part)) == graphs.boundary(adj, part).tolist()
        for depth in (1, 2, 3):
            for target in (None, 3):
                e = sp.bound_exponents(adj, part, depth, target)
                assert e.walk_index == graphs.walk_index(adj, part, depth, target=target)
                assert e.recursion <= e.walks <= e.wi_bound


def test_matricization_rank_of_known_tensors():
    gen = np.random.default_rng(1)
    a, b = gen.standard_normal((3, 3)), gen.standard_normal((3, 3))
    product = np.einsum("ij,kl->ijkl", a, b)
    assert sp.matricization_rank(product, [0, 1]) == 1
    summed = sum(np.einsum("ij,kl->ijkl", gen.standard_normal((3, 3)), gen.standard_normal((3, 3)))
                 for _ in range(4))
    assert sp.matricization_rank(summed, [0, 1]) == 4
    assert sp.matricization_rank(summed, [0, 2]) == 9  # generic across the other cut


@pytest.mark.parametrize("depth", [2, 3])
def test_grid_rank_obeys_the_walk_bound(depth):
    gen = np.random.default_rng(depth)
    templates = gen.standard_normal((3, 3))
    ws, out = sp.random_weights(depth, 2, 3, gen)
    for target in (None, 0, 2, 5):
        grid = sp.grid_tensor(TRIANGLES, templates, ws, out, target)
        assert grid.shape == (3,) * 6
        for size in range(1, 6):
            for part in itertools.combinations(range(6), size):
                rank = sp.matricization_rank(grid, part)
                e = sp.bound_exponents(TRIANGLES, part, depth, target)
                assert rank <= 2 ** e.recursion
                if e.walk_index == 0:
                    assert rank == 1  # the output sees one side only


def test_grid_tensor_matches_pointwise_evaluation():
    gen = np.random.default_rng(5)
    templates = gen.standard_normal((2, 3))
    ws, out = sp.random_weights(2, 2, 3, gen)
    grid = sp.grid_tensor(TRIANGLES, templates, ws, out, target=1)
    idx = (1, 0, 0, 1, 1, 0)
    direct = sp.product_gnn(TRIANGLES, templates[list(idx)][None], ws, out, target=1)[0]
    assert grid[idx] == pytest.approx(direct)


def test_bad_adjacency():
    with pytest.raises(ValueError):
        sp.neighbourhoods(np.array([[0, 1], [0, 0]]))
    with pytest.raises(ValueError):
        sp.bound_exponents(TRIANGLES, [0], 0)
