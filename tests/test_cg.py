"""Tests of theorylab.optim.cg: CG and preconditioned CG against a direct solve, the residual log,
the condition-number bound, and the Nystrom preconditioner's exact inverse and spectrum."""

import numpy as np
import pytest

from theorylab.optim import cg


def _spd(n, decay, gen):
    q, _ = np.linalg.qr(gen.standard_normal((n, n)))
    ev = np.arange(1, n + 1, dtype=float) ** -decay
    return (q * ev) @ q.T


def test_cg_matches_direct_solve_and_bound():
    gen = np.random.default_rng(0)
    a = _spd(200, 1.5, gen) + 1e-3 * np.eye(200)
    b = gen.standard_normal(200)
    res = cg.conjugate_gradient(a, b, tol=1e-8)
    exact = np.linalg.solve(a, b)
    kappa = cg.condition_number(a)
    assert res.converged and res.residuals[0] == 1.0 and res.residuals[-1] <= 1e-8
    assert np.linalg.norm(res.x - exact) / np.linalg.norm(exact) <= kappa * 1e-8
    assert res.iterations <= cg.iteration_bound(kappa, 1e-8)
    k = np.arange(res.iterations + 1)
    assert np.all(res.residuals <= cg.residual_bound(k, kappa) * (1 + 1e-6))
    # the true residual agrees with the recursively updated one
    assert abs(np.linalg.norm(b - a @ res.x) / np.linalg.norm(b) - res.residuals[-1]) < 1e-9


def test_operator_and_matrix_agree():
    gen = np.random.default_rng(1)
    a = _spd(60, 1.0, gen) + 0.01 * np.eye(60)
    b = gen.standard_normal(60)
    r1, r2 = cg.conjugate_gradient(a, b, 1e-10), cg.conjugate_gradient(lambda v: a @ v, b, 1e-10)
    assert r1.iterations == r2.iterations and np.allclose(r1.x, r2.x)


def test_nystrom_preconditioner_inverse_and_spectrum():
    gen = np.random.default_rng(2)
    k = _spd(150, 2.0, gen)
    ridge = 1e-4
    lmat = cg.nystrom_factor(k, 30, gen)
    p = lmat @ lmat.T + ridge * np.eye(150)
    apply = cg.nystrom_preconditioner(lmat, ridge)
    assert np.allclose(apply(np.eye(150)) @ p, np.eye(150), atol=1e-6)
    half = cg.nystrom_preconditioner(lmat, ridge, power=0.5)(np.eye(150))
    assert np.allclose(half @ half @ p, np.eye(150), atol=1e-6)
    a = k + ridge * np.eye(150)
    ev = np.linalg.eigvalsh(half @ a @ half)
    assert ev[0] > 1 - 1e-6 and ev[-1] <= 1 + cg.nystrom_error_norm(k, lmat) / ridge + 1e-6
    assert cg.preconditioned_condition_number(a, cg.nystrom_preconditioner(lmat, ridge, 0.5)) < cg.condition_number(a)


def test_pcg_converges_faster_and_within_bound():
    gen = np.random.default_rng(3)
    k = _spd(300, 2.0, gen)
    ridge = 1e-5
    a, b = k + ridge * np.eye(300), gen.standard_normal(300)
    lmat = cg.nystrom_factor(k, 60, gen)
    plain = cg.conjugate_gradient(a, b, 1e-6)
    pre = cg.conjugate_gradient(a, b, 1e-6, precond=cg.nystrom_preconditioner(lmat, ridge))
    kp = cg.preconditioned_condition_number(a, cg.nystrom_preconditioner(lmat, ridge, 0.5))
    assert pre.iterations < plain.iterations / 2
    assert pre.iterations <= cg.iteration_bound(kp, 1e-6, cg.condition_number(a))
    assert np.allclose(pre.x, np.linalg.solve(a, b), rtol=1e-3, atol=1e-3 * np.abs(pre.x).max())


def test_bad_arguments():
    with pytest.raises(ValueError):
        cg.conjugate_gradient(np.eye(3), np.ones(3), tol=0.0)
    with pytest.raises(ValueError):
        cg.nystrom_factor(np.eye(3), 5, np.random.default_rng(0))
