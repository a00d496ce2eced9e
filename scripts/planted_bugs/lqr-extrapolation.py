"""Planted bugs for the chapter `lqr-extrapolation`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/lqr-extrapolation.py [bug ...] [--timeout S]``.
Each bug monkeypatches one function of ``theorylab.optim.lqr`` with a plausible mistake, then the
chapter's code cells run (fast profile, seed 0) in a fresh process under a time-out, and the claims
that held without the bug but fail with it are printed. The exit status is 1 if a bug slips through.

Last run (3 December 2026, referee, seed 0, fast profile, loaded two-core machine; every bug ran to
the end, none timed out; before the block systems' unseen block was capped, which no bug touches).
Every bug is caught:

    costate_missing_factor_two     grad_vs_autograd, shift_*, horizon_* (4), identity_block_equals_min_norm,
                                   mixing_ends_dev (9 claims)
    rollout_transposed             15 claims (grad_vs_autograd, train_excess_max, shift_*, horizon_*, ...)
    chain_edge_off_by_one          shift_controller_vs_chain, shift_measure_vs_flow, shift_trajectory_vs_flow,
                                   horizon_measure_vs_chain_gd, horizon_measure_vs_flow, mixing_ends_dev
    chain_grad_missing_two         shift_controller_vs_chain, horizon_measure_vs_chain_gd, and (flow in time,
                                   not only its limit) shift_trajectory_vs_flow
    min_norm_without_projection    identity_block_equals_min_norm, random_min_norm_measure_dev
    measure_normalised_by_x0       identity_block_measure_dev, random_min_norm_measure_dev, mixing_monotone_max_rise
    cost_drops_initial_term        train_excess_max (two-sided |J - 1| since the referee; one-sided, nothing caught it)
    clip_by_global_norm            shift_controller_vs_chain
    theory_includes_training_edge  shift_measure_vs_flow, horizon_measure_vs_flow, mixing_ends_dev
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "scripts" / "planted_bugs")]

BUGS: dict[str, str] = {
    # the costate recursion forgets the factor 2 on the running cost (terminal costate right)
    "costate_missing_factor_two": """
import numpy as np
def _grad(K, A, B, X0, H, Q=None, R=None):
    K, A, B = (np.asarray(a, float) for a in (K, A, B))
    d, n = A.shape[-1], np.shape(X0)[0]
    Q = np.eye(d) if Q is None else np.asarray(Q, float)
    W = Q if R is None else Q + np.swapaxes(K, -1, -2) @ np.asarray(R, float) @ K
    M = A + B @ K
    xs = lqr.rollout(K, A, B, X0, H)
    lam = 2 * xs[..., H, :, :] @ W
    g_m = np.zeros(M.shape)
    for h in range(H - 1, -1, -1):
        g_m = g_m + np.swapaxes(lam, -1, -2) @ xs[..., h, :, :]
        lam = xs[..., h, :, :] @ W + lam @ M                  # BUG: 2 W x_h -> W x_h
    grad = np.swapaxes(B, -1, -2) @ g_m
    if R is not None:
        grad = grad + 2 * np.asarray(R, float) @ K @ np.einsum("...hni,...hnj->...ij", xs, xs)
    return grad / n
lqr.policy_gradient = _grad
""",
    # row/column convention mixed up: x_{h+1} = M' x_h instead of M x_h
    "rollout_transposed": """
import numpy as np
_old = lqr.rollout
def _rollout(K, A, B, X0, H):
    M = np.asarray(A, float) + np.asarray(B, float) @ np.asarray(K, float)
    return _old(np.asarray(K, float), np.swapaxes(M, -1, -2), np.zeros(np.shape(B)), X0, H)   # BUG: M' x
lqr.rollout = _rollout
""",
    # off by one in the chain: step h from e_s uses edge s + h instead of s + h - 1
    "chain_edge_off_by_one": """
import numpy as np
def _exps(d, H, k):
    N = np.zeros((k, H + 1, d))
    for s in range(k):
        for h in range(1, H + 1):
            N[s, h] = N[s, h - 1]
            N[s, h, (s + h) % d] += 1                          # BUG: s + h - 1
    return N.reshape(k * (H + 1), d)
lqr.chain_exponents = _exps
""",
    # the chain gradient without the 2 of d(a^2)/da: flow limit unchanged, discrete steps not
    "chain_grad_missing_two": """
_old = lqr._chain_grad
lqr._chain_grad = lambda a, N, k: 0.5 * _old(a, N, k)
""",
    # minimum-norm controller without the projector on the training span
    "min_norm_without_projection": """
import numpy as np
lqr.min_norm_controller = lambda A, B, X: -np.linalg.pinv(np.asarray(B, float)) @ np.asarray(A, float)
""",
    # measure normalised by ||x0||^2 instead of the zero controller's ||A x0||^2
    "measure_normalised_by_x0": """
import numpy as np
def _measure(K, A, B, X_test, Q=None):
    X = np.asarray(X_test, float)
    y = X @ np.swapaxes(np.asarray(A, float) + np.asarray(B, float) @ np.asarray(K, float), -1, -2)
    return (y**2).sum((-1, -2)) / (X**2).sum()                 # BUG: denominator
lqr.extrapolation_measure = _measure
""",
    # (referee) the cost sums h = 1..H, forgetting the h = 0 term: the gradient is unchanged, the cost is 1 too low
    "cost_drops_initial_term": """
import numpy as np
_old = lqr.lqr_cost
lqr.lqr_cost = lambda K, A, B, X0, H, Q=None, R=None: _old(K, A, B, X0, H, Q, R) - (np.asarray(X0, float) ** 2).sum() / np.shape(X0)[0]
""",
    # (referee) step length clipped by the global norm over the whole batch of systems, as in DL gradient clipping
    "clip_by_global_norm": """
import numpy as np
def _clip(step, max_step):
    if max_step is None:
        return step
    norm = np.sqrt((step**2).sum())                             # BUG: one norm for the whole batch
    return step * min(1.0, max_step / max(norm, 1e-300))
lqr._clip = _clip
""",
    # (referee) 0- vs 1-based slip: the test edges taken from index k - 1, so the last training edge is averaged in
    "theory_includes_training_edge": """
import numpy as np
lqr.shift_measure_theory = lambda d, H, k=1, t_end=60.0: float(np.mean(lqr.chain_flow(d, H, k, t_end)[k - 1:] ** 2))
""",
}


def _one(bug: str | None) -> dict[str, bool]:
    import _runner
    from theorylab.optim import lqr

    def patch():
        exec(BUGS[bug], {"lqr": lqr})

    return _runner.run("lqr-extrapolation", patch if bug else None)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("bugs", nargs="*", default=list(BUGS))
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(_one(args.child or None)))
        return 0

    def launch(bug):
        try:
            out = subprocess.run([sys.executable, __file__, "--child", bug], capture_output=True, text=True,
                                 timeout=args.timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return None, "TIMED OUT"
        if out.returncode:
            return None, "crashed: " + (out.stderr.strip().splitlines() or ["?"])[-1]
        return json.loads(out.stdout.strip().splitlines()[-1]), ""

    clean, err = launch("")
    assert clean is not None and all(clean.values()), f"the unpatched chapter must pass: {err or clean}"
    slipped = 0
    for bug in args.bugs:
        res, err = launch(bug)
        if res is None:
            print(f"{bug:30s} {err} (no claim catches it)")
            slipped += 1
            continue
        caught = sorted(k for k, ok in res.items() if clean.get(k) and not ok)
        slipped += not caught
        print(f"{bug:30s} {'caught by ' + ', '.join(caught) if caught else 'NOT CAUGHT'}", flush=True)
    return int(slipped > 0)


if __name__ == "__main__":
    sys.exit(main())
