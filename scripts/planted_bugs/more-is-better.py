"""Planted bugs for the chapter `more-is-better` (When is more (parameters, data) always better?).

Each bug rewrites one expression of ``theorylab.linear.eigenframework`` (the source is edited in memory
and re-executed, so the bug sits exactly where a typo would), runs the chapter's code cells (fast
profile, base seed 0) through ``_runner.run`` under a time limit, and prints the claims that held
without the bug and fail with it. At least two bugs per core formula (an off-by-one, df1/(n+1) for df1/n, was also
tried: it moves the risk by about 1% at n >= 64 and no claim sees it): the fixed point, the test risk
(variance factor and signal term), the train risk, the simulation, the digits spectrum. Exit status 1
if a bug slips. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/more-is-better.py [bug-substring ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.linear import eigenframework as ef  # noqa: E402
from theorylab.nets import kernels  # noqa: E402

LIMIT_S = 600
SLUG = "more-is-better"

# name -> (expression in eigenframework.py, its buggy replacement)
BUGS: dict[str, tuple[str, str]] = {
    # the fixed point ------------------------------------------------------------------------------------
    "fixed point without the feature factor (1 - df1/k)": (
        "pos = (d1 < cap) & (g * (1 - d1 / n) * (1 - d1 / k) >= ridge)", "pos = (d1 < cap) & (g * (1 - d1 / n) >= ridge)"),
    "fixed point with df2 in place of df1": (
        "d1 = np.sum(lam / (lam + g[..., None]), axis=-1)\n        pos",
        "d1 = np.sum((lam / (lam + g[..., None])) ** 2, axis=-1)\n        pos"),
    # the test risk -------------------------------------------------------------------------------------
    "variance factor with df1 instead of df2": (
        "df2z = d1 - (1 - d1 * ik) / (1 - d2 * ik) * (d1 - d2)", "df2z = d1 + 0 * (d1 - d2)"),
    "RF variance factor without the finite-k correction (KRR df2)": (
        "df2z = d1 - (1 - d1 * ik) / (1 - d2 * ik) * (d1 - d2)", "df2z = d2 + 0 * ik"),
    "RF signal term without the unreachable part C_gamma": (
        "big_b = ((1 - d1 * ik) * bias + ik * (d1 - d2) * reach) / (1 - d2 * ik)",
        "big_b = ((1 - d1 * ik) * bias + 0 * ik * (d1 - d2) * reach) / (1 - d2 * ik)"),
    "KRR bias with kappa / (lambda + kappa) not squared": (
        "bias = np.sum(v2 * (g / (lam + g)) ** 2, axis=-1)", "bias = np.sum(v2 * (g / (lam + g)), axis=-1)"),
    # referee's bugs ------------------------------------------------------------------------------------
    "RF signal term normalised by 1 - df1/k instead of 1 - df2/k (referee)": (
        "big_b = ((1 - d1 * ik) * bias + ik * (d1 - d2) * reach) / (1 - d2 * ik)",
        "big_b = ((1 - d1 * ik) * bias + ik * (d1 - d2) * reach) / (1 - d1 * ik)"),
    "RF variance factor with the ratio (1 - df1/k)/(1 - df2/k) inverted (referee)": (
        "df2z = d1 - (1 - d1 * ik) / (1 - d2 * ik) * (d1 - d2)", "df2z = d1 - (1 - d2 * ik) / (1 - d1 * ik) * (d1 - d2)"),
    "label noise not amplified by the variance factor (referee)": (
        "test = np.where(df2z < n, (noise + big_b) / (1 - df2z / n), np.inf)",
        "test = np.where(df2z < n, noise + big_b / (1 - df2z / n), np.inf)"),
    "train risk with (delta/gamma)^2 for (delta/kappa)^2 (referee)": (
        "train = (1 - d1 / n) ** 2 * test", "train = (1 - d1 / n) ** 2 * (1 - d1 * ik) ** 2 * test"),
    # the train risk ------------------------------------------------------------------------------------
    "train risk (delta/kappa) E_te, not squared": (
        "train = (1 - d1 / n) ** 2 * test", "train = (1 - d1 / n) * test"),
    "train risk with df2 for df1": ("train = (1 - d1 / n) ** 2 * test", "train = (1 - d2 / n) ** 2 * test"),
    # the simulation ------------------------------------------------------------------------------------
    "simulated ridge delta instead of n delta": (
        "shrink = 1.0 / (g[:, None, :] + n * ridges[None, :, None])", "shrink = 1.0 / (g[:, None, :] + ridges[None, :, None])"),
    "features scaled 1/k instead of 1/sqrt(k)": (
        "z = xf[:, :n, :k] / np.sqrt(k)", "z = xf[:, :n, :k] / k"),
    # digits: kernel and spectrum ----------------------------------------------------------------------
    "arc-cosine kernel with theta for (pi - theta)": (
        "(np.sqrt(1.0 - cos**2) + (np.pi - theta) * cos)", "(np.sqrt(1.0 - cos**2) + theta * cos)"),
    "target power without 1/N": (
        "v2 = np.sum((u.T @ y.reshape(big_n, -1)) ** 2, axis=-1) / big_n", "v2 = np.sum((u.T @ y.reshape(big_n, -1)) ** 2, axis=-1)"),
}


def main(selected: list[str]) -> int:
    return _runner.report_source_bugs(SLUG, [ef, kernels], BUGS, selected, limit_s=LIMIT_S, private=None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
