"""Planted bugs for the chapter `hsgd` (What does SGD do in high dimensions?).

Each bug rewrites one expression of ``theorylab.optim.hsgd`` or ``theorylab.optim.sgdmoments`` (the
source is edited in memory and re-executed, so the bug sits exactly where a typo would), runs the chapter's code cells (fast
profile, base seed 0) through ``_runner.run`` under a time limit, and prints the claims that held
without the bug and fail with it. At least two bugs per core formula: the Volterra kernel, the
quadratic statistic, the critical step size and fixed point, the ridge kernel, gradient descent, the
SGD simulator and the exact moment recursion. Exit status 1 if a bug slips. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/hsgd.py [bug-substring ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.optim import hsgd, sgdmoments  # noqa: E402

LIMIT_S = 600

# name -> (expression in hsgd.py or sgdmoments.py, its buggy replacement)
BUGS: dict[str, tuple[str, str]] = {
    # the Volterra kernel (gamma^2 / n) tr(H^2 e^{-2 gamma H u}) ---------------------------------------
    "kernel tr(H e^..) instead of tr(H^2 e^..)": ("c_loss = gamma**2 / n * eig.lam**2", "c_loss = gamma**2 / n * eig.lam"),
    "kernel decays at gamma H, not 2 gamma H": ("rate = 2 * gamma * (eig.lam + ridge)", "rate = gamma * (eig.lam + ridge)"),
    "kernel gamma / n instead of gamma^2 / n": ("c_loss = gamma**2 / n * eig.lam**2", "c_loss = gamma / n * eig.lam**2"),
    "solver: psi_{k+1} weight dropped (explicit rule)": ("denom = 1 - c_loss @ w1", "denom = 1.0"),
    # the quadratic statistic (population risk) ------------------------------------------------------
    "statistic kernel tr(K H^2 ..) instead of tr(K H ..)": ("c_pop = gamma**2 / n * eig.lam * np.diag(eig.k)",
                                                          "c_pop = gamma**2 / n * eig.lam**2 * np.diag(eig.k)"),
    "statistic without the convolution (gradient flow)": ("                    conv[k + 1] = c_pop @ modes",
                                                         "                    conv[k + 1] = 0.0"),
    # gradient flow inside the equation --------------------------------------------------------------
    "gradient flow run for time t, not gamma t": ("decay = np.exp(-lr * np.outer(t, self.lam + ridge))",
                                                  "decay = np.exp(-np.outer(t, self.lam + ridge))"),
    # critical step size and fixed point ------------------------------------------------------------
    "critical step 2d / tr H (d for n)": ("return 2 * problem.n / float(np.sum(problem.a**2))",
                                          "return 2 * problem.d / float(np.sum(problem.a**2))"),
    "critical step n / tr H (factor 2 lost)": ("return 2 * problem.n / float(np.sum(problem.a**2))",
                                               "return problem.n / float(np.sum(problem.a**2))"),
    "fixed point: mass gamma tr H / n (2 lost)": ("mass = gamma / (2 * problem.n) * float(eig.lam @ frac)",
                                                  "mass = gamma / problem.n * float(eig.lam @ frac)"),
    "fixed point: risk without the noise term": ("return psi, float(eig.pop(eig.target)) + gamma / (2 * problem.n)",
                                                 "return psi, float(eig.pop(eig.target)) + 0 * gamma / (2 * problem.n)"),
    # ridge -----------------------------------------------------------------------------------------
    "ridge: kernel decays without delta": ("rate = 2 * gamma * (eig.lam + ridge)", "rate = 2 * gamma * (eig.lam + 0 * ridge)"),
    "ridge: SGD shrink by gamma delta (not / n)": ("shrink = 1 - g * ridge / n", "shrink = 1 - g * ridge"),
    # gradient descent ------------------------------------------------------------------------------
    "GD formula: one step too many": ("(1 - eta * eig.lam) ** k[:, None]", "(1 - eta * eig.lam) ** (k[:, None] + 1)"),
    "GD threshold 1 / lambda_max": ("return 2 / float(problem.lam[-1])", "return 1 / float(problem.lam[-1])"),
    # the simulator and the exact recursion -----------------------------------------------------------
    "SGD: step gamma / 2": ("            x -= g * resid[:, None] * rows", "            x -= g / 2 * resid[:, None] * rows"),
    "SGD: target of the next row (index off by one)": ('resid = np.einsum("bj,bj->b", rows, x) - b[i]',
                                                       'resid = np.einsum("bj,bj->b", rows, x) - b[(i + 1) % n]'),
    "exact recursion: the gamma^2 quartic term lost": ("+ gamma**2 / n * (a.T * quad) @ a", "+ 0 * (a.T * quad) @ a"),
    "exact recursion: the noise term gamma^2 g g^T lost": ("+ gamma * (cross + cross.T) + gamma**2 * noise)", "+ gamma * (cross + cross.T))"),
    # added by the referee ----------------------------------------------------------------------------
    "statistic: diag(K) in the data basis, not H's eigenbasis": ("c_pop = gamma**2 / n * eig.lam * np.diag(eig.k)",
                                                                "c_pop = gamma**2 / n * eig.lam * np.diag(problem.pop_hessian)"),
    "ridge fixed point: noise term tr(K), not tr(K H (H + delta)^-1)": (
        "float(np.diag(eig.k) @ frac) * psi", "float(np.sum(np.diag(eig.k))) * psi"),
    "ridge fixed point: mass tr H, not tr(H^2 (H + delta)^-1)": ("mass = gamma / (2 * problem.n) * float(eig.lam @ frac)",
                                                                "mass = gamma / (2 * problem.n) * float(np.sum(eig.lam))"),
    "SGD: rows drawn from 0..n-2 (last row never used)": ("gen.integers(0, n, size=", "gen.integers(0, n - 1, size="),
    "exact recursion: noise covariance / (n - 1)": ("noise = grads.T @ grads / n", "noise = grads.T @ grads / (n - 1)"),
}


def main(selected: list[str]) -> int:
    return _runner.report_source_bugs("hsgd", [hsgd, sgdmoments], BUGS, selected, limit_s=LIMIT_S, private={hsgd: ["_Eigen", "_record_steps", "_grid", "_lrs"]})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
