"""Planted bugs for the chapter `neural-kernels` (How do kernel learning curves scale?).

Each bug rewrites one expression of ``theorylab.nets.kernels`` or ``theorylab.optim.cg`` (the source
is edited in memory and re-executed, so the bug sits exactly where a typo would), runs the chapter's
code cells (fast profile, base seed 0) through ``_runner.run`` under a time limit, and prints the
claims that held without the bug and fail with it. Two or more bugs per core formula: the arc-cosine
moments, the NTK recursion, the sphere spectrum, the eigenframework, CG and the Nystrom
preconditioner. Exit status 1 if a bug slips. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/neural-kernels.py [bug-substring ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

from theorylab.nets import kernels  # noqa: E402
from theorylab.optim import cg  # noqa: E402

LIMIT_S = 600
SLUG = "neural-kernels"

# name -> (expression in kernels.py or cg.py, its buggy replacement)
BUGS: dict[str, tuple[str, str]] = {
    # arc-cosine moments ---------------------------------------------------------------------------
    "relu moment without the sin(theta) term": ("(np.sqrt(1.0 - cos**2) + (np.pi - theta) * cos)",
                                                "((np.pi - theta) * cos)"),
    "step moment (pi - theta) / pi, factor 2 lost": ("step = (np.pi - theta) / (2 * np.pi)",
                                                     "step = (np.pi - theta) / np.pi"),
    # the NTK recursion ----------------------------------------------------------------------------
    "NTK recursion without the Sigma^{l+1} term": ("ntk = nngp + ntk * sigma_w2 * step", "ntk = ntk * sigma_w2 * step"),
    "NTK recursion without sigma_w^2 on dSigma": ("ntk = nngp + ntk * sigma_w2 * step", "ntk = nngp + ntk * step"),
    # the sphere spectrum --------------------------------------------------------------------------
    "multiplicity: binom(k+d-2, k-1) (off by one)": ("special.comb(k + d - 3, k - 1)", "special.comb(k + d - 2, k - 1)"),
    "Gegenbauer not normalised to P_k(1) = 1": ("return special.eval_gegenbauer(k, alpha, t) / special.eval_gegenbauer(k, alpha, 1.0)",
                                                "return special.eval_gegenbauer(k, alpha, t)"),
    # the eigenframework ---------------------------------------------------------------------------
    "eigenframework without the factor E_0": ("e0 = n / (n - np.sum(mult * (lam / (lam + kappa)) ** 2, -1))", "e0 = 1.0"),
    "eigenframework: unlearned fraction not squared": ("np.sum(energy * (kappa / (lam + kappa)) ** 2, -1)",
                                                       "np.sum(energy * (kappa / (lam + kappa)), -1)"),
    # referee's bugs ---------------------------------------------------------------------------------
    "Gegenbauer index (d-1)/2: the polynomials of S^d": ("alpha = (d - 2) / 2", "alpha = (d - 1) / 2"),
    "Jacobi weight (1-t^2)^((d-2)/2): the measure of S^d": (
        "special.roots_jacobi(require_int(\"nodes\", nodes, minimum=10), (d - 3) / 2, (d - 3) / 2)",
        "special.roots_jacobi(require_int(\"nodes\", nodes, minimum=10), (d - 2) / 2, (d - 2) / 2)"),
    "eigenframework: E_0 without the multiplicities": ("e0 = n / (n - np.sum(mult * (lam / (lam + kappa)) ** 2, -1))",
                                                      "e0 = n / (n - np.sum((lam / (lam + kappa)) ** 2, -1))"),
    "effective ridge: the ridge term delta/kappa dropped": ("+ (tail_trace + ridge) / kappa", "+ tail_trace / kappa"),
    "decay law: Gamma(k+d-2+nu), off by one": ("special.gammaln(k + d - 1 + nu)", "special.gammaln(k + d - 2 + nu)"),
    # CG and the preconditioner --------------------------------------------------------------------
    "CG: beta inverted (rz / rz_new)": ("p = z + (rz_new / rz) * p", "p = z + (rz / rz_new) * p"),
    "CG: step alpha from r^T r, not r^T z": ("alpha = rz / float(p @ ap)", "alpha = float(r @ r) / float(p @ ap)"),
    "Nystrom: ridge left out of (s^2 + delta)^-1": ("scale = (s**2 + ridge) ** -power - base",
                                                   "scale = (s**2 + 1e-3 * ridge) ** -power - base"),
}


def main(selected: list[str]) -> int:
    return _runner.report_source_bugs(SLUG, [kernels, cg], BUGS, selected, limit_s=LIMIT_S, private={kernels: ["_recursion"]})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
