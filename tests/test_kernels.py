"""Tests of theorylab.nets.kernels: arc-cosine closed forms against Monte Carlo, the hand-written
NTK against autograd, the sphere spectrum against its trace and a Monte Carlo average, and the
eigenframework against simulated kernel ridge regression."""

import numpy as np
import pytest
import torch

from theorylab.nets import kernels


def test_relu_moments_match_monte_carlo():
    gen = np.random.default_rng(0)
    for k11, k22, rho in [(1.0, 1.0, 0.3), (2.0, 0.5, -0.7), (1.5, 1.5, 0.95)]:
        k12 = rho * np.sqrt(k11 * k22)
        cov = np.array([[k11, k12], [k12, k22]])
        uv = gen.multivariate_normal([0, 0], cov, size=400_000)
        prod = np.maximum(uv[:, 0], 0) * np.maximum(uv[:, 1], 0)
        step = (uv[:, 0] > 0) & (uv[:, 1] > 0)
        relu, stp = kernels.relu_moments(np.array(k12), np.array(k11), np.array(k22))
        assert abs(prod.mean() - relu) < 5 * prod.std() / np.sqrt(prod.size)
        assert abs(step.mean() - stp) < 5 * step.std() / np.sqrt(step.size)


def test_kernels_of_cosine_match_general_form():
    gen = np.random.default_rng(1)
    x = kernels.sphere_points(20, 5, gen) * np.sqrt(5)
    a = kernels.relu_kernels(x, x, 3, sigma_b2=0.2)
    b = kernels.relu_kernels_of_cosine(np.clip(x @ x.T / 5, -1, 1), 3, sigma_b2=0.2)
    assert np.allclose(a.nngp, b.nngp) and np.allclose(a.ntk, b.ntk)
    # He initialisation without bias keeps the diagonal: NNGP(x, x) = 2, NTK(x, x) = 2 (L + 1)
    c = kernels.relu_kernels_of_cosine(np.ones(1), 3)
    assert np.allclose(c.nngp, 2.0) and np.allclose(c.ntk, 8.0)


def test_empirical_ntk_equals_autograd():
    x = kernels.sphere_points(12, 6, np.random.default_rng(2)) * np.sqrt(6)
    a = kernels.empirical_kernels(x, 24, 3, torch.Generator().manual_seed(5), sigma_b2=0.3)
    b = kernels.autograd_ntk(x, 24, 3, torch.Generator().manual_seed(5), sigma_b2=0.3)
    assert np.abs(a.ntk - b.ntk).max() < 1e-10 * np.abs(b.ntk).max()
    assert np.abs(a.nngp - b.nngp).max() < 1e-12


def test_empirical_kernels_converge_like_inverse_sqrt_width():
    x = kernels.sphere_points(16, 8, np.random.default_rng(3)) * np.sqrt(8)
    exact = kernels.relu_kernels(x, x, 2)
    gen = torch.Generator().manual_seed(0)
    err = {w: np.sqrt(np.mean([kernels.relative_error(kernels.empirical_kernels(x, w, 2, gen).ntk, exact.ntk) ** 2
                               for _ in range(6)])) for w in (64, 1024)}
    assert 2.5 < err[64] / err[1024] < 6.5                                # sqrt(16) = 4


def test_sphere_spectrum_trace_and_monte_carlo():
    d = 6
    kern = lambda t: kernels.relu_kernels_of_cosine(t, 2).ntk
    lam, mult = kernels.sphere_spectrum(kern, d, 80)
    assert np.all(lam[:10] > 0)
    assert abs(np.sum(lam * mult) - kern(np.ones(1))[0]) < 0.01 * kern(np.ones(1))[0]
    gen = np.random.default_rng(4)
    t = np.sum(kernels.sphere_points(200_000, d, gen) * kernels.sphere_points(200_000, d, gen), 1)
    for k in range(4):
        vals = kern(t) * kernels.gegenbauer(k, d, t)
        assert abs(vals.mean() - lam[k]) < 5 * vals.std() / np.sqrt(t.size)


def test_multiplicities_and_zonal_energy():
    assert list(kernels.multiplicity(np.arange(4), 3)) == [1, 3, 5, 7]
    assert list(kernels.multiplicity(np.arange(3), 8)) == [1, 8, 35]
    gen = np.random.default_rng(5)
    z = kernels.sphere_points(4, 5, gen)
    amp = np.array([0.0, 1.0, 0.5, 0.25])
    x = kernels.sphere_points(200_000, 5, gen)
    f2 = kernels.zonal_target(x, z, amp) ** 2
    assert abs(f2.mean() - np.sum(amp**2)) < 5 * f2.std() / np.sqrt(f2.size)


def test_eigen_learning_curve_limits():
    lam, mult = np.array([1.0, 0.1, 0.01]), np.array([1.0, 3.0, 5.0])
    energy = np.array([0.0, 1.0, 0.0])
    # far more samples than modes with a tiny ridge: error -> 0; no samples: error -> the target's energy
    assert kernels.eigen_learning_curve(lam, mult, energy, 1e6, 1e-9) < 1e-6
    assert abs(kernels.eigen_learning_curve(lam, mult, energy, 1e-8, 1e-3) - 1.0) < 1e-3


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_eigen_learning_curve_against_simulation(kind):
    d, depth, ridge, n, reps = 5, 2, 1e-2, 120, 12
    kern = lambda t: getattr(kernels.relu_kernels_of_cosine(t, depth), kind)
    lam, mult = kernels.sphere_spectrum(kern, d, 60)
    amp = np.zeros(61)
    amp[1:6] = [1.0, 0.7, 0.5, 0.35, 0.25]
    theory = kernels.eigen_learning_curve(lam, mult, amp**2, n, ridge, kern(np.ones(1))[0] - np.sum(lam * mult))
    gen = np.random.default_rng(6)
    errs = []
    for _ in range(reps):
        z, x, xt = (kernels.sphere_points(m, d, gen) for m in (61, n, 800))
        g = kern(np.clip(x @ x.T, -1, 1))
        errs.append(kernels.krr_test_error(g, kern(np.clip(xt @ x.T, -1, 1)), kernels.zonal_target(x, z, amp),
                                           kernels.zonal_target(xt, z, amp), ridge))
    assert 0.7 < np.mean(errs) / theory < 1.4


def test_relu_gram_blocks():
    x = kernels.sphere_points(50, 4, np.random.default_rng(7))
    full = kernels.relu_kernels_of_cosine(np.clip(x @ x.T, -1, 1), 2).ntk
    assert np.allclose(kernels.relu_gram(x, 2, "ntk", block=16), full)
    with pytest.raises(ValueError):
        kernels.relu_gram(x, 2, "rbf")


def test_effective_ridge_is_highdim_solve_kappa_with_expanded_multiplicities():
    from theorylab.linear import highdim

    lam, mult = np.array([1.0, 0.3, 0.05, 0.004]), np.array([1, 3, 6, 10])
    n = np.array([2.0, 5.0, 12.0])
    ours = kernels.effective_ridge(lam, mult, n, 1e-2)
    # highdim's ridge multiplies the sample covariance X^T X / T: the kernel ridge delta of (K + delta I) is n times it
    theirs = highdim.solve_kappa(np.repeat(lam, mult), n, 1e-2 / n, iters=200)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    # the tail term is the limit of m eigenvalues tail/m, m -> infinity
    tail = kernels.effective_ridge(lam, mult, n, 1e-2, tail_trace=0.2)
    many = highdim.solve_kappa(np.concatenate([np.repeat(lam, mult), np.full(20000, 0.2 / 20000)]), n, 1e-2 / n, iters=200)
    np.testing.assert_allclose(tail, many, rtol=1e-3)


@pytest.mark.parametrize("kind,nu", [("ntk", 0.5), ("nngp", 1.5)])
def test_sphere_decay_follows_the_singular_term(kind, nu):
    d, ks = 8, np.arange(20, 81)
    lam, _ = kernels.sphere_spectrum(lambda t: getattr(kernels.relu_kernels_of_cosine(t, 3), kind), d, 80)
    slope = np.polyfit(np.log(ks), np.log(lam[ks]), 1)[0]
    law = np.polyfit(np.log(ks), np.log(kernels.singular_decay(ks, d, nu)), 1)[0]
    assert abs(slope - law) < 0.05
    assert abs(slope - (-(d - 1 + 2 * nu))) > 0.4          # the asymptotic rate is not reached at k <= 80


def test_recursion_with_bias_matches_wide_network():
    # sigma_b > 0 and sigma_w^2 != 2 move the diagonal, which the chapter's He setting keeps fixed
    x = kernels.sphere_points(6, 5, np.random.default_rng(4)) * np.sqrt(5)
    exact = kernels.relu_kernels(x, x, 2, sigma_w2=1.5, sigma_b2=0.5)
    q = 1.5 + 0.5                                                         # diagonal: q_{l+1} = sigma_w^2 q_l / 2 + sigma_b^2
    for _ in range(2):
        q = 1.5 * q / 2 + 0.5
    assert np.allclose(np.diag(exact.nngp), q)
    gen = torch.Generator().manual_seed(1)
    emp = [kernels.empirical_kernels(x, 4096, 2, gen, sigma_w2=1.5, sigma_b2=0.5) for _ in range(4)]
    assert kernels.relative_error(np.mean([e.nngp for e in emp], 0), exact.nngp) < 0.02
    assert kernels.relative_error(np.mean([e.ntk for e in emp], 0), exact.ntk) < 0.02
