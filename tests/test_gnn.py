"""Tests of theorylab.structure.gnn: generators, the batched models, and the removal sweep."""
import numpy as np
import pytest
import torch

from theorylab.structure import gnn, graphs


def test_dcsbm_is_a_valid_graph_with_the_requested_mean_degree():
    degs = []
    for s in range(5):
        adj, labels = gnn.dcsbm(800, 4, 6.0, 50.0, 10.0, np.random.default_rng(s))
        graphs.as_adjacency(adj)  # symmetric, 0/1, no self-loops
        assert np.bincount(labels).tolist() == [200] * 4
        degs.append(adj.sum(1).mean())
    # E[mean degree] = 6 (up to the (n-1)/n diagonal and the clip at 1, both < 1%); sd of one
    # draw's mean degree is about sqrt(2 * 6 / 800) ~ 0.12
    assert abs(np.mean(degs) - 6.0) < 3 * 0.12 / np.sqrt(5) + 0.06


def test_dcsbm_homophily_matches_the_block_ratio():
    adj, labels = gnn.dcsbm(1000, 4, 8.0, 50.0, 10.0, np.random.default_rng(0))
    same = (adj * (labels[:, None] == labels[None, :])).sum() / adj.sum()
    assert abs(same - 10 / 13) < 0.03  # r / (r + K - 1), sd ~ 0.01 at 4000 edges


def test_heavy_tail_gives_larger_max_degree():
    heavy, _ = gnn.dcsbm(1000, 4, 6.0, 2.2, 10.0, np.random.default_rng(1))
    flat, _ = gnn.dcsbm(1000, 4, 6.0, 50.0, 10.0, np.random.default_rng(1))
    assert heavy.sum(1).max() > 2 * flat.sum(1).max()


@pytest.mark.parametrize("kind", ["low", "high"])
def test_arrangement_places_every_patch_once(kind):
    place = gnn.arrangement(kind)
    assert sorted(map(tuple, place.tolist())) == [(i, p) for i in range(2) for p in range(16)]


def test_arrangement_walk_indices_differ_as_stated():
    adj = gnn.two_cliques()
    low = np.flatnonzero(gnn.arrangement("low")[:, 0] == 0)
    high = np.flatnonzero(gnn.arrangement("high")[:, 0] == 0)
    assert len(graphs.boundary(adj, low)) == 2 and len(graphs.boundary(adj, high)) == 32


def test_digit_pairs_shapes_and_balance():
    x, y = gnn.digit_pairs(400, "high", np.random.default_rng(0))
    assert x.shape == (400, 32, 4) and set(y.tolist()) <= {0, 1}
    assert abs(y.float().mean().item() - 0.5) < 3 * 0.025


def test_block_propagator_equals_dense_products():
    gen = np.random.default_rng(0)
    adjs = [gnn.dcsbm(30, 2, 4.0, 3.0, 5.0, gen)[0] for _ in range(3)]
    h = torch.randn(3, 30, 5)
    for kind in ("gcn", "gin"):
        out = gnn.block_propagator(adjs, kind)(h)
        for b, a in enumerate(adjs):
            dense = gnn.normalized_adjacency(a) if kind == "gcn" else torch.tensor(a + np.eye(30), dtype=torch.float32)
            assert torch.allclose(out[b], dense @ h[b], atol=1e-5)


def test_block_propagator_gradient_equals_dense_products():
    """The custom backward uses P^T = P; check it against autograd through dense matrices."""
    gen = np.random.default_rng(1)
    adjs = [gnn.dcsbm(30, 2, 4.0, 3.0, 5.0, gen)[0] for _ in range(3)]
    g = torch.randn(3, 30, 5)
    for kind in ("gcn", "gin"):
        h = torch.randn(3, 30, 5, requires_grad=True)
        (gnn.block_propagator(adjs, kind)(h) * g).sum().backward()
        dense = torch.stack([gnn.normalized_adjacency(a) if kind == "gcn"
                             else torch.tensor(a + np.eye(30), dtype=torch.float32) for a in adjs])
        assert torch.allclose(h.grad, dense.transpose(1, 2) @ g, atol=1e-5)


def test_embed_with_propagated_input_equals_propagating_it():
    """P (X W) = (P X) W: passing px = propagate(x) must not change the embeddings."""
    adj = gnn.dcsbm(25, 2, 4.0, 3.0, 5.0, np.random.default_rng(2))[0]
    x = torch.randn(2, 25, 6)
    for kind in ("gcn", "gin"):
        model = gnn.BatchedGNN(2, 6, 3, gnn.GNNConfig(kind=kind, width=8), torch.Generator().manual_seed(0))
        prop = gnn.block_propagator([adj, adj], kind)
        assert torch.allclose(model.embed(x, prop), model.embed(x, prop, prop(x)), atol=1e-5)


def test_batched_models_do_not_mix_gradients():
    model = gnn.BatchedGNN(3, 4, 2, gnn.GNNConfig(width=8), torch.Generator().manual_seed(0))
    adj = gnn.dcsbm(20, 2, 4.0, 3.0, 5.0, np.random.default_rng(0))[0]
    h = model.embed(torch.randn(20, 4).expand(3, -1, -1), gnn.block_propagator([adj] * 3, "gcn"))
    (h[1] @ model.head[1]).sum().backward()
    for p in model.parameters():
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        batch_axis = 1 if grad.dim() == 4 else 0  # LayerNorm gains are (depth, B, 1, width)
        others = grad.index_select(batch_axis, torch.tensor([0, 2]))
        assert torch.all(others == 0)


def test_vertex_classifier_learns_an_easy_task():
    gen = np.random.default_rng(0)
    adj, labels = gnn.dcsbm(120, 2, 6.0, 50.0, 20.0, gen)
    x = gnn.class_features(labels, 8, 2.0, gen)
    masks = gnn.split_masks(120, (0.5, 0.2), gen)
    acc = gnn.train_vertex_classifiers([adj, np.zeros_like(adj)], x, labels, masks,
                                       gnn.GNNConfig(width=16, epochs=30), torch.Generator().manual_seed(0))
    assert acc.min() > 0.85


def test_removal_sweep_shape_and_wis_isolation():
    sweep = gnn.removal_sweep(gnn.SBMConfig(n=150), [0.5], ("1-WIS", "random"), gnn.GNNConfig(width=8, epochs=10),
                              np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert len(sweep) == 4 and set(sweep.method) == {"1-WIS", "random"}
    assert sweep[(sweep.method == "1-WIS") & (sweep.fraction == 0.5)].newly_isolated.item() == 0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="kind"):
        gnn.arrangement("middle")
    with pytest.raises(ValueError, match="method"):
        gnn.removal_order(gnn.two_cliques(), "greedy", 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind"):
        gnn.block_propagator([gnn.two_cliques()], "gat")
    with pytest.raises(ValueError, match="alpha"):
        gnn.dcsbm(10, 2, 3.0, 1.0, 2.0, np.random.default_rng(0))
