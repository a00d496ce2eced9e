"""Tests of theorylab.nets.urf: universal random features, their variance, bundling and the SNNK layer."""

import numpy as np
import pytest
import torch

from theorylab import rng
from theorylab.nets import urf

torch.set_num_threads(1)


def _pair(d=6, nx=0.6, nw=0.5, cos=0.4):
    x = np.zeros(d); x[0] = nx
    w = np.zeros(d); w[0], w[1] = nw * cos, nw * np.sqrt(1 - cos ** 2)
    return x, w


@pytest.mark.parametrize("f", urf.ACTIVATIONS)
def test_estimator_mean_matches_activation_within_se(f):
    """Route 1: the Monte Carlo mean of Phi(x)^T Psi(w); route 2: f(w^T x) itself. Within 4.5 standard errors."""
    x, w = _pair()
    omega = urf.draw_omega(6, 400_000, rng.numpy(1, "test-urf", f))
    prods = urf.input_features(f, x[None], omega)[0] * urf.weight_features(w[:, None], omega)[:, 0] * omega.shape[1]
    se = prods.std(ddof=1) / np.sqrt(prods.size)
    assert abs(prods.mean() - urf.activation(f, x @ w)) <= 4.5 * se


@pytest.mark.parametrize("f", urf.ACTIVATIONS)
def test_single_variance_matches_sample_variance(f):
    """The closed-form V_f against the sample variance of 400k feature products (sampling error a few %)."""
    x, w = _pair()
    omega = urf.draw_omega(6, 400_000, rng.numpy(2, "test-var", f))
    prods = urf.input_map(f, x @ omega, x @ x) * np.exp(w @ omega - w @ w / 2)
    assert prods.var() == pytest.approx(float(urf.single_variance(f, x, w)), rel=0.05)


def test_exp_variance_closed_form_and_rival():
    """V_exp = e^{2 w.x}(e^{||x+w||^2} - 1) (the positive-random-feature variance); the rival that drops the
    cross term of ||x+w||^2 differs by more than the tolerances used in the chapter."""
    x, w = _pair(cos=0.5)
    v = float(urf.single_variance("exp", x, w))
    assert v == pytest.approx(np.exp(2 * x @ w) * (np.exp((x + w) @ (x + w)) - 1), rel=1e-12)
    rival = np.exp(2 * x @ w) * (np.exp(x @ x + w @ w) - 1)
    assert abs(rival / v - 1) > 0.3


def test_sin_cos_second_moments_sum():
    """sin^2 + cos^2: M_sin + M_cos = e^s for any a (the e^{-2s} terms cancel)."""
    x, a = _pair(nx=0.9, nw=1.3)
    assert urf.second_moment("sin", x, a) + urf.second_moment("cos", x, a) == pytest.approx(np.exp(x @ x))


def test_input_map_is_backward_heat_equation():
    """E_{z ~ N(mu, s)} g_f(z; s) = f(mu), by Gauss-Hermite quadrature (a deterministic second route)."""
    t, wts = np.polynomial.hermite_e.hermegauss(80)
    for f in urf.ACTIVATIONS:
        for mu, s in [(0.3, 0.2), (-1.1, 0.9), (0.0, 2.0)]:
            val = (wts * urf.input_map(f, mu + np.sqrt(s) * t, s)).sum() / np.sqrt(2 * np.pi)
            assert val == pytest.approx(float(urf.activation(f, np.array(mu))), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("f", ["sin", "exp"])
def test_bundled_equals_unbundled_and_is_unbiased(f):
    gen = rng.numpy(3, "test-bundle", f)
    d, l, n = 5, 4, 3
    W = gen.standard_normal((d, l)) * 0.25
    v = gen.standard_normal(l)
    X = gen.standard_normal((n, d)) * 0.25
    omega = urf.draw_omega(d, 200_000, gen)
    Phi = urf.input_features(f, X, omega)
    bundled = Phi @ urf.bundle(W, v, omega)
    unbundled = (Phi @ urf.weight_features(W, omega)) @ v
    np.testing.assert_allclose(bundled, unbundled, rtol=1e-12, atol=1e-12)
    se = np.sqrt(urf.bundled_variance(f, X, W, v) / omega.shape[1])
    assert np.all(np.abs(bundled - urf.network(f, X, W, v)) <= 4.5 * se)


@pytest.mark.parametrize("f", ["sin", "cos", "exp"])
def test_bundled_variance_reduces_to_single_neuron(f):
    """With one neuron and v = 1 the bundled variance is the single-feature variance."""
    x, w = _pair(cos=-0.3)
    got = urf.bundled_variance(f, x[None], w[:, None], np.array([1.0]))[0]
    assert got == pytest.approx(float(urf.single_variance(f, x, w)), rel=1e-12)


def test_lstsq_readout_solves_normal_equations_and_matches_numpy():
    gen = rng.numpy(4, "test-lsq")
    Phi, Y = gen.standard_normal((2, 50, 8)), gen.standard_normal((2, 50, 3))
    G = urf.lstsq_readout(Phi, Y)
    for r in range(2):
        np.testing.assert_allclose(G[r], np.linalg.lstsq(Phi[r], Y[r], rcond=None)[0], rtol=1e-9, atol=1e-12)
    Gr = urf.lstsq_readout(Phi, Y, ridge=0.5)
    grad = np.swapaxes(Phi, 1, 2) @ (Phi @ Gr - Y) + 0.5 * Gr
    assert np.abs(grad).max() < 1e-10


def test_snnk_layer_initialised_at_psi_approximates_dense_layer():
    """At initialisation Theta = Psi(W0), so Phi(x)^T Theta estimates sin(W0^T x): check on small norms."""
    gen = rng.numpy(5, "test-init")
    X = gen.standard_normal((20, 7)) * 0.2
    W = gen.standard_normal((7, 3)) * 0.2
    omega = urf.draw_omega(7, 200_000, gen)
    est = urf.estimate("sin", X, W, omega)
    np.testing.assert_allclose(est, np.sin(X @ W), atol=0.02)


def test_train_classifiers_shapes_and_learns():
    Xtr, ytr, Xte, yte = urf.digits_replicas([0, 1], 400, radius=1.0)
    assert Xtr.shape == (2, 400, 65) and Xte.shape == (2, 1397, 65)
    gen = torch.Generator().manual_seed(0)
    acc = urf.train_classifiers("dense", Xtr, ytr, Xte, yte, width=16, steps=60, lr=2e-2, gen=gen)
    assert acc.shape == (2,) and acc.min() > 0.8
    omega = torch.randn(2, 65, 64, generator=gen)
    acc = urf.train_classifiers("snnk", Xtr, ytr, Xte, yte, width=16, steps=60, lr=2e-2, gen=gen, omega=omega)
    assert acc.min() > 0.6


def test_parameter_counts_and_bad_arguments():
    c = urf.parameter_counts(65, 32, 16, 10)
    assert c == {"dense": 65 * 32 + 330, "snnk": 16 * 32 + 330, "bundled": 160}
    with pytest.raises(ValueError, match="f must be one of"):
        urf.activation("relu", np.zeros(2))
    with pytest.raises(ValueError, match="kind"):
        urf.train_classifiers("wide", *urf.digits_replicas([0], 100, 1.0), width=4, steps=1, lr=1e-2,
                              gen=torch.Generator())
    with pytest.raises(ValueError, match="omega"):
        urf.train_classifiers("snnk", *urf.digits_replicas([0], 100, 1.0), width=4, steps=1, lr=1e-2,
                              gen=torch.Generator())
