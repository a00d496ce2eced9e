"""Tests of theorylab.linear.completion: minimum-nuclear-norm completion by ADMM, against second routes."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from theorylab.linear import completion as cp


def _problem(d, rank, n_obs, seed, batch=1):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d, rank, generator=g, dtype=cp.DTYPE)
    v = torch.randn(batch, d, rank, generator=g, dtype=cp.DTYPE)
    target = u @ v.transpose(-2, -1)
    mask = torch.zeros(batch, d * d, dtype=cp.DTYPE)
    for b in range(batch):
        mask[b, torch.randperm(d * d, generator=g)[:n_obs]] = 1.0
    return target, mask.reshape(batch, d, d)


def test_svt_is_the_prox_of_the_nuclear_norm():
    x = torch.randn(1, 5, 4, generator=torch.Generator().manual_seed(0), dtype=cp.DTYPE)
    tau = 0.7
    z = cp.svt(x, tau)
    obj = lambda y: tau * float(cp.nuclear_norm(y)) + 0.5 * float(((y - x) ** 2).sum())  # noqa: E731
    base = obj(z)
    g = torch.Generator().manual_seed(1)
    for _ in range(50):  # the prox objective is strongly convex: any perturbation increases it
        assert obj(z + 1e-3 * torch.randn(z.shape, generator=g, dtype=cp.DTYPE)) > base
    s = torch.linalg.svdvals(x[0])
    assert torch.allclose(torch.linalg.svdvals(z[0]), (s - tau).clamp(min=0), atol=1e-12)


def test_full_observation_returns_the_target():
    target, _ = _problem(6, 2, 36, 0, batch=2)
    c = cp.nuclear_norm_completion(target, torch.ones_like(target))
    assert torch.allclose(c.x, target)


def test_matches_the_observed_entries_exactly_and_is_certified():
    target, mask = _problem(12, 2, 80, 3, batch=3)
    c = cp.nuclear_norm_completion(target, mask, tol=1e-7)
    assert torch.equal(mask * c.x, mask * target)
    assert bool((c.rel_gap.abs() < 1e-6).all())
    assert bool((c.lower <= c.nuclear * (1 + 1e-9)).all())


def test_against_a_direct_minimisation_over_the_free_entries():
    """Second route: minimise ||X||_* over the few unobserved entries with a generic optimiser."""
    target, mask = _problem(4, 1, 11, 5)
    c = cp.nuclear_norm_completion(target, mask, tol=1e-9, max_iter=20000)
    free = np.flatnonzero(mask.numpy().reshape(-1) == 0)
    base = (mask * target)[0].numpy().reshape(-1)

    def f(z):
        x = base.copy()
        x[free] = z
        return np.linalg.svd(x.reshape(4, 4), compute_uv=False).sum()

    best = min((minimize(f, np.random.default_rng(k).standard_normal(len(free)), method="Powell",
                         options=dict(xtol=1e-10, ftol=1e-12, maxiter=100000)) for k in range(5)),
               key=lambda r: r.fun)
    assert float(c.nuclear[0]) == pytest.approx(best.fun, rel=1e-4)  # Powell stalls on the kinks
    assert float(c.nuclear[0]) <= best.fun + 1e-7  # ADMM is never worse than the direct search


def test_weak_duality_for_any_matrix():
    target, mask = _problem(8, 2, 30, 7)
    c = cp.nuclear_norm_completion(target, mask)
    g = torch.Generator().manual_seed(2)
    for _ in range(20):
        y = torch.randn(1, 8, 8, generator=g, dtype=cp.DTYPE)
        assert float(cp.dual_bound(y, target, mask)[0]) <= float(c.nuclear[0]) + 1e-9


def test_recovers_an_easy_low_rank_matrix():
    target, mask = _problem(20, 1, 200, 11)
    c = cp.nuclear_norm_completion(target, mask)
    assert float(torch.linalg.norm(c.x - target) / torch.linalg.norm(target)) < 1e-4


def test_bad_arguments():
    target, mask = _problem(4, 1, 8, 0)
    with pytest.raises(ValueError):
        cp.nuclear_norm_completion(target[0], mask[0])
    with pytest.raises(ValueError):
        cp.nuclear_norm_completion(target, mask, tol=0.0)
    with pytest.raises(ValueError):
        cp.svt(target, -1.0)
