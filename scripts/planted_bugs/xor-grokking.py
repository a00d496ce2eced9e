"""Planted bugs for the chapter `xor-grokking`: which claim of the ledger catches each one.

Run: ``PYTHONPATH=src .venv/bin/python scripts/planted_bugs/xor-grokking.py [bug ...]``.
Each bug monkeypatches one function of ``theorylab.nets.relu2`` or ``theorylab.data.xor`` (at least
two per formula the chapter rests on: the gradient of eq-xg-grad, the one-step margin eq-xg-margin,
the linear limit, the Bayes accuracy eq-xg-bayes, the head, the balanced sampler), then runs the
chapter's code cells (fast profile, base seed 0) through ``_runner`` in a fresh process with a
time-out, and prints the claims that held without the bug and fail with it. The exit status is 1 if
any bug is caught by no claim.

Last run (3 December 2026, base seed 0, fast profile, loaded two-core machine; every bug ran to the
end, 48-96 s each, none timed out):

    loss_derivative_sign        loss_one_over_t (sigma(y f) for sigma(-y f): step 1 is unchanged, since
                                sigma(0) = 1/2, and the run still groks; only the 1/t loss decay tells)
    relu_derivative_dropped     step1_margin_ratio, step1_slope_mean, final_test_min, matched_over_crossed, ...
    gradient_sum_not_mean       step1_margin_ratio, step1_slope_mean, loss_one_over_t, final_test_min, ...
    margin_quarter_not_eighth   step1_margin_ratio
    linear_limit_missing_half   step1_slope_mean
    bayes_without_sqrt2         bayes_closed_vs_mc
    bayes_noisy_missing_eta     bayes_closed_vs_mc
    head_all_positive           step1_train_acc_min, step1_test_z, train_acc_min_all, final_test_min, ...
    balanced_flips_per_sample   final_test_min, grokking_gain, matched_growth, own_final_min, ...

Added by the referee (3 December 2026, same conditions):

    margin_each_point_alone     step1_margin_ratio_r2 (alpha (d + r^2)/8n, the formula the chapter first
                                printed: 3% off at r^2 = 600, inside step1_margin_ratio's band; 9% off at d/10)
    frame_in_k_dimensions       frame_noise_gram, step1_train_acc_min, step1_margin_ratio, sweep_train_min, ... (14 claims)
    test_noise_only_along_means step1_corr_mean, step1_mirror_sum_dev, step1_slope_mean, weak_test_max

A triu-for-tril Bartlett factor was also tried: no claim catches it, rightly: its Gram matrix has the
same law up to chi degrees of freedom shifted by at most n + m (relative O((n + m)/d)).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

SLUG = "xor-grokking"
TIMEOUT = 600


def _patch(name: str) -> None:
    import math

    import numpy as np
    import torch
    from scipy.special import ndtr

    from theorylab.data import xor
    from theorylab.nets import relu2

    if name == "loss_derivative_sign":               # sigma(y f) for sigma(-y f): ell'(u) with the wrong sign of u
        def gradient(w, a, x, y):
            pre = x @ w.transpose(1, 2)
            f = (torch.relu(pre) * a.expand(w.shape[0], -1)[:, None, :]).sum(-1)
            g = -torch.sigmoid(y * f) * y / x.shape[1]
            return (g[:, :, None] * (pre > 0) * a.expand(w.shape[0], -1)[:, None, :]).transpose(1, 2) @ x
        relu2.gradient = gradient
    elif name == "relu_derivative_dropped":          # the indicator 1[<w_j, x_i> > 0] left out of eq-xg-grad
        def gradient(w, a, x, y):
            f = relu2.forward(w, a, x)
            g = -torch.sigmoid(-y * f) * y / x.shape[1]
            return (g[:, :, None] * a.expand(w.shape[0], -1)[:, None, :]).transpose(1, 2) @ x
        relu2.gradient = gradient
    elif name == "gradient_sum_not_mean":            # sum over the n points instead of the mean
        old = relu2.gradient
        relu2.gradient = lambda w, a, x, y: old(w, a, x, y) * x.shape[1]
    elif name == "margin_quarter_not_eighth":        # alpha (d + r^2) / 4n: half of the neurons counted, not a quarter
        relu2.one_step_margin = lambda n, d, r, lr: lr * (d + r**2) / (4 * n)
    elif name == "linear_limit_missing_half":        # alpha / 4n: the average of relu(S) - relu(-S) not halved
        old = relu2.linear_limit
        relu2.linear_limit = lambda xtr, ytr, x, lr: 2 * old(xtr, ytr, x, lr)
    elif name == "bayes_without_sqrt2":              # Phi(r) for Phi(r / sqrt 2)
        def bayes_accuracy(r, eta=0.0):
            p = ndtr(np.asarray(r, dtype=np.float64))
            return eta + (1 - 2 * eta) * (p**2 + (1 - p) ** 2)
        xor.bayes_accuracy = bayes_accuracy
    elif name == "bayes_noisy_missing_eta":          # (1 - eta) A_clean: the lucky right answers on wrong predictions dropped
        old = xor.bayes_accuracy
        xor.bayes_accuracy = lambda r, eta=0.0: (1 - eta) * old(r, 0.0)
    elif name == "head_all_positive":                # every a_j = +1/sqrt(m): no neuron votes for class -1
        relu2.head = lambda m: torch.ones(m, dtype=relu2.DTYPE) / math.sqrt(m)
    elif name == "balanced_flips_per_sample":        # round(eta n) flips in each cluster instead of round(eta n / 4)
        def labels(n, eta, gen, balanced):
            if not balanced:
                return gen.integers(0, 4, n), gen.random(n) < eta
            q = n // 4
            cluster, flipped = np.repeat(np.arange(4), q), np.tile(np.arange(q) < round(eta * n), 4)
            order = gen.permutation(n)
            return cluster[order], flipped[order]
        xor._labels = labels
    elif name == "margin_each_point_alone":          # alpha (d + r^2) / 8n: each point's ||x_k||^2, cross terms taken as zero-mean
        relu2.one_step_margin = lambda n, d, r, lr, net_signal_sq=0.0: lr * (d + r**2) / (8 * n)
    elif name == "frame_in_k_dimensions":            # Gaussian vectors drawn in R^k itself: the frame forgets d (norms^2 ~ k)
        def bartlett(p, dof, gen):
            return gen.standard_normal((p, p))
        xor.bartlett = bartlett
    elif name == "test_noise_only_along_means":      # test points without their projection on the noise frame
        old_tp = xor.test_points
        def test_points(n_test, k, r, gens, *, balanced=True):
            x, yc, cl = old_tp(n_test, k, r, gens, balanced=balanced)
            x[..., 2:] = 0.0
            return x, yc, cl
        xor.test_points = test_points
    else:
        raise KeyError(name)


BUGS = ["loss_derivative_sign", "relu_derivative_dropped", "gradient_sum_not_mean", "margin_quarter_not_eighth",
        "linear_limit_missing_half", "bayes_without_sqrt2", "bayes_noisy_missing_eta", "head_all_positive",
        "balanced_flips_per_sample", "margin_each_point_alone", "frame_in_k_dimensions",
        "test_noise_only_along_means"]


def _claims(name: str) -> dict[str, bool]:
    """Run the chapter in a fresh process (clean when name is "clean"), with the time-out."""
    out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, timeout=TIMEOUT)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--one":                  # child process: one bug, or the clean run
        patch = None if args[1] == "clean" else (lambda: _patch(args[1]))
        print(json.dumps(_runner.run(SLUG, patch)))
        return 0
    clean = _claims("clean")
    assert all(clean.values()), f"the clean chapter must pass: {clean}"
    missed = 0
    for name in args or BUGS:
        tic = time.perf_counter()
        try:
            buggy = _claims(name)
            caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
            text = "CAUGHT by " + ", ".join(caught) if caught else "NOT CAUGHT"
        except subprocess.TimeoutExpired:
            caught, text = [], f"TIMED OUT after {TIMEOUT} s"
        except RuntimeError as err:                  # the chapter crashes: no claim is printed at all
            caught, text = ["(crash)"], f"the chapter crashes: {err}"
        missed += not caught
        print(f"{name}: {text} ({time.perf_counter() - tic:.0f} s)", flush=True)
    return int(missed > 0)


if __name__ == "__main__":
    sys.exit(main())
