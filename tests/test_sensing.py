"""Tests of theorylab.linear.sensing: the operator, the (sub)gradients and the closed forms, by second routes."""

import math

import numpy as np
import pytest
import torch

from theorylab.linear import sensing as sn


def _gens(n, seed=0):
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


def test_measure_and_adjoint_match_explicit_sums():
    d, m = 5, 30
    a = sn.gaussian_operator(d, m, _gens(2))
    x = torch.randn(2, 3, d, d, generator=torch.Generator().manual_seed(9), dtype=sn.DTYPE)
    v = torch.randn(2, 3, m, generator=torch.Generator().manual_seed(8), dtype=sn.DTYPE)
    mats = a.unflatten(-1, (d, d))                                        # (S, m, d, d)
    explicit = torch.einsum("sijk,sljk->sli", mats, x)
    assert torch.allclose(sn.measure(a, x), explicit, atol=1e-12)
    assert torch.allclose(sn.adjoint(a, v), torch.einsum("sli,sijk->sljk", v, mats), atol=1e-12)
    lhs = (sn.measure(a, x) * v).sum(-1)
    rhs = (x * sn.adjoint(a, v)).sum((-2, -1))
    assert torch.allclose(lhs, rhs, rtol=1e-12)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_subgradient_is_the_autograd_gradient_away_from_kinks(kind):
    d, m = 6, 40
    gens = _gens(2, 3)
    a = sn.gaussian_operator(d, m, gens)
    y = sn.measure(a, sn.low_rank_psd(d, [1.0], gens)[:, None]) + sn.outliers(m, [0.3], 5.0, gens)
    u = torch.randn(2, 1, d, 3, generator=torch.Generator().manual_seed(1), dtype=sn.DTYPE, requires_grad=True)
    sn.loss(u, a, y, kind).sum().backward()
    assert torch.allclose(sn.subgradient(u.detach(), a, y, kind), u.grad, rtol=1e-10, atol=1e-12)


def test_sign_scale_matches_monte_carlo():
    gen = torch.Generator().manual_seed(5)
    d, n = 4, 100_000
    delta = torch.randn(d, d, generator=gen, dtype=sn.DTYPE)
    delta = delta + delta.T
    for sigma, p, tau in [(0.5, 0.3, 2.0), (3.0, 0.5, 3.0), (1.0, 0.0, 1.0)]:
        x = sigma * delta / torch.linalg.matrix_norm(delta)
        a = torch.randn(n, d * d, generator=gen, dtype=sn.DTYPE)
        s = tau * torch.randn(n, generator=gen, dtype=sn.DTYPE) * (torch.rand(n, generator=gen, dtype=sn.DTYPE) < p)
        val = torch.sign(a @ x.flatten() - s) * (a @ x.flatten()) / sigma
        z = abs(float(val.mean()) - float(sn.sign_scale(sigma, p, tau))) / (float(val.std()) / math.sqrt(n))
        assert z < 5


def test_residual_floor_is_the_wishart_fourth_moment():
    gen = np.random.default_rng(0)
    d, r, width, alpha = 9, 2, 6, 0.1
    h = alpha / math.sqrt(d) * gen.standard_normal((20_000, d - r, width - r))
    sq = (np.linalg.norm(h @ np.swapaxes(h, -1, -2), axis=(-2, -1)) ** 2)
    rms = math.sqrt(sq.mean())
    assert abs(rms - float(sn.residual_floor(d, r, width, alpha))) < 5 * sq.std() / math.sqrt(len(sq)) / (2 * rms)
    assert float(sn.residual_floor(d, r, r, alpha)) == 0.0


def test_sign_noise_edge_is_the_spectrum_of_the_frozen_sign_pattern():
    # at Delta = -X* the signs are fixed; on the complement of X* the symmetrized sign-subgradient is a
    # Wigner matrix whose extreme eigenvalues approach +-2 sqrt(2 (d - r) / m), with or without outliers
    d, r, m = 42, 2, 4000
    gens = _gens(3, seed=5)
    a = sn.gaussian_operator(d, m, gens)
    x = sn.low_rank_psd(d, [1.0] * r, gens)
    s = sn.outliers(m, [0.0, 0.5], 10.0, gens)
    g = sn.adjoint(a, torch.sign(sn.measure(a, -x[:, None]) - s)) / m
    _, v = torch.linalg.eigh(x)
    q = v[..., : d - r][:, None]                                          # complement of the column space
    ev = torch.linalg.eigvalsh(q.transpose(-2, -1) @ (g + g.transpose(-2, -1)) @ q)
    edge = sn.sign_noise_edge(d, r, m)
    assert abs(float(-ev[..., 0].mean()) / edge - 1) < 0.1
    assert abs(float(ev[..., -1].mean()) / edge - 1) < 0.1


def test_escape_slope_limits():
    assert sn.escape_slope(12, 2, 10**12, 0.2, 10.0) == pytest.approx(2.0, abs=1e-4)   # m -> oo: eq-subgm-floor
    lam = sn.sign_noise_edge(12, 2, 1500)
    kappa = 2 * float(sn.sign_scale(math.sqrt(2), 0.0, 10.0)) / math.sqrt(2)
    assert sn.escape_slope(12, 2, 1500, 0.0, 10.0) == pytest.approx(2 - 2 * lam / kappa)
    slopes = [sn.escape_slope(12, 2, 1500, p, 10.0) for p in (0.0, 0.2, 0.6, 0.9)]
    assert all(b < a for a, b in zip(slopes, slopes[1:]))                 # outliers slow the escape only


def test_l2_tangent_error_is_the_least_squares_error():
    gen = np.random.default_rng(1)
    d, r, m, var = 6, 2, 40, 2.0
    k = sn.tangent_dim(d, r)
    assert k == 11
    z = gen.standard_normal((4000, m, k))
    noise = math.sqrt(var) * gen.standard_normal((4000, m, 1))
    beta = np.linalg.solve(np.swapaxes(z, -1, -2) @ z, np.swapaxes(z, -1, -2) @ noise)
    sq = (beta**2).sum((-2, -1))
    assert abs(sq.mean() - float(sn.l2_tangent_error(d, r, m, var)) ** 2) < 5 * sq.std() / math.sqrt(len(sq))


def test_zero_columns_stay_zero_and_exact_rank_recovers():
    d, m = 6, 300
    gens = _gens(2, 7)
    a = sn.gaussian_operator(d, m, gens)
    x_star = sn.low_rank_psd(d, [1.0, 1.0], gens)
    y = (sn.measure(a, x_star[:, None]) + sn.outliers(m, [0.2], 10.0, gens))
    u0 = sn.small_init(d, [2, 5], [1e-2], gens)
    out = sn.subgradient_method(u0, a, y.expand(-1, 2, -1), x_star, sn.geometric_steps(0.3, 0.97, 400), every=100)
    assert torch.all(out.u[:, 0, :, 2:] == 0) and torch.all(out.u[:, 1, :, 5:] == 0)
    assert float(out.error[:, 0, -1].max()) < 1e-4
    assert out.error.shape == (2, 2, len(out.steps))


def test_outliers_are_nested_and_schedule_is_geometric():
    s = sn.outliers(20_000, [0.1, 0.4], 3.0, _gens(1))[0]
    assert torch.all((s[0] != 0) <= (s[1] != 0))
    assert abs(float((s[1] != 0).double().mean()) - 0.4) < 0.02
    steps = sn.geometric_steps(0.5, 0.9, 4)
    assert np.allclose(steps, 0.5 * 0.9 ** np.arange(4))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="kind"):
        sn.loss(torch.zeros(1, 1, 2, 2, dtype=sn.DTYPE), torch.zeros(1, 3, 4, dtype=sn.DTYPE), torch.zeros(1, 1, 3, dtype=sn.DTYPE), "l3")
    with pytest.raises(ValueError, match="rho"):
        sn.geometric_steps(0.1, 1.5, 3)
    with pytest.raises(ValueError, match="eigenvalues"):
        sn.low_rank_psd(3, [1.0, -1.0], _gens(1))
    with pytest.raises(ValueError, match="m must exceed"):
        sn.l2_tangent_error(6, 2, 10, 1.0)
    with pytest.raises(ValueError, match="fractions"):
        sn.outliers(10, [1.5], 1.0, _gens(1))
