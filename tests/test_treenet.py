"""theorylab.structure.treenet: rank bound of tree networks, hierarchical SVD, the width bounds, bad inputs."""

import numpy as np
import pytest

from theorylab import rng
from theorylab.structure import tensors, treenet


def test_tree_network_of_width_r_has_qe_at_most_ln_r():
    gen = rng.numpy(0, "tree")
    for width in (1, 2, 3, 5):
        w = treenet.tree_tensor(8, width, gen=gen)
        for parts in tensors.canonical_partitions(8).values():
            for k in parts:
                assert tensors.entanglement(w, k) <= np.log(width) + 1e-9


def test_hierarchical_truncation_is_width_r_and_obeys_the_tail_bound():
    gen = rng.numpy(0, "hsvd")
    a = treenet.tree_tensor(8, 4, gen=gen) + 0.1 * gen.standard_normal((2,) * 8)
    a /= np.linalg.norm(a)
    parts = tensors.canonical_partitions(8)
    for width in (1, 2, 3):
        h = treenet.hierarchical_truncation(a, width)
        tail = 0.0
        for lev, ks in parts.items():
            for i, k in enumerate(ks):
                rest = np.setdiff1d(np.arange(8), k)
                mat = np.transpose(h, np.concatenate([k, rest])).reshape(2 ** len(k), -1)
                assert np.linalg.matrix_rank(mat, tol=1e-10) <= width
                if not (lev == 1 and i == 1):
                    s = np.linalg.svd(np.transpose(a, np.concatenate([k, rest])).reshape(2 ** len(k), -1),
                                      compute_uv=False)
                    tail += np.sum(s[width:] ** 2)
        assert np.sum((a - h) ** 2) <= tail + 1e-12


def test_width_bounds_sandwich_the_truncation():
    gen = rng.numpy(1, "bounds")
    a = treenet.tree_tensor(8, 2, gen=gen) + 0.05 * gen.standard_normal((2,) * 8)
    df = treenet.width_bounds(a, range(1, 6))
    assert (df["lower_qe"] <= df["hsvd"] + 1e-12).all()
    assert (df["hsvd"] <= df["upper_tail"] + 1e-12).all()
    assert (df["upper_tail"] <= df["upper_qe"] + 1e-12).all()


def test_bad_arguments_name_the_parameter():
    gen = rng.numpy(0, "bad")
    with pytest.raises(ValueError, match="width"):
        treenet.tree_tensor(8, 0, gen=gen)
    with pytest.raises(ValueError, match="leaf_dim"):
        treenet.tree_tensor(8, 2, gen=gen, leaf_dim=0)
    with pytest.raises(ValueError, match="n_features"):
        treenet.tree_tensor(6, 2, gen=gen)
    with pytest.raises(ValueError, match="tensor"):
        treenet.hierarchical_truncation(np.ones((2, 2, 2)), 1)
    with pytest.raises(ValueError, match="tensor"):
        treenet.width_bounds(np.zeros((2,) * 4), [1])
    with pytest.raises(ValueError, match="widths"):
        treenet.width_bounds(np.ones((2,) * 4), [0])
    with pytest.raises(ValueError, match="widths"):
        treenet.width_bounds(np.ones((2,) * 4), [])


def test_width_bounds_grasedyck_two_sided_and_proof_steps():
    gen = rng.numpy(2, "steps")
    a = treenet.tree_tensor(8, 3, gen=gen) + 0.1 * gen.standard_normal((2,) * 8)
    df = treenet.width_bounds(a, range(1, 6))
    assert (df["tail_max"] <= df["hsvd_error"] + 1e-12).all()
    assert (df["hsvd_error"] <= df["tail_sum"] + 1e-12).all()
    assert (df["rank_excess"] <= 0).all()
    assert (df["trace_step"] >= -1e-12).all()
    assert (df["fannes_step"] >= -1e-12).all()


def test_skipping_the_leaf_level_is_caught_at_width_one():
    """The bug that sandwich_slack missed: without the leaf projections the result is not width 1."""
    gen = rng.numpy(3, "skip")
    a = treenet.tree_tensor(8, 2, gen=gen)
    a /= np.linalg.norm(a)
    parts = tensors.canonical_partitions(8)
    out = a
    for lev in sorted(parts)[:-1]:
        for k in parts[lev]:
            rest = np.setdiff1d(np.arange(8), k)
            u = np.linalg.svd(np.transpose(a, np.concatenate([k, rest])).reshape(2 ** len(k), -1))[0][:, :1]
            out = treenet._project(out, k, u)
    leaf = np.transpose(out, [0, *range(1, 8)]).reshape(2, -1)
    full = treenet.hierarchical_truncation(a, 1)
    assert np.linalg.matrix_rank(np.transpose(full, [0, *range(1, 8)]).reshape(2, -1), tol=1e-10) == 1
    assert np.linalg.matrix_rank(leaf, tol=1e-10) == 2


@pytest.mark.slow
def test_planted_bugs_are_caught():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "planted_bugs" / "entanglement.py"
    spec = importlib.util.spec_from_file_location("planted_entanglement", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main() == 0
