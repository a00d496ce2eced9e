"""theorylab.fit: slopes and power laws are recovered, with honest intervals."""

import numpy as np
import pytest

from theorylab import fit, rng


def test_exact_power_law_slope():
    x = np.logspace(1, 6, 30)
    res = fit.loglog_slope(x, 2.0 * x ** -0.75)
    assert res.slope == pytest.approx(-0.75, abs=1e-12) and res.r2 == pytest.approx(1.0)


def test_confidence_interval_covers_the_truth_at_its_level():
    x = np.logspace(1, 4, 20)
    hits = 0
    for i in range(200):
        noise = rng.numpy(0, "fit", i).normal(0, 0.1, x.size)
        res = fit.loglog_slope(x, x ** -0.5 * np.exp(noise), level=0.9)
        hits += res.ci_low <= -0.5 <= res.ci_high
    assert 0.84 <= hits / 200 <= 0.96  # binomial SD at n=200 is 0.021; 3 SD around 0.9


def test_power_law_with_offset():
    x = np.logspace(1, 6, 40)
    res = fit.power_law_offset(x, 5 * x ** -0.6 + 0.02)
    assert res.exponent == pytest.approx(-0.6, rel=1e-6)
    assert res.offset == pytest.approx(0.02, rel=1e-6)
    assert res(np.array([10.0]))[0] == pytest.approx(5 * 10 ** -0.6 + 0.02)


@pytest.mark.parametrize("x, y, word", [([1, 2], [1, 2], "at least 3"), ([1, 2, 3], [1, 2], "same length"),
                                        ([1, 2, -3], [1, 2, 3], "> 0"), ([1, 2, np.nan], [1, 2, 3], "finite")])
def test_bad_inputs(x, y, word):
    with pytest.raises(ValueError, match=word):
        fit.loglog_slope(x, y)
