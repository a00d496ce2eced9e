"""Tests of theorylab.nets.tinylm: the ensemble identity by a second route, training, distillation."""

import numpy as np
import torch

from theorylab.data import markovlm
from theorylab.nets import tinylm


def test_ensemble_identity_mean_member_minus_jensen_gap():
    gen = np.random.default_rng(0)
    logits = gen.standard_normal((5, 7, 7)) * 2
    log_q = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    direct = np.log(np.exp(log_q).mean(0))
    assert np.allclose(tinylm.ensemble_log_probs(log_q), direct)
    gap = tinylm.jensen_gap(log_q)
    assert np.all(gap >= -1e-12)
    assert np.allclose(direct, log_q.mean(0) + gap)
    lang = markovlm.zipf_markov(7, 1.0, gen)
    members = markovlm.population_loss(lang, log_q).mean()
    ens = markovlm.population_loss(lang, direct)
    assert np.isclose(members - ens, np.einsum("i,ij,ij->", lang.pi, lang.P, gap))


def test_group_ensembles_shapes_and_k_one():
    log_q = np.log(np.random.default_rng(1).dirichlet(np.ones(4), size=(8, 3)))
    assert np.allclose(tinylm.group_ensembles(log_q, 1), log_q)
    assert tinylm.group_ensembles(log_q, 4).shape == (2, 3, 4)


def test_training_reaches_regularised_fit_and_masks_width():
    lang = markovlm.zipf_markov(8, 1.0, np.random.default_rng(0))
    C = markovlm.bigram_counts(markovlm.sample(lang, 20_000, np.random.default_rng(1)), 8)
    lq = tinylm.train(np.stack([C, C]), np.array([1, 8]), np.array([1e-4, 1e-4]), torch.Generator().manual_seed(0),
                      tinylm.TrainConfig(steps=600, lr=0.05))
    mle = np.log(C / C.sum(1, keepdims=True))
    tl = markovlm.train_loss(C, lq)
    assert tl[1] < tl[0]                                      # width 8 fits better than width 1
    assert tl[1] - markovlm.train_loss(C, mle) < 0.01         # and nearly reaches the MLE
    # distillation counts keep the contexts' totals
    soft = tinylm.distill_counts(C, lq[1])
    assert np.allclose(soft.sum(1), C.sum(1))


def test_subset_ensembles_average_matches_second_order_law():
    # members = mean + small iid noise in logits: the subset-averaged gain follows (1 - 1/k)
    gen = np.random.default_rng(4)
    base = gen.standard_normal((1, 6, 6))
    logits = base + 0.05 * gen.standard_normal((8, 6, 6))
    log_q = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    lang = markovlm.zipf_markov(6, 1.0, gen)
    loss = {k: markovlm.population_loss(lang, tinylm.subset_ensembles(log_q, k)).mean() for k in (1, 2, 4, 8)}
    assert tinylm.subset_ensembles(log_q, 2).shape == (28, 6, 6)
    for k in (2, 4):
        ratio = (loss[1] - loss[k]) / (loss[1] - loss[8])
        assert abs(ratio - (1 - 1 / k) / (1 - 1 / 8)) < 0.02


def test_train_minibatch_full_batch_limit_and_noise():
    import torch
    from theorylab.data import markovlm
    from theorylab.nets import tinylm
    gen = np.random.default_rng(0)
    lang = markovlm.zipf_markov(6, 1.0, gen)
    x = markovlm.sample(lang, 3000, gen)
    cfg = tinylm.TrainConfig(steps=300, lr=0.05)
    lq = tinylm.train_minibatch(x, 6, np.array([4, 4, 4]), np.full(3, 1e-3), 3000, torch.Generator().manual_seed(0), cfg)
    assert lq.shape == (3, 6, 6)
    assert np.allclose(np.exp(lq).sum(-1), 1.0)
    full = tinylm.train(markovlm.bigram_counts(x, 6)[None].repeat(3, 0), np.array([4, 4, 4]), np.full(3, 1e-3),
                        torch.Generator().manual_seed(0), cfg)
    # large batches approach the full-batch objective: same loss to a few thousandths of a nat
    assert abs(markovlm.population_loss(lang, lq).mean() - markovlm.population_loss(lang, full).mean()) < 0.01
    small = tinylm.train_minibatch(x, 6, np.array([4, 4]), np.full(2, 1e-3), 8, torch.Generator().manual_seed(1),
                                   tinylm.TrainConfig(steps=50, lr=0.05))
    assert np.abs(small[0] - small[1]).max() > 1e-3             # noisy, short training: the members differ
