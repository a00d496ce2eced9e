"""Planted bugs for the chapter 'Which parametrization learns features at infinite width?'.

Each bug replaces a function of `theorylab.nets.parametrizations` or `theorylab.nets.metrics` by a
plausible wrong version, reruns the chapter's cells (fast profile, base seed 0; up to the cell
named in ``stop_after`` when the bug can only show there) and prints which claims catch it. At
least two bugs for each core formula: the abc table, the way the model applies it, the first-step
exponents, TP4's r, the learning-rate scaling, and the feature-movement metric. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/mup-feature-learning.py [--only SUBSTRING]

Every bug runs under a wall-clock limit (``--timeout``, default 300 s per run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

SLUG = "mup-feature-learning"
CC = dict(stop_after="devs = []")                 # the coordinate-check claims
FM = dict(stop_after="fm_ratio_NTK_theory")       # ... and the feature-movement claims


def _par():
    from theorylab.nets import parametrizations
    return parametrizations


def _patch_named(fn):
    def patch():
        par = _par()
        original = par.named
        par.named = lambda name, depth: fn(original(name, depth))
    return patch


def _mup_output(a_out: float, b_out: float):
    def change(p):
        if p.name != "MUP":
            return p
        return type(p)(p.name, p.a[:-1] + (a_out,), p.b[:-1] + (b_out,), p.c)
    return _patch_named(change)


def _mup_input_like_sp():
    def change(p):
        if p.name != "MUP":
            return p
        return type(p)(p.name, (0.0,) + p.a[1:], (0.0,) + p.b[1:], p.c)
    return _patch_named(change)


def _ntk_without_hidden_multiplier():
    def change(p):                                    # NTK hidden multiplier n^(-1/2) forgotten, init 1/sqrt(n) instead
        if p.name != "NTK":
            return p
        return type(p)(p.name, (0.0,) * len(p.a), (0.0,) + (0.5,) * (len(p.b) - 1), p.c)
    return _patch_named(change)


def _multiplier_folded_into_init():
    """The multiplier applied once, to the initial weights, while SGD still acts on w at n^-c (lr not rescaled)."""
    def patch():
        par = _par()
        original = par.layer_scales

        def wrong(p, width, d, base_width):
            s = original(p, width, d, base_width)
            return par.LayerScales(np.ones_like(s.multiplier), s.multiplier * s.init_std, s.lr_factor)
        par.layer_scales = wrong
    return patch


def _lr_factor_twice():
    def patch():
        par = _par()
        original = par.layer_scales

        def wrong(p, width, d, base_width):
            s = original(p, width, d, base_width)
            return par.LayerScales(s.multiplier, s.init_std, s.lr_factor ** 2)
        par.layer_scales = wrong
    return patch


def _input_layer_counted_as_hidden():
    def patch():
        par = _par()
        original = par.update_exponents

        def wrong(p):
            e = original(p).copy()
            a, beta = np.asarray(p.a), p.a[-1] + p.b[-1]
            e[0] = 1 - p.c - 2 * a[0] - beta                     # the LLN factor n where the input is fixed
            for l in range(1, p.depth):
                e[l] = max(e[l - 1], 1 - p.c - 2 * a[l] - beta)
            e[-1] = max(1 - p.c - 2 * a[-1], 1 - beta + e[p.depth - 1])
            return e
        par.update_exponents = wrong
    return patch


def _multiplier_once_in_update():
    def patch():                                          # Delta W = -eta n^(-c - a_l) ...: the multiplier counted once
        par = _par()

        def wrong(p):
            a, beta = np.asarray(p.a, dtype=float), p.a[-1] + p.b[-1]
            e = [-p.c - a[0] - beta]
            for l in range(1, p.depth):
                e.append(max(e[-1], 1 - p.c - a[l] - beta))
            e.append(max(1 - p.c - a[-1], 1 - beta + e[-1]))
            return np.array(e)
        par.update_exponents = wrong
    return patch


def _r_indicator_sign():
    def patch():                                          # min_l (2 a_l - [l = 1]) instead of + [l = 1]
        par = _par()

        def wrong(p):
            a = np.asarray(p.a, dtype=float)
            return float(min(a[-1] + p.b[-1], 2 * a[-1] + p.c) + p.c - 1 + min(2 * a[l] - (l == 0) for l in range(p.depth)))
        par.feature_exponent = wrong
    return patch


def _r_first_step_beta_only():
    def patch():                                          # r with the min over (a+b, 2a+c) dropped, and the -1 forgotten
        par = _par()

        def wrong(p):
            a = np.asarray(p.a, dtype=float)
            return float(a[-1] + p.b[-1] + p.c + min(2 * a[l] + (l == 0) for l in range(p.depth)) - 1.5)
        par.feature_exponent = wrong
    return patch


def _lr_shift_half():
    def patch():                                          # SP's stable learning rate taken as n^(-1/2)
        par = _par()
        original = par.stable_lr_shift
        par.stable_lr_shift = lambda p: original(p) / 2
    return patch


def _stability_r_only():
    def patch():                                          # stability checked on r >= 0 only (output conditions dropped)
        par = _par()
        par.regime = lambda p: "unstable" if par.feature_exponent(p) < 0 else "kernel"
    return patch


def _movement_absolute():
    def patch():                                          # ||H_T - H_0|| without dividing by ||H_0||
        from theorylab.nets import metrics
        import torch
        metrics.relative_change = lambda h0, h1: torch.linalg.matrix_norm(h1.double() - h0.double())
    return patch


def _movement_per_unit_rms():
    def patch():                                          # normalised by the batch size, not by ||H_0||
        from theorylab.nets import metrics
        import torch
        metrics.relative_change = lambda h0, h1: torch.linalg.matrix_norm(h1.double() - h0.double()) / h0.shape[-2]
    return patch


def _clt_for_correlated_sums():
    def patch():                                          # referee: a correlated sum of n terms counted as a CLT sum (sqrt n)
        par = _par()

        def wrong(p):
            a, beta = np.asarray(p.a, dtype=float), p.a[-1] + p.b[-1]
            e = [-p.c - 2 * a[0] - beta]
            for l in range(1, p.depth):
                e.append(max(e[-1], 0.5 - p.c - 2 * a[l] - beta))
            e.append(max(0.5 - p.c - 2 * a[-1], 0.5 - beta + e[-1]))
            return np.array(e)
        par.update_exponents = wrong
    return patch


def _first_step_moved_output():
    def patch():                                          # referee: beta replaced by min(beta, 2 a_out + c) at step 1 (as in r)
        par = _par()

        def wrong(p):
            a = np.asarray(p.a, dtype=float)
            beta = min(a[-1] + p.b[-1], 2 * a[-1] + p.c)
            e = [-p.c - 2 * a[0] - beta]
            for l in range(1, p.depth):
                e.append(max(e[-1], 1 - p.c - 2 * a[l] - beta))
            e.append(max(1 - p.c - 2 * a[-1], 1 - beta + e[-1]))
            return np.array(e)
        par.update_exponents = wrong
    return patch


def _effective_lr_multiplier_once():
    def patch():                                          # referee: effective form trains W at lr m^(-c - a_l), not m^(-c - 2 a_l)
        par = _par()
        original = par.layer_scales

        def wrong(p, width, d, base_width):
            s = original(p, width, d, base_width)
            return par.LayerScales(np.ones_like(s.multiplier), s.multiplier * s.init_std, s.lr_factor * s.multiplier)
        par.effective_scales = wrong
    return patch


def _argmin_parabola_sign():
    def patch():                                          # referee: the parabola's vertex shifted the wrong way
        from theorylab.nets import metrics
        original = metrics.refined_argmin

        def wrong(x, y):
            k = float(x[int(np.argmin(np.where(np.isfinite(y), y, np.inf)))])
            return 2 * k - original(x, y)
        metrics.refined_argmin = wrong
    return patch


BUGS = {
    "MUP output multiplier 1/sqrt(n) instead of 1/n (a_out = 0)": (_mup_output(0.0, 0.5), {}),
    "MUP output init 1/sqrt(n) instead of 1/n (b_out = 0)": (_mup_output(0.5, 0.0), {}),
    "MUP input layer as in SP (no n learning rate)": (_mup_input_like_sp(), {}),
    "NTK hidden multiplier forgotten (init 1/sqrt(n) instead)": (_ntk_without_hidden_multiplier(), FM),
    "multiplier folded into init, lr not rescaled": (_multiplier_folded_into_init(), CC),
    "learning-rate factor n^-c applied twice": (_lr_factor_twice(), CC),
    "first-step exponents: input layer gets the LLN factor n": (_input_layer_counted_as_hidden(), CC),
    "first-step exponents: multiplier counted once in Delta W": (_multiplier_once_in_update(), CC),
    "TP4 r: indicator [l = 1] with the wrong sign": (_r_indicator_sign(), FM),
    "TP4 r: min over (a+b, 2a+c) dropped, offset wrong": (_r_first_step_beta_only(), FM),
    "best learning rate of SP scales as n^(-1/2)": (_lr_shift_half(), {}),
    "stability checked on r >= 0 only": (_stability_r_only(), {}),
    "feature movement not normalised by ||H_0||": (_movement_absolute(), FM),
    "feature movement normalised by the batch size": (_movement_per_unit_rms(), FM),
    # planted by the referee
    "first-step exponents: correlated sums counted as CLT sums (sqrt n)": (_clt_for_correlated_sums(), CC),
    "first-step exponents: beta replaced by min(beta, 2 a_out + c)": (_first_step_moved_output(), CC),
    "effective form: lr multiplier counted once": (_effective_lr_multiplier_once(), dict(stop_after="symmetry_gap")),
    "best learning rate: parabola vertex on the wrong side": (_argmin_parabola_sign(), {}),
}



if __name__ == "__main__":
    raise SystemExit(_runner.main(SLUG, BUGS))
