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

import inspect
import signal
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

import numpy as np  # noqa: E402

from theorylab.nets import kernels  # noqa: E402
from theorylab.optim import cg  # noqa: E402

MODULES = {mod: inspect.getsource(mod) for mod in (kernels, cg)}
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


def patch_for(old: str, new: str):
    hits = [(mod, src) for mod, src in MODULES.items() for _ in range(src.count(old))]
    if len(hits) != 1:
        raise SystemExit(f"planted bug does not match exactly one place in kernels.py and cg.py: {old!r}")
    target, source = hits[0]
    bug = types.ModuleType(target.__name__ + "_bug")
    bug.__package__ = target.__package__
    sys.modules[bug.__name__] = bug                                   # dataclasses look their module up
    exec(compile(source.replace(old, new), bug.__name__ + ".py", "exec"), bug.__dict__)
    private = ["_recursion"] if target is kernels else []

    def patch() -> None:
        for name in target.__all__ + private:
            setattr(target, name, getattr(bug, name))
    return patch


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def main(selected: list[str]) -> int:
    signal.signal(signal.SIGALRM, _alarm)
    clean = _runner.run(SLUG, None)
    broken = [k for k, ok in clean.items() if not ok]
    print(f"clean run: {len(clean)} claims, failing without a bug: {broken or 'none'}", flush=True)
    slipped = 0
    for name, (old, new) in BUGS.items():
        if selected and not any(s in name for s in selected):
            continue
        tic = time.perf_counter()
        signal.alarm(LIMIT_S)
        try:
            patch = patch_for(old, new)
            buggy = _runner.run(SLUG, patch)
            caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
            verdict = "CAUGHT by " + ", ".join(caught) if caught else "NOT CAUGHT"
        except _Timeout:
            caught, verdict = [], f"TIMED OUT after {LIMIT_S} s"
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as err:   # the chapter itself stops: caught
            caught, verdict = ["(exception)"], f"CAUGHT: the chapter raised {type(err).__name__}: {str(err)[:80]}"
        finally:
            signal.alarm(0)
        slipped += not caught
        print(f"{name}: {verdict} ({time.perf_counter() - tic:.0f} s)", flush=True)
    return int(slipped > 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
