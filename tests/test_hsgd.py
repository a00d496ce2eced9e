"""Tests of theorylab.optim.hsgd: the Volterra solver against a closed form, the fixed point, gradient
descent, and argument checks (the exact moment recursion is tested in test_sgdmoments.py)."""

import numpy as np
import pytest
from scipy.linalg import expm

from theorylab.optim import hsgd, sgdmoments


def _isotropic(n=200, d=50, seed=0):
    g = np.random.default_rng(seed)
    a = np.sqrt(n / d) * np.linalg.qr(g.standard_normal((n, d)))[0]          # H = (n/d) I
    xs = g.standard_normal(d)
    return hsgd.Problem(a, a @ xs + 0.5 * g.standard_normal(n), np.eye(d) / d, xs, 0.125)


@pytest.mark.parametrize("lr", [0.3, 1.0, 1.9])
def test_volterra_matches_isotropic_closed_form(lr):
    p = _isotropic()
    t = np.linspace(0, 6, 601)
    x_hat = np.linalg.lstsq(p.a, p.b, rcond=None)[0]
    l_min = 0.5 * np.sum((p.a @ x_hat - p.b) ** 2)
    closed = hsgd.isotropic_loss(p.n, p.d, lr, t, l_min, 0.5 * p.b @ p.b - l_min)
    assert np.abs(hsgd.volterra_risk(p, lr, t).loss[0, 0] / closed - 1).max() < 1e-4


def test_solver_converges_in_step():
    p = hsgd.gaussian_problem(300, 100, 0.5, np.random.default_rng(1))
    coarse = hsgd.volterra_risk(p, 1.2, np.linspace(0, 4, 41)).loss[0, 0]
    fine = hsgd.volterra_risk(p, 1.2, np.linspace(0, 4, 401)).loss[0, 0, ::10]
    finer = hsgd.volterra_risk(p, 1.2, np.linspace(0, 4, 801)).loss[0, 0, ::20]
    assert np.abs(fine / finer - 1).max() < 1e-4                               # second order: h = 0.01 is converged
    assert np.abs(coarse / finer - 1).max() < 1e-2


def test_no_noise_is_gradient_flow():
    p = hsgd.gaussian_problem(120, 60, 0.5, np.random.default_rng(2))
    h = p.a.T @ p.a
    x_hat = np.linalg.lstsq(p.a, p.b, rcond=None)[0]
    for t in [0.3, 2.0]:
        x = x_hat + expm(-0.7 * t * h) @ (0 - x_hat)
        risk = hsgd.volterra_risk(p, 0.7, np.linspace(0, t, 11), noise=False)
        assert risk.loss[0, 0, -1] == pytest.approx(0.5 * np.sum((p.a @ x - p.b) ** 2), rel=1e-9)
        e = x - p.x_star
        assert risk.pop[0, 0, -1] == pytest.approx(0.5 * e @ p.pop_hessian @ e + p.floor, rel=1e-9)


def test_volterra_close_to_sgd_at_moderate_size():
    p = hsgd.gaussian_problem(800, 400, 0.5, np.random.default_rng(5))
    t = np.linspace(0, 4, 41)
    sim = hsgd.simulate_sgd_risk(p, 1.0, t, reps=8, gen=np.random.default_rng(6))
    th = hsgd.volterra_risk(p, 1.0, np.linspace(0, 4, 401))
    assert np.abs(sim.loss[0].mean(0) / th.loss[0, 0, ::10] - 1).max() < 0.06
    flow = hsgd.volterra_risk(p, 1.0, t, noise=False)
    assert (sim.loss[0].mean(0)[10:] / flow.loss[0, 0, 10:]).min() > 1.3                   # the noise term is there


def test_fixed_point_and_critical_step():
    p = hsgd.gaussian_problem(400, 200, 0.5, np.random.default_rng(7))
    lr_c = hsgd.critical_lr(p)
    assert lr_c == pytest.approx(2 * p.n / np.trace(p.a.T @ p.a))
    for lr in [0.5, 1.0]:
        far = hsgd.volterra_risk(p, lr, np.linspace(0, 300, 3001))
        lim_loss, lim_pop = hsgd.volterra_limit(p, lr)
        assert far.loss[0, 0, -1] == pytest.approx(lim_loss, rel=1e-4)
        assert far.pop[0, 0, -1] == pytest.approx(lim_pop, rel=1e-4)
    assert np.isinf(hsgd.volterra_limit(p, 1.001 * lr_c)[0])
    grow = hsgd.volterra_risk(p, 1.2 * lr_c, np.linspace(0, 20, 201), population=False).loss[0, 0]
    assert grow[-1] > 100 * grow[0]
    x_hat = np.linalg.lstsq(p.a, p.b, rcond=None)[0]
    l_min = 0.5 * np.sum((p.a @ x_hat - p.b) ** 2)
    assert hsgd.volterra_limit(p, 1.0)[0] == pytest.approx(l_min / (1 - 1.0 / lr_c))


def test_ridge_fixed_point_matches_long_run():
    p = hsgd.gaussian_problem(300, 150, 0.5, np.random.default_rng(8))
    far = hsgd.volterra_risk(p, 1.0, np.linspace(0, 40, 801), ridge=0.4)
    lim_loss, lim_pop = hsgd.volterra_limit(p, 1.0, ridge=0.4)
    assert far.loss[0, 0, -1] == pytest.approx(lim_loss, rel=1e-5)
    assert far.pop[0, 0, -1] == pytest.approx(lim_pop, rel=1e-5)


def test_gd_risk_matches_loop():
    p = hsgd.gaussian_problem(100, 40, 0.3, np.random.default_rng(9))
    eta = 1.0 / p.lam[-1]
    x, losses = np.zeros(p.d), []
    for _ in range(10):
        losses.append(0.5 * np.sum((p.a @ x - p.b) ** 2))
        x = x - eta * p.a.T @ (p.a @ x - p.b)
    assert np.allclose(hsgd.gd_risk(p, eta, np.arange(10)).loss[0, 0], losses, rtol=1e-10)


def test_random_features_are_normalised():
    p = hsgd.random_features_problem(4000, 30, 100, 0.1, np.random.default_rng(11), n_test=200)
    assert np.mean(np.sum(p.a**2, axis=1)) == pytest.approx(1.0, abs=0.02)
    assert np.abs(p.a.mean(0)).max() < 0.1 / np.sqrt(p.d) * 5
    assert p.lam[-1] / p.n < 0.2                                            # centred: no macroscopic spike


def test_twins_share_shapes():
    p = hsgd.gaussian_problem(40, 10, 0.5, np.random.default_rng(12))
    t = np.linspace(0, 1, 11)
    shapes = {hsgd.volterra_risk(p, [0.5, 1.0], t, reps=3).loss.shape,
              hsgd.simulate_sgd_risk(p, [0.5, 1.0], t, reps=3, gen=np.random.default_rng(0)).loss.shape,
              sgdmoments.exact_sgd_risk(p, [0.5, 1.0], t, reps=3).loss.shape}
    assert shapes == {(2, 3, 11)}


def test_bad_arguments():
    p = hsgd.gaussian_problem(40, 10, 0.5, np.random.default_rng(13))
    with pytest.raises(ValueError, match="lr"):
        hsgd.volterra_risk(p, -1.0, np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="times"):
        hsgd.volterra_risk(p, 1.0, [0.0, 0.1, 0.5])
    with pytest.raises(ValueError, match="times"):
        hsgd.simulate_sgd_risk(p, 1.0, np.linspace(0, 1, 7), gen=np.random.default_rng(0))   # not whole steps
    with pytest.raises(ValueError, match="gen"):
        hsgd.simulate_sgd_risk(p, 1.0, np.linspace(0, 1, 5))
