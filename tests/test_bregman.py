"""Tests for theorylab.nets.bregman: each term against a second route (definitions, brute force,
numeric optimisation, Monte Carlo), and the pooled ensemble law against simulation."""

import numpy as np
import pytest
from scipy.optimize import minimize

from theorylab.nets import bregman as bg


def _pool(m=12, n=5, c=4, scale=1.5, seed=0):
    g = np.random.default_rng(seed)
    eta = g.standard_normal((n, c)) + scale * g.standard_normal((m, n, c))       # logits (M, n, C)
    y_bar = g.dirichlet(np.ones(c), size=n)
    return eta, y_bar


@pytest.mark.parametrize("loss", ["ce", "se"])
def test_decomposition_terms_sum_to_the_expected_loss(loss):
    eta, y_bar = _pool()
    if loss == "se":
        eta = bg.to_primal("ce", eta)                      # squared error on probabilities (Brier)
    d = bg.decompose(loss, y_bar, eta)
    assert np.allclose(d.loss, d.noise + d.bias + d.variance, atol=1e-12, rtol=0)
    assert (d.noise >= 0).all() and (d.bias >= 0).all() and (d.variance >= 0).all()


def test_expected_loss_against_sampled_labels():
    eta, y_bar = _pool(m=3, n=2)
    g = np.random.default_rng(1)
    labels = np.stack([g.choice(4, size=200_000, p=p) for p in y_bar], 1)        # (draws, n)
    logp = bg.canonical("ce", eta)                                               # (M, n, C)
    mc = -np.take_along_axis(logp[:, None], labels[None, :, :, None], -1)[..., 0].mean((0, 1))
    se = np.take_along_axis(logp[:, None], labels[None, :, :, None], -1)[..., 0].mean(0).std(0) / np.sqrt(200_000)
    assert np.all(np.abs(mc - bg.expected_loss("ce", y_bar, eta)) < 5 * se)


def test_cross_entropy_divergence_is_kl_and_noise_is_entropy():
    p = np.array([0.2, 0.3, 0.5])
    q = np.array([0.6, 0.1, 0.3])
    assert np.isclose(bg.divergence("ce", p, np.log(q) + 7.0), np.sum(p * np.log(p / q)))
    assert np.isclose(bg.noise("ce", p), -np.sum(p * np.log(p)))
    assert np.isclose(bg.divergence("ce", np.array([0.0, 1.0, 0.0]), np.log(q)), -np.log(0.1))


@pytest.mark.parametrize("loss", ["ce", "se"])
def test_variance_two_routes(loss):
    eta, _ = _pool()
    assert np.allclose(bg.variance(loss, eta), bg.variance_direct(loss, eta), atol=1e-12)


def test_central_prediction_is_the_argmin_found_numerically():
    eta, _ = _pool(m=7, n=1, c=5, seed=3)
    members = eta[:, 0]

    def objective(u):                                         # mean_m KL(softmax(u) || P_m)
        return bg.divergence("ce", bg.to_primal("ce", u)[None], members).mean()

    best = minimize(objective, np.zeros(5), method="BFGS", options={"gtol": 1e-10}).x
    assert np.allclose(bg.to_primal("ce", best), bg.to_primal("ce", bg.central("ce", eta))[0], atol=1e-6)
    geo = np.exp(np.log(bg.to_primal("ce", members)).mean(0))
    assert np.allclose(bg.to_primal("ce", bg.central("ce", eta))[0], geo / geo.sum())
    arith = bg.to_primal("ce", members).mean(0)               # the arithmetic mean is not the argmin
    assert objective(np.log(arith)) > objective(best) + 1e-4


def test_law_of_total_variance_is_exact_and_both_parts_nonnegative():
    g = np.random.default_rng(4)
    eta = g.standard_normal((5, 1, 3, 6)) + 0.7 * g.standard_normal((5, 4, 3, 6))      # (B, S, n, C)
    for loss in ("ce", "se"):
        total, within, between = bg.total_variance_split(loss, eta)
        assert np.allclose(total, within + between, atol=1e-12)
        assert (within >= 0).all() and (between >= 0).all()
        flat = eta.reshape(20, 3, 6)
        assert np.allclose(total, bg.variance(loss, flat))


def test_dual_ensembles_keep_the_central_prediction_and_primal_ones_do_not():
    eta, y_bar = _pool(m=12)
    base = bg.decompose("ce", y_bar, eta)
    for k in (2, 3, 4, 6, 12):
        dual = bg.decompose("ce", y_bar, bg.dual_ensemble("ce", eta, k))
        assert np.allclose(dual.bias, base.bias, atol=1e-12)
        assert (dual.variance <= base.variance + 1e-12).all()
    primal = bg.primal_ensemble("ce", eta, 4)
    assert not np.allclose(bg.central("ce", primal), bg.central("ce", eta))
    assert np.allclose(np.exp(primal), bg.to_primal("ce", eta).reshape(3, 4, 5, 4).mean(1))
    assert np.allclose(bg.primal_ensemble("se", eta, 4), bg.dual_ensemble("se", eta, 4))


def test_jensen_gap_is_nonnegative_and_the_bias_shift_formula_holds():
    eta, y_bar = _pool(m=12)
    for k in (2, 3, 12):
        gap = bg.jensen_gap(eta, k)
        assert (gap >= -1e-12).all()
        shift = bg.decompose("ce", y_bar, bg.primal_ensemble("ce", eta, k)).bias - bg.decompose("ce", y_bar, eta).bias
        assert np.allclose(shift, bg.bias_shift(y_bar, bg.central("ce", eta), gap), atol=1e-12)


def test_quadratic_variance_small_spread_and_exact_for_squared_error():
    g = np.random.default_rng(5)
    eta = g.standard_normal((1, 4, 6)) + 1e-3 * g.standard_normal((400, 4, 6))
    assert np.allclose(bg.quadratic_variance("ce", eta), bg.variance("ce", eta), rtol=1e-2)
    assert np.allclose(bg.quadratic_variance("se", eta), bg.variance("se", eta), atol=1e-14)


def test_pooled_ensemble_variance_against_simulation():
    """Squared error: the law holds exactly in expectation; check by Monte Carlo over many pools."""
    g = np.random.default_rng(6)
    b, s, c, reps = 4, 8, 3, 4000
    a = 0.8 * g.standard_normal((reps, b, 1, c))               # data effect
    e = 0.5 * g.standard_normal((reps, b, s, c))               # init effect
    eta = a + e                                                 # (reps, B, S, C): C plays the role of classes
    meas = {k: [] for k in (1, 2, 4, 8)}
    pred = {k: [] for k in (1, 2, 4, 8)}
    naive = []
    for r in range(reps):
        _, within, between = bg.total_variance_split("se", eta[r][:, :, None])
        for k in meas:
            ens = np.concatenate([bg.dual_ensemble("se", eta[r][i][:, None], k) for i in range(b)])
            meas[k].append(bg.variance("se", ens)[0])
            pred[k].append(bg.pooled_ensemble_variance(within, between, k, s)[0])
        naive.append(between[0] + within[0] / 2)                 # a plain 1/k law, without the pool correction
    for k in meas:
        diff = np.array(meas[k]) - np.array(pred[k])
        assert abs(diff.mean()) < 5 * diff.std() / np.sqrt(reps) + 1e-12
    diff = np.array(meas[2]) - np.array(naive)
    assert abs(diff.mean()) > 10 * diff.std() / np.sqrt(reps)


def test_bad_arguments():
    eta, _ = _pool(m=6)
    with pytest.raises(ValueError, match="loss"):
        bg.variance("kl", eta)
    with pytest.raises(ValueError, match="k must"):
        bg.dual_ensemble("ce", eta, 4)
    with pytest.raises(ValueError, match="k must"):
        bg.pooled_ensemble_variance(1.0, 1.0, 9, 8)
    with pytest.raises(ValueError, match="eta"):
        bg.total_variance_split("ce", eta[0])


def test_data_variance_correction_is_unbiased_by_simulation():
    g = np.random.default_rng(7)
    b, s, reps = 5, 2, 20000
    eta = 0.6 * g.standard_normal((reps, b, 1, 1, 2)) + g.standard_normal((reps, b, s, 1, 2))
    raw, corrected = [], []
    for r in range(reps):
        _, within, between = bg.total_variance_split("se", eta[r])
        raw.append(between[0])
        corrected.append(bg.data_variance(within, between, s, b)[0])
    target = 0.5 * 2 * 0.36 * (1 - 1 / b)                       # v_Z (1 - 1/B), v_Z = |a|^2 / 2 in mean
    assert abs(np.mean(corrected) - target) < 5 * np.std(corrected) / np.sqrt(reps)
    assert np.mean(raw) - target > 0.3


def test_all_subset_ensembles_obey_the_finite_population_law_exactly_for_squared_error():
    """Averaged over all C(S, k) subsets, the pool law holds for every pool (squared error), with no
    assumption on how the members were drawn; for cross-entropy only to second order."""
    g = np.random.default_rng(8)
    eta = g.standard_normal((4, 1, 3, 5)) + 0.7 * g.standard_normal((4, 6, 3, 5))
    probs = bg.to_primal("ce", eta)
    _, within, between = bg.total_variance_split("se", probs)
    for k in (1, 2, 3, 4, 6):
        law = bg.pooled_ensemble_variance(within, between, k, 6)
        assert np.allclose(bg.subset_ensemble_variance("se", probs, k, chunk=4), law, atol=1e-14, rtol=0)
    off_by_one = between + within * (6 - 2) / (2 * 6)                  # (S - k) / (k S): caught exactly
    assert np.abs(bg.subset_ensemble_variance("se", probs, 2) - off_by_one).max() > 1e-4
    total, within, between = bg.total_variance_split("ce", eta)
    assert np.allclose(bg.subset_ensemble_variance("ce", eta, 1), total, atol=1e-12)
    assert np.allclose(bg.subset_ensemble_variance("ce", eta, 6), between, atol=1e-12)
    ce2 = bg.subset_ensemble_variance("ce", eta, 2)
    assert not np.allclose(ce2, bg.pooled_ensemble_variance(within, between, 2, 6), atol=1e-8)
    with pytest.raises(ValueError, match="k must"):
        bg.subset_ensemble_variance("se", probs, 7)
