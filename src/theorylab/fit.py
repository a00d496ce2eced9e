"""Fitting the shapes theory predicts: log-log slopes and power laws with an offset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from .runtime import require_float


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line through (log x, log y): log y = intercept + slope * log x."""

    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    r2: float


@dataclass(frozen=True)
class PowerLawFit:
    """y = scale * x ** exponent + offset."""

    scale: float
    exponent: float
    offset: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(x, dtype=float) ** self.exponent + self.offset


def _positive_pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length; got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"x must hold at least 3 points; got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    return x, y


def loglog_slope(x, y, level: float = 0.95) -> SlopeFit:
    r"""Slope of :math:`\log y` against :math:`\log x` with a ``level`` confidence interval.

    The interval is the usual t-interval of ordinary least squares; it measures how straight the
    curve is over the fitted range, not seed-to-seed spread (fit each seed for that).
    """
    x, y = _positive_pairs(x, y)
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be > 0 for a log-log fit")
    level = require_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    lx, ly = np.log(x), np.log(y)
    res = stats.linregress(lx, ly)
    half = stats.t.ppf(0.5 + level / 2, df=x.size - 2) * res.stderr
    return SlopeFit(slope=float(res.slope), intercept=float(res.intercept), stderr=float(res.stderr),
                    ci_low=float(res.slope - half), ci_high=float(res.slope + half), r2=float(res.rvalue ** 2))


def power_law_offset(x, y) -> PowerLawFit:
    """Fit ``y = scale * x**exponent + offset`` by nonlinear least squares in log y."""
    x, y = _positive_pairs(x, y)
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be > 0 for a power-law fit")
    order = np.argsort(x)
    x, y = x[order], y[order]
    c0 = 0.5 * y.min()
    start = loglog_slope(x, np.maximum(y - c0, 1e-300))

    def resid(theta):
        log_a, b, log_c = theta
        return np.log(np.exp(log_a) * x ** b + np.exp(log_c)) - np.log(y)

    sol = optimize.least_squares(resid, x0=[start.intercept, start.slope, np.log(c0)], method="lm")
    log_a, b, log_c = sol.x
    return PowerLawFit(scale=float(np.exp(log_a)), exponent=float(b), offset=float(np.exp(log_c)))
