"""Tests of theorylab.structure.graphs: walk index (matrix powers vs enumeration) and WIS (fast vs naive)."""
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from theorylab.structure import graphs


def random_graph(n: int, p: float, seed: int) -> np.ndarray:
    return nx.to_numpy_array(nx.gnp_random_graph(n, p, seed=seed), weight=None, dtype=np.int64)


@pytest.fixture(scope="module")
def karate() -> np.ndarray:
    return nx.to_numpy_array(nx.karate_club_graph(), weight=None, dtype=np.int64)


# ---------------------------------------------------------------- 2. second route: enumeration
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_walk_index_matches_enumeration_on_random_graphs(seed, depth):
    a = random_graph(12, 0.3, seed)
    gen = np.random.default_rng(seed)
    for _ in range(4):
        part = np.flatnonzero(gen.random(12) < 0.4)
        c = graphs.boundary(a, part)
        assert graphs.walk_index(a, part, depth) == graphs.count_walks(a, c, depth - 1)
        t = int(gen.integers(12))
        assert graphs.walk_index(a, part, depth, target=t) == graphs.count_walks(a, c, depth - 1, target=t)


def test_boundary_matches_definition(karate):
    part = [0, 1, 2, 3, 7, 13]
    inside = set(part)
    expected = {i for i in range(34) for j in np.flatnonzero(karate[i]) if (i in inside) != (j in inside)}
    assert set(graphs.boundary(karate, part).tolist()) == expected


def test_vertex_walk_indices_match_singleton_walk_index(karate):
    for depth in (1, 2, 3, 4):
        wi = graphs.vertex_walk_indices(karate, depth)
        assert all(wi[t] == graphs.walk_index(karate, [t], depth, target=t) for t in range(34))


def test_two_wis_closed_form(karate):
    """WI_2(t) = 2 triangles + 3 deg + 1[deg > 0] (the chapter's equation eq-wi-two)."""
    a = graphs.remove_edges(karate, graphs.edges(karate)[::3])  # leave some low-degree vertices
    deg = a.sum(1)
    tri = np.array([nx.triangles(nx.from_numpy_array(a))[t] for t in range(34)])
    assert np.array_equal(graphs.vertex_walk_indices(a, 3), 2 * tri + 3 * deg + (deg > 0))


def test_known_two_clique_values():
    """Two 16-cliques and a bridge: the numbers worked out by hand in the chapter."""
    from theorylab.structure import gnn

    a = gnn.two_cliques()
    assert graphs.walk_index(a, range(16), 3) == 548
    assert graphs.walk_index(a, range(0, 32, 2), 3) == 8258


# ---------------------------------------------------------------- 3. invariants
def test_walk_index_symmetric_in_the_partition(karate):
    part = [0, 5, 6, 10, 16]
    rest = sorted(set(range(34)) - set(part))
    for depth in (2, 3):
        assert graphs.walk_index(karate, part, depth) == graphs.walk_index(karate, rest, depth)


def test_walk_index_invariant_under_relabelling(karate):
    perm = np.random.default_rng(0).permutation(34)
    b = karate[np.ix_(perm, perm)]  # vertex i of b is vertex perm[i] of karate
    inv = np.argsort(perm)
    part = [0, 1, 33]
    assert graphs.walk_index(karate, part, 3) == graphs.walk_index(b, inv[part], 3)


def test_empty_partition_and_components_have_zero_walk_index():
    a = np.zeros((6, 6), dtype=np.int64)
    a[0, 1] = a[1, 0] = a[1, 2] = a[2, 1] = 1  # path 0-1-2
    a[3, 4] = a[4, 3] = a[4, 5] = a[5, 4] = 1  # path 3-4-5
    for depth in (1, 2, 3):
        assert graphs.walk_index(a, [], depth) == 0
        assert graphs.walk_index(a, range(6), depth) == 0
        assert graphs.walk_index(a, [0, 1, 2], depth) == 0  # a whole component: no crossing edge
    assert graphs.walk_index(a, [0], 1) == 2  # depth 1: the boundary's size


def test_accepts_torch_and_numpy_alike(karate):
    assert graphs.walk_index(torch.tensor(karate), [0, 1], 3) == graphs.walk_index(karate, [0, 1], 3)


# ---------------------------------------------------------------- WIS: fast against naive
@pytest.mark.parametrize("seed", range(8))
def test_incremental_wis_equals_naive(seed):
    a = random_graph(16, 0.3, seed)
    m = int(a.sum() // 2)
    for depth in (2, 3):
        naive = graphs.wis(a, depth, m, method="naive")
        fast = graphs.wis(a, depth, m, method="incremental")
        assert np.array_equal(naive, fast)


@pytest.mark.parametrize("seed", range(8))
def test_one_wis_equals_general_wis_at_depth_two(seed):
    a = random_graph(16, 0.35, 100 + seed)
    m = int(a.sum() // 2)
    one, general = graphs.one_wis(a, m), graphs.wis(a, 2, m, method="naive")
    for k in range(m + 1):
        s1 = np.sort(graphs.vertex_walk_indices(graphs.remove_edges(a, one[:k]), 2))
        s2 = np.sort(graphs.vertex_walk_indices(graphs.remove_edges(a, general[:k]), 2))
        assert np.array_equal(s1, s2)


def test_wis_is_greedy_optimal_at_each_step(karate):
    """The first removal's sorted vector is lexicographically >= that of every other edge."""
    first = graphs.wis(karate, 3, 1)[0]
    best = tuple(np.sort(graphs.vertex_walk_indices(graphs.remove_edges(karate, [first]), 3)))
    for e in graphs.edges(karate):
        assert tuple(np.sort(graphs.vertex_walk_indices(graphs.remove_edges(karate, [e]), 3))) <= best


def test_removals_are_distinct_existing_edges_and_never_self_loops(karate):
    e = {tuple(x) for x in graphs.edges(karate)}
    gen = np.random.default_rng(0)
    for order in (graphs.one_wis(karate, 78), graphs.wis(karate, 3, 78), graphs.random_removal(karate, 78, gen),
                  graphs.spectral_removal(karate, 78, gen)):
        pairs = [tuple(x) for x in order]
        assert len(set(pairs)) == 78 and set(pairs) == e
        assert all(u != v for u, v in pairs)


def test_wis_does_not_isolate_while_it_can(karate):
    for order in (graphs.one_wis(karate, 39), graphs.wis(karate, 3, 39)):
        assert graphs.remove_edges(karate, order).sum(1).min() >= 1


def test_effective_resistance_of_tree_edges_is_one():
    a = nx.to_numpy_array(nx.balanced_tree(2, 3), weight=None, dtype=np.int64)
    assert np.allclose(graphs.effective_resistance(a), 1.0)
    k = nx.to_numpy_array(nx.complete_graph(6), weight=None, dtype=np.int64)
    assert np.allclose(graphs.effective_resistance(k), 2 / 6)  # K_n: 2/n


# ---------------------------------------------------------------- sparse input: same answers
def naive_one_wis(adj: np.ndarray, n_remove: int) -> np.ndarray:
    """Algorithm 2 by rescanning every edge's degree pair at every step (the obvious O(m) loop)."""
    e = graphs.edges(adj)
    deg = adj.sum(1).astype(np.int64)
    alive = np.ones(len(e), dtype=bool)
    out = []
    for _ in range(n_remove):
        du, dv = deg[e[:, 0]], deg[e[:, 1]]
        score = np.where(alive, np.minimum(du, dv) * (deg.max() + 2) + np.maximum(du, dv), -1)
        k = int(np.argmax(score))  # the first index among ties: canonical order
        alive[k] = False
        deg[e[k]] -= 1
        out.append(e[k])
    return np.array(out, dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize("n, p, seed", [(30, 0.3, 0), (40, 0.15, 1), (25, 0.8, 2), (60, 0.05, 3), (50, 0.5, 4)])
def test_one_wis_bucket_queue_equals_naive_rescan(n, p, seed):
    """Dense, sparse and sparse-to-many-ties graphs: the whole removal sequence and its prefixes."""
    a = random_graph(n, p, seed)
    m = int(a.sum() // 2)
    naive = naive_one_wis(a, m)
    assert np.array_equal(graphs.one_wis(a, m), naive)
    for k in (0, 1, m // 3, m // 2):
        assert np.array_equal(graphs.one_wis(sp.csr_array(a), k), naive[:k])


def test_one_wis_equals_naive_on_a_hub_graph():
    """Power-law degrees: hubs make long runs of stale entries and many bucket visits."""
    a = nx.to_numpy_array(nx.barabasi_albert_graph(300, 4, seed=5), weight=None, dtype=np.int64)
    m = int(a.sum() // 2)
    assert np.array_equal(graphs.one_wis(a, m), naive_one_wis(a, m))


def sparse_forms(a: np.ndarray):
    idx = torch.tensor(np.array(np.nonzero(a)))
    return [sp.csr_array(a), sp.coo_matrix(a), sp.csc_array(a.astype(np.float32)), graphs.graph(a),
            torch.sparse_coo_tensor(idx, torch.ones(idx.shape[1]), a.shape, check_invariants=True)]


def test_sparse_input_gives_the_dense_answers(karate):
    part = [0, 1, 2, 3, 7, 13]
    order = graphs.one_wis(karate, 30)
    for s in sparse_forms(karate):
        assert np.array_equal(graphs.edges(s), graphs.edges(karate))
        assert np.array_equal(graphs.boundary(s, part), graphs.boundary(karate, part))
        for depth in (1, 2, 3, 4):
            assert graphs.walk_index(s, part, depth) == graphs.walk_index(karate, part, depth)
            assert graphs.walk_index(s, part, depth, target=5) == graphs.walk_index(karate, part, depth, target=5)
            assert np.array_equal(graphs.vertex_walk_indices(s, depth), graphs.vertex_walk_indices(karate, depth))
        assert np.array_equal(graphs.walk_matrix(s, 3), graphs.walk_matrix(karate, 3))
        assert np.array_equal(graphs.one_wis(s, 30), order)
        assert np.array_equal(graphs.wis(s, 3, 20), graphs.wis(karate, 3, 20))
        assert graphs.count_walks(s, [0, 5], 3) == graphs.count_walks(karate, [0, 5], 3)
        assert np.array_equal(graphs.random_removal(s, 10, np.random.default_rng(1)),
                              graphs.random_removal(karate, 10, np.random.default_rng(1)))
        assert np.allclose(graphs.effective_resistance(s), graphs.effective_resistance(karate))
        assert np.array_equal(graphs.spectral_removal(s, 10, np.random.default_rng(2)),
                              graphs.spectral_removal(karate, 10, np.random.default_rng(2)))


def test_remove_edges_keeps_the_input_kind(karate):
    order = graphs.one_wis(karate, 20)
    dense = graphs.remove_edges(karate, order)
    assert isinstance(dense, np.ndarray) and dense.dtype == np.int64
    s = graphs.remove_edges(sp.csr_array(karate), order)
    assert sp.issparse(s) and np.array_equal(s.toarray(), dense)
    g = graphs.remove_edges(graphs.graph(karate), order[:, ::-1])  # (v, u) names the same edge
    assert isinstance(g, graphs.Graph) and np.array_equal(g.dense(), dense)


@pytest.mark.parametrize("seed", range(4))
def test_vertex_walk_indices_sparse_diagonal_equals_dense_matrix_power(seed):
    a = random_graph(20, 0.25, seed)
    a[0] = a[:, 0] = 0  # an isolated vertex: walk index 0
    for depth in range(1, 7):
        assert np.array_equal(graphs.vertex_walk_indices(a, depth), graphs._vertex_walk_indices_dense(a, depth))


def test_walk_counts_are_exact_beyond_float_precision():
    """K_60: A_hat = J, so A_hat^9 = 60^8 J and every vertex is on the boundary of {0}."""
    a = np.ones((60, 60), dtype=np.int64) - np.eye(60, dtype=np.int64)
    assert graphs.walk_index(a, [0], 10) == 60**10  # > 2^53: counted in int64, not float
    assert graphs.walk_index(a, [0], 10, target=7) == 60**9
    with pytest.raises(ValueError, match="overflow"):
        graphs.walk_index(a, [0], 12)


# ---------------------------------------------------------------- 4. failure paths
@pytest.mark.parametrize("bad, match", [
    (np.array([[0, 1], [0, 0]]), "symmetric"),
    (np.array([[0, 2], [2, 0]]), "0 and 1"),
    (np.array([[1, 1], [1, 0]]), "diagonal"),
    (np.zeros((2, 3)), "square"),
])
def test_bad_adjacency_raises(bad, match):
    with pytest.raises(ValueError, match=f"adj.*{match}|{match}"):
        graphs.walk_index(bad, [0], 2)
    if bad.shape[0] == bad.shape[1]:
        with pytest.raises(ValueError, match=f"adj.*{match}|{match}"):
            graphs.walk_index(sp.csr_array(bad), [0], 2)


def test_bad_sparse_adjacency_raises():
    dup = sp.coo_array((np.ones(4), ([0, 0, 1, 1], [1, 1, 0, 0])), shape=(2, 2))  # duplicates sum to 2
    with pytest.raises(ValueError, match="0 and 1"):
        graphs.edges(dup)
    zeros = sp.csr_array((np.array([1.0, 0.0, 1.0]), np.array([1, 1, 0]), np.array([0, 2, 3])), shape=(2, 2))
    assert np.array_equal(graphs.edges(zeros), [[0, 1]])  # explicit zeros are not edges
    with pytest.raises(ValueError, match="square"):
        graphs.edges(sp.csr_array((2, 3)))


def test_bad_arguments_raise(karate):
    with pytest.raises(ValueError, match="subset"):
        graphs.walk_index(karate, [0, 34], 2)
    with pytest.raises(ValueError, match="depth"):
        graphs.walk_index(karate, [0], 0)
    with pytest.raises(ValueError, match="target"):
        graphs.walk_index(karate, [0], 2, target=-1)
    with pytest.raises(ValueError, match="n_remove"):
        graphs.one_wis(karate, 79)
    with pytest.raises(ValueError, match="n_remove"):
        graphs.wis(karate, 3, 79)
    with pytest.raises(ValueError, match="method"):
        graphs.wis(karate, 4, 1, method="incremental")
    with pytest.raises(ValueError, match="depth"):
        graphs.vertex_walk_indices(karate, 0)
