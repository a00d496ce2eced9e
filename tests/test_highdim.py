"""Tests of theorylab.linear.highdim: closed forms against simulation, brute force against sufficient statistics,
invariants, bad arguments."""
import numpy as np
import pytest

from theorylab.linear import highdim


def _gen(*keys):
    return np.random.default_rng(list(keys))


def _mean_se(x, axis=0):
    x = np.asarray(x)
    return x.mean(axis), x.std(axis, ddof=1) / np.sqrt(x.shape[axis])


# ---------------------------------------------------------------- 1. closed form vs simulation
@pytest.mark.parametrize("spectrum", [None, "powerlaw"])
def test_ols_generations_error_matches_simulation(spectrum):
    d, t, t0 = 20, 60, 40
    ev = None if spectrum is None else highdim.powerlaw_spectrum(d, 1.5)
    sims = highdim.simulate_ols_generations(d, t, t0, 6, 0.5, 0.3, _gen(1), reps=4000, spectrum=ev)
    mean, se = _mean_se(sims)
    exact = highdim.ols_generations_error(d, t, t0, np.arange(7), 0.5, 0.3)
    assert np.all(np.abs(mean - exact) <= 4 * se), (mean, exact, se)


def test_ridge_deterministic_equivalent_matches_simulation():
    """Full Monte Carlo (generator chain + downstream ridge) against the deterministic equivalent."""
    d, t, t0, s0 = 120, 80, 240, 0.3
    ev, w0 = highdim.powerlaw_spectrum(d, 1.5), highdim.source_teacher(d, 1.5, 0.5)
    ridge = np.array([1e-4, 1e-2, 1e-1])
    for n_gen in (0, 3):
        sims = highdim.simulate_ridge_collapse(ev, w0, t, ridge, 0.1, t0, s0, n_gen, _gen(2, n_gen), reps=300)
        mean, se = _mean_se(sims)
        de = highdim.ridge_collapse_error(ev, w0, t, ridge, 0.1, n_gen * s0**2 / (t0 - d - 1))
        # the deterministic equivalent is exact only as d -> infinity: allow 5% plus 4 SE
        assert np.all(np.abs(mean - de) <= 0.05 * de + 4 * se), (n_gen, mean, de, se)


def test_mixed_ols_error_matches_simulation():
    d = 30
    for t, p2 in [(200, 0.0), (200, 0.1), (5_000, 0.01), (10**7, 0.01), (10**7, 0.1)]:
        sims = highdim.simulate_mixed_ols(d, t, p2, 0.5, 4.0, _gen(3, t), reps=1500)
        mean, se = _mean_se(sims)
        theory = highdim.mixed_ols_error(d, t, p2, 0.5, 4.0)
        assert abs(mean - theory) <= 4 * se, (t, p2, mean, theory, se)          # the formula is exact


def test_mixed_ols_error_is_exact_for_any_covariance():
    """Explicit data with a non-isotropic Sigma and small T, where every finite-T term matters."""
    d, t, t2, sigma, reps = 4, 12, 3, 0.3, 40_000
    gen = _gen(8)
    ev, delta = np.array([2.0, 1.0, 0.5, 0.1]), np.array([0.5, -1.0, 2.0, 1.0])
    x = gen.standard_normal((reps, t, d)) * np.sqrt(ev)
    target = sigma * gen.standard_normal((reps, t))
    target[:, t - t2:] += x[:, t - t2:] @ delta                            # w_1 = 0 WLOG
    w_hat = np.linalg.solve(np.swapaxes(x, 1, 2) @ x, np.einsum("std,st->sd", x, target)[..., None])[..., 0]
    mean, se = _mean_se(highdim.excess_risk(w_hat, 0.0, ev))
    theory = highdim.mixed_ols_error(d, t, t2 / t, sigma, float(np.sum(ev * delta**2)))
    assert abs(mean - theory) <= 4 * se, (mean, theory, se)


# ---------------------------------------------------------------- 2. second routes
def test_wishart_factor_moments_match_brute_force():
    """C C^T has mean t*Sigma and Var(A_ij) = t (S_ij^2 + S_ii S_jj), for t >= d and t < d."""
    ev = np.array([2.0, 1.0, 0.5, 0.25])
    for t in (3, 12):
        c = highdim.wishart_factor(t, ev, _gen(4, t), size=40_000)
        a = c @ np.swapaxes(c, 1, 2)
        mean, se = _mean_se(a)
        assert np.all(np.abs(mean - t * np.diag(ev)) <= 4 * se + 1e-12)
        var_theory = t * (np.diag(ev**2) + np.outer(ev, ev))
        assert np.allclose(a.var(0), var_theory, rtol=0.05)


def test_ols_generation_chain_matches_explicit_refits():
    """Refitting OLS on explicit X, generation after generation, gives the same error law."""
    d, t0, n_gen, s0, reps = 8, 20, 3, 0.5, 3000
    gen = _gen(5)
    ev = highdim.powerlaw_spectrum(d, 1.0)
    w0 = gen.standard_normal(d)
    errs = np.empty(reps)
    for r in range(reps):
        w = w0
        for _ in range(n_gen):
            x = gen.standard_normal((t0, d)) * np.sqrt(ev)
            w = np.linalg.lstsq(x, x @ w + s0 * gen.standard_normal(t0), rcond=None)[0]
        errs[r] = highdim.excess_risk(w, w0, ev)
    fast = highdim.excess_risk(highdim.ols_generation_drift(n_gen, t0, ev, s0, gen, reps)[:, -1], 0.0, ev)
    (m1, se1), (m2, se2) = _mean_se(errs), _mean_se(fast)
    assert abs(m1 - m2) <= 4 * np.hypot(se1, se2)


def test_ridge_from_factor_matches_explicit_ridge():
    d, t, gen = 6, 9, _gen(6)
    ev = np.linspace(0.5, 2.0, d)
    x = gen.standard_normal((t, d)) * np.sqrt(ev)
    w, ridge = gen.standard_normal(d), np.array([0.0, 0.3])
    # with C = X^T the factor route must reproduce ridge on X exactly when the noise is zero
    c = x.T[None]
    fast = highdim.ridge_from_factor(c, w, 0.0, t, ridge, gen)[0]
    for j, lam in enumerate(ridge):
        direct = np.linalg.solve(x.T @ x + t * lam * np.eye(d), x.T @ (x @ w))
        assert np.allclose(fast[j], direct)


def test_rao_blackwellised_risk_matches_monte_carlo():
    """Exact average over noise and drift given X equals the Monte Carlo average on the same X."""
    d, t, gen = 15, 10, _gen(7)
    ev, w0 = highdim.powerlaw_spectrum(d, 1.0), highdim.source_teacher(d, 1.0, 0.5)
    c = highdim.wishart_factor(t, ev, gen, 1)
    ridge, sigma, coll = np.array([0.0, 0.05]), 0.2, 0.01
    reps = 20_000
    delta = np.sqrt(coll / ev) * gen.standard_normal((reps, d))          # Cov = c * Sigma^-1
    mc = highdim.excess_risk(highdim.ridge_from_factor(np.repeat(c, reps, 0), w0 + delta, sigma, t, ridge, gen),
                             w0, ev)
    mean, se = _mean_se(mc)
    exact = highdim.ridge_risk_given_factor(c, ev, w0, sigma, t, ridge, coll)[0]
    assert np.all(np.abs(mean - exact) <= 4 * se), (mean, exact, se)


# ---------------------------------------------------------------- 3. invariants and limits
def test_kappa_solves_its_equation_and_limits():
    ev = highdim.powerlaw_spectrum(500, 2.0)
    t, ridge = np.array([[50.0], [400.0]]), np.array([0.0, 1e-3, 1.0])
    k = highdim.solve_kappa(ev, t, ridge)
    df1 = np.sum(ev / (ev + k[..., None]), axis=-1)
    assert np.allclose(k, ridge + k * df1 / t, rtol=1e-9)
    assert highdim.solve_kappa(ev, 600.0, 0.0) == 0.0                    # t >= d, ridgeless
    assert np.all(np.diff(highdim.solve_kappa(ev, 100.0, np.logspace(-4, 0, 5))) > 0)


def test_deterministic_equivalent_reduces_to_ols_formula():
    """Ridgeless with T > d and isotropic data: the DE is the inverse-Wishart formula up to O(1/d)."""
    d, t, t0 = 400, 1200, 800
    ev = np.ones(d)
    de = highdim.ridge_collapse_error(ev, np.zeros(d), t, 0.0, 0.5, 3 * 0.3**2 / (t0 - d - 1))
    exact = highdim.ols_generations_error(d, t, t0, 3, 0.5, 0.3)
    assert abs(de - exact) / exact < 0.01


def test_mixed_ols_floor_and_clean_limit():
    t = np.array([1e4, 1e6, 1e9])
    assert np.allclose(highdim.mixed_ols_error(20, t, 0.01, 1.0, 3.0)[-1], 0.01**2 * 3.0, rtol=1e-3)
    assert np.allclose(highdim.mixed_ols_error(20, t, 0.0, 1.0, 3.0), 20 / (t - 21))


# ---------------------------------------------------------------- 4. bad arguments
@pytest.mark.parametrize("call, name", [
    (lambda: highdim.powerlaw_spectrum(0, 1.0), "d"),
    (lambda: highdim.powerlaw_spectrum(5, -1.0), "beta"),
    (lambda: highdim.source_teacher(5, 1.0, 0.0), "r"),
    (lambda: highdim.wishart_factor(-3, np.ones(2), _gen(0)), "t"),
    (lambda: highdim.wishart_factor(3, np.array([1.0, -1.0]), _gen(0)), "spectrum"),
    (lambda: highdim.ols_generations_error(10, 11, 50, 1, 1.0, 1.0), "t"),
    (lambda: highdim.ols_generations_error(10, 50, 50, -1, 1.0, 1.0), "n_gen"),
    (lambda: highdim.ols_generations_error(10, 50, 50, 1, -1.0, 1.0), "sigma"),
    (lambda: highdim.ols_generation_drift(2, 5, np.ones(10), 1.0, _gen(0)), "t0"),
    (lambda: highdim.solve_kappa(np.ones(3), 10.0, -1.0), "ridge"),
    (lambda: highdim.mixed_ols_error(10, 100, 1.5, 1.0, 1.0), "p2"),
    (lambda: highdim.simulate_mixed_ols(10, 5, 0.1, 1.0, 1.0, _gen(0)), "t"),
    (lambda: highdim.simulate_ols_generations(5, 20, 20, 1, 1.0, 1.0, _gen(0), reps=0), "reps"),
])
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()
