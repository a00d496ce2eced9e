"""theorylab.structure.tensors: the Gram route against the explicit tensor, invariants, bad inputs."""

import numpy as np
import pytest

from theorylab import rng
from theorylab.structure import tensors


def _data(seed: int, m: int, n: int):
    gen = rng.numpy(seed, "test-tensors")
    return gen.random((m, n)), gen.choice([-1.0, 1.0], size=m)


# --- second route: explicit 2^N tensor against the Gram trick -------------------------------------
@pytest.mark.parametrize("theta", [0.085, 0.5, 1.0])
def test_gram_route_matches_explicit_tensor(theta):
    x, y = _data(0, 40, 8)
    d = tensors.data_tensor(x, y, theta=theta)
    for part in ([0], [0, 1], [0, 1, 2, 3], [2, 5, 7], [1, 3, 4, 6, 7]):
        assert abs(tensors.data_entanglement(x, y, part, theta=theta) - tensors.entanglement(d, part)) < 1e-9


def test_gram_route_when_the_sample_is_smaller_than_both_sides():
    x, y = _data(1, 20, 12)  # 2^6 = 64 > M = 20: the eigendecomposition route
    d = tensors.data_tensor(x, y, theta=0.5)
    part = [0, 2, 4, 6, 8, 10]
    assert abs(tensors.data_entanglement(x, y, part, theta=0.5) - tensors.entanglement(d, part)) < 1e-9


@pytest.mark.parametrize("dims, n", [(1, 8), (2, 16)])
def test_canonical_entanglement_matches_partition_by_partition(dims, n):
    x, y = _data(2, 30, n)
    d = tensors.data_tensor(x, y, theta=0.5)
    got = tensors.canonical_entanglement(x, y, dims=dims, levels=None, theta=0.5)
    for lev, parts in tensors.canonical_partitions(n, dims=dims).items():
        want = [tensors.entanglement(d, k) for k in parts]
        assert np.max(np.abs(got[lev] - want)) < 1e-9


def test_data_tensor_is_the_label_weighted_mean_of_product_states():
    x, y = _data(3, 5, 3)
    phi = tensors.embed(x, theta=0.3)
    want = sum(y[m] * np.einsum("i,j,k->ijk", *phi[m]) for m in range(5)) / 5
    assert np.allclose(tensors.data_tensor(x, y, theta=0.3), want)


def test_dyadic_blocks_tile_any_index_set():
    gen = rng.numpy(0, "blocks")
    for _ in range(50):
        idx = np.flatnonzero(gen.random(40) < gen.random())
        if idx.size == 0:
            continue
        blocks = tensors._dyadic_blocks(idx)
        covered = np.concatenate([np.arange(s, s + size) for s, size in blocks])
        assert np.array_equal(covered, idx)
        assert all(size & (size - 1) == 0 and s % size == 0 for s, size in blocks)


@pytest.mark.parametrize("budget", [0, 10_000, 256 * 2**20])
def test_plan_matches_the_explicit_tensor_whatever_it_caches(budget):
    x, y = _data(6, 24, 8)
    d = tensors.data_tensor(x, y, theta=0.5)
    plan = tensors.EntanglementPlan(x, y, theta=0.5, budget=budget)
    for part in ([0], [0, 1], [0, 1, 2, 3], [2, 5, 7], [4, 5, 6, 7], [1, 3, 4, 6, 7], [0, 1, 2, 3, 4]):
        assert abs(plan.entanglement(part) - tensors.entanglement(d, part)) < 1e-9


def test_data_entanglement_reuses_one_plan_and_its_values_do_not_depend_on_history():
    x, y = _data(7, 64, 32)
    parts = [k for ks in tensors.canonical_partitions(32, levels=(1, 2, 3)).values() for k in ks]
    tensors.clear_cache()
    first = [tensors.data_entanglement(x, y, k, theta=0.3) for k in parts]
    plan = next(iter(tensors._PLANS.values()))
    again = [tensors.data_entanglement(x.copy(), y.copy(), k, theta=0.3) for k in parts[::-1]][::-1]
    assert next(iter(tensors._PLANS.values())) is plan  # same data, same plan
    assert first == again  # bit-identical, in any order
    fresh = [tensors.EntanglementPlan(x, y, theta=0.3).entanglement(k) for k in parts]
    assert first == fresh
    batched = np.concatenate(list(tensors.canonical_entanglement(x, y, levels=(1, 2, 3), theta=0.3).values()))
    assert np.max(np.abs(np.array(first) - batched)) < 1e-10
    x2 = x.copy()
    x2[0, 0] = 1.0 - x2[0, 0]  # new data: a new plan, new values
    tensors.data_entanglement(x2, y, parts[0], theta=0.3)
    assert next(iter(tensors._PLANS.values())) is not plan and len(tensors._PLANS) == 1
    tensors.clear_cache()
    assert not tensors._PLANS


# --- identities and invariants ----------------------------------------------------------------------
def test_product_tensor_has_zero_entanglement():
    gen = rng.numpy(0, "product")
    vecs = [gen.standard_normal(3) for _ in range(4)]
    a = np.einsum("i,j,k,l->ijkl", *vecs)
    for part in ([0], [0, 1], [1, 3]):
        assert abs(tensors.entanglement(a, part)) < 1e-12


def test_maximally_entangled_two_by_two_is_ln2():
    bell = np.eye(2) / np.sqrt(2)
    assert abs(tensors.entanglement(bell, [0]) - np.log(2)) < 1e-12


def test_entanglement_is_invariant_to_order_within_each_side_and_symmetric():
    x, y = _data(4, 50, 8)
    k = [1, 4, 6]
    base = tensors.data_entanglement(x, y, k)
    gen = rng.numpy(0, "perm-within")
    rest = np.setdiff1d(np.arange(8), k)
    perm = np.empty(8, dtype=int)  # shuffle positions inside K and inside K^c only
    perm[k] = gen.permutation(k)
    perm[rest] = gen.permutation(rest)
    assert abs(tensors.data_entanglement(x[:, perm], y, k) - base) < 1e-10
    assert abs(tensors.data_entanglement(x, y, rest) - base) < 1e-10
    assert abs(tensors.data_entanglement(x, -y, k) - base) < 1e-10  # a global sign is invisible


def test_entanglement_is_at_most_log_of_the_smaller_side_and_of_m():
    x, y = _data(5, 6, 8)
    for part in ([0], [0, 1], [0, 1, 2, 3]):
        q = tensors.data_entanglement(x, y, part, theta=1.0)
        assert 0 <= q <= min(len(part) * np.log(2), np.log(6)) + 1e-12


def test_tail_mass_lemma():
    gen = rng.numpy(0, "tail")
    for _ in range(20):
        rho = np.sort(gen.dirichlet(np.full(30, 0.3)))[::-1]
        for r in (1, 3, 10):
            assert rho[r:].sum() <= tensors.entropy(rho) / np.log(r + 1) + 1e-12


def test_canonical_partitions_shapes_and_zorder():
    parts = tensors.canonical_partitions(8)
    assert [list(k) for k in parts[2]] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    quads = tensors.canonical_partitions(16, dims=2)
    assert [sorted(k) for k in quads[1]] == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    assert sorted(np.concatenate(quads[2])) == list(range(16))
    assert list(tensors.canonical_partitions(64, levels=[3])) == [3]


def test_a_label_that_factors_over_independent_features_leaves_no_entanglement():
    """Uniform product distribution on a grid: D is exactly the population tensor.

    y = s(x_0) s(x_3) factors, so D is a product tensor (QE 0 across every cut); an AND of the
    same two features does not factor, and the cuts that separate them carry entanglement.
    """
    vals = np.array([0.2, 0.8])
    x = np.array(np.meshgrid(*[vals] * 4, indexing="ij")).reshape(4, -1).T  # all 16 points
    y_prod = np.sign(x[:, 0] - 0.5) * np.sign(x[:, 3] - 0.5)
    y_and = np.where((x[:, 0] > 0.5) & (x[:, 3] > 0.5), 1.0, -1.0)
    for part in ([0], [0, 1], [1, 2]):
        assert abs(tensors.data_entanglement(x, y_prod, part, theta=0.5)) < 1e-10
    assert tensors.data_entanglement(x, y_and, [0, 1], theta=0.5) > 0.01
    assert abs(tensors.data_entanglement(x, y_and, [1, 2], theta=0.5)) < 1e-10


# --- failure paths ------------------------------------------------------------------------------------
@pytest.mark.parametrize("part, word", [([0, 0], "repeated"), ([8], "range"), ([-1], "range"),
                                        ([], "non-empty"), (list(range(8)), "proper"), ([0.5], "integer")])
def test_bad_partitions(part, word):
    x, y = _data(0, 10, 8)
    with pytest.raises(ValueError, match="part") as err:
        tensors.data_entanglement(x, y, part)
    assert word in str(err.value)


def test_bad_labels_features_and_sizes():
    x, y = _data(0, 10, 8)
    with pytest.raises(ValueError, match="y"):
        tensors.data_entanglement(x, np.where(y > 0, 1.0, 0.0), [0])
    with pytest.raises(ValueError, match="x"):
        tensors.data_entanglement(x * 3, y, [0])
    with pytest.raises(ValueError, match="theta"):
        tensors.data_entanglement(x, y, [0], theta=0.0)
    with pytest.raises(ValueError, match="n_features"):
        tensors.canonical_partitions(12)
    with pytest.raises(ValueError, match="n_features"):
        tensors.canonical_partitions(32, dims=2)
    with pytest.raises(ValueError, match="dims"):
        tensors.canonical_partitions(16, dims=3)
    with pytest.raises(ValueError, match="levels"):
        tensors.canonical_partitions(16, levels=[5])
    with pytest.raises(ValueError, match="n_features"):
        tensors.canonical_entanglement(np.zeros((4, 6)), np.ones(4))


def test_speed_all_canonical_partitions_m512_n1024():
    """The benchmark of the issue: levels 1-4 (29 partitions), M = 512, N = 1024, in seconds."""
    import time

    gen = rng.numpy(0, "bench")
    x, y = gen.random((512, 1024)), np.repeat([1.0, -1.0], 256)
    t0 = time.process_time()
    out = tensors.canonical_entanglement(x, y, levels=(1, 2, 3, 4))
    cpu = time.process_time() - t0
    print(f"canonical_entanglement M=512 N=1024 levels 1-4: {cpu:.2f} s CPU")
    assert [len(v) for v in out.values()] == [2, 4, 8, 16]
    assert cpu < 60
