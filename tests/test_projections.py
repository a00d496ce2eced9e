"""Tests of theorylab.linear.projections: dual form against the explicit feature map, invariants, bad arguments."""
import numpy as np
import pytest

from theorylab.linear import projections


def _gen(*keys):
    return np.random.default_rng(list(keys))


def _setup(d=12):
    gen = _gen(0)
    return gen.standard_normal(d) / np.sqrt(d), gen.standard_normal(d) / np.sqrt(d)


# ---------------------------------------------------------------- 2. second route: explicit features
def test_dual_form_matches_explicit_random_features():
    """Same generator stream, rebuilt by hand: ridge on Z = X S^T / sqrt(m) in the primal."""
    w1, delta = _setup()
    d, t, widths, p2, sigma, lam = w1.size, 15, [4, 9, 30], 0.2, 0.1, 0.05
    errs = projections.projection_ridge_errors(w1, delta, t, widths, p2, sigma, lam, _gen(1), reps=1)[0]
    gen = _gen(1)
    x = gen.standard_normal((t, d))
    y = x @ w1 + sigma * gen.standard_normal(t)
    y_mixed = y.copy()
    t2 = int(round(p2 * t))
    y_mixed[t - t2:] += x[t - t2:] @ delta
    s_full = gen.standard_normal((max(widths), d))
    for j, m in enumerate(widths):
        z = x @ s_full[:m].T / np.sqrt(m)
        for k, target in enumerate((y, y_mixed)):
            v = np.linalg.solve(z.T @ z + t * lam * np.eye(m), z.T @ target)
            assert np.isclose(errs[k, j], np.sum((s_full[:m].T @ v / np.sqrt(m) - w1) ** 2))


# ---------------------------------------------------------------- 3. invariants and limits
def test_no_synthetic_data_means_no_excess_and_wide_limit_is_ridge():
    w1, delta = _setup()
    errs = projections.projection_ridge_errors(w1, delta, 10, [5, 20_000], [0.0, 0.5], 0.1, 0.1, _gen(2), reps=3)
    assert np.allclose(errs[:, 0], errs[:, 1])                       # p2 = 0: identical fits
    assert np.all(errs[:, 2] >= 0)
    # m -> infinity: S^T S / m -> I, the model becomes plain ridge on x (checked to 5%)
    gen = _gen(2)
    x = gen.standard_normal((10, w1.size))
    y = x @ w1 + 0.1 * gen.standard_normal(10)
    ridge = np.linalg.solve(x.T @ x + 10 * 0.1 * np.eye(w1.size), x.T @ y)
    assert np.isclose(errs[0, 0, 1], np.sum((ridge - w1) ** 2), rtol=0.05)


# ---------------------------------------------------------------- 4. bad arguments
@pytest.mark.parametrize("kwargs, name", [
    (dict(t=0), "t"), (dict(widths=[0, 3]), "widths"), (dict(widths=[5, 3]), "widths"),
    (dict(p2=1.5), "p2"), (dict(sigma=-1.0), "sigma"), (dict(ridge=0.0), "ridge"), (dict(reps=0), "reps"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    w1, delta = _setup()
    args = dict(t=10, widths=[3, 5], p2=0.1, sigma=0.1, ridge=0.1, reps=1) | kwargs
    with pytest.raises(ValueError, match=name):
        projections.projection_ridge_errors(w1, delta, gen=_gen(0), **args)
