"""Planted bugs for the chapter beyond-collapse: plausible slips in the formulas it rests on (the limits
eq-bc-limit for each rule, the finite-n accuracy eq-bc-acc, the simulation that trains on selected
data, and the audit proxy); the chapter's claims must catch every one. Each bug is run (fast profile,
base seed 0) with a time limit; a bug that makes the chapter raise counts as caught. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/beyond-collapse.py [bug name ...]
"""

from __future__ import annotations

import signal
import sys
import time

import numpy as np
from scipy.special import ndtr

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _runner import run  # noqa: E402

from theorylab.data import verification as V  # noqa: E402

SLUG, LIMIT_S = "beyond-collapse", 300
SKIP = dict(skip=("load_digits",))
ORIG = {name: getattr(V, name) for name in ("selection", "accuracy", "simulate_accuracy", "audit_flip_rate")}


def _patched_selection(rule_bug: str, fix):
    def selection(m, theta_gen, rule="none", theta_ver=0.0):
        sel = ORIG["selection"](m, theta_gen, rule, theta_ver)
        return fix(sel, m, theta_gen, theta_ver) if rule == rule_bug else sel
    V.selection = selection


def none_phi_without_two():      # eq-bc-limit, none: phi(alpha) w_g instead of 2 phi(alpha) w_g
    def fix(sel, m, tg, tv):
        a = m * np.cos(tg)
        w_g = np.array([np.cos(tg), np.sin(tg)])
        return V.Selection(1.0, sel.flip_rate, np.array([m, 0.0]) * (2 * ndtr(a) - 1) + np.exp(-a * a / 2) / np.sqrt(2 * np.pi) * w_g)
    _patched_selection("none", fix)


def none_sign_of_tilt():         # eq-bc-limit, none: the tilt along w_g with the wrong sign
    def fix(sel, m, tg, tv):
        a = m * np.cos(tg)
        w_g = np.array([np.cos(tg), np.sin(tg)])
        return V.Selection(1.0, sel.flip_rate, np.array([m, 0.0]) * (2 * ndtr(a) - 1) - 2 * np.exp(-a * a / 2) / np.sqrt(2 * np.pi) * w_g)
    _patched_selection("none", fix)


def oracle_unnormalised():       # eq-bc-limit, oracle: E[s x] instead of E[s x | kept] (no division by kappa)
    _patched_selection("oracle", lambda sel, m, tg, tv: V.Selection(sel.keep_rate, 0.0, sel.g * sel.keep_rate))


def oracle_ratio_inverted():     # eq-bc-limit, oracle: Phi/phi instead of phi/Phi in the tilt
    def fix(sel, m, tg, tv):
        a = m * np.cos(tg)
        phi = np.exp(-a * a / 2) / np.sqrt(2 * np.pi)
        return V.Selection(sel.keep_rate, 0.0, np.array([m, 0.0]) + ndtr(a) / phi * np.array([np.cos(tg), np.sin(tg)]))
    _patched_selection("oracle", fix)


def verifier_w_not_inverted():   # eq-bc-limit, verifier: W (M_A, M_B) instead of W^{-T} (M_A, M_B)
    def fix(sel, m, tg, tv):
        w_g, w_v = np.array([np.cos(tg), np.sin(tg)]), np.array([np.cos(tv), np.sin(tv)])
        w = np.stack([w_g, w_v])
        e_sz = (sel.g * sel.keep_rate - np.array([m, 0.0]) * (1 - 2 * sel.flip_rate) * sel.keep_rate)
        moments = w @ e_sz                          # back to (M_A, M_B)
        g = (np.array([m, 0.0]) * (1 - 2 * sel.flip_rate) * sel.keep_rate + w.T @ moments) / sel.keep_rate
        return V.Selection(sel.keep_rate, sel.flip_rate, g)
    _patched_selection("verifier", fix)


def verifier_orthants_swapped():  # eq-bc-limit, verifier: p' = P_{++}/kappa (the two orthants swapped)
    _patched_selection("verifier", lambda sel, m, tg, tv: V.Selection(sel.keep_rate, 1 - sel.flip_rate, sel.g))


def acc_without_keep_rate():     # eq-bc-acc: d/n instead of d/(kappa n)
    def accuracy(n_generated, m, d, theta_gen, rule="none", theta_ver=0.0):
        sel = V.selection(m, theta_gen, rule, theta_ver)
        return ndtr(m * sel.g[0] / np.sqrt(sel.g @ sel.g + d / np.asarray(n_generated, float)))
    V.accuracy = accuracy


def acc_without_sqrt():          # eq-bc-acc: the norm squared in the denominator
    def accuracy(n_generated, m, d, theta_gen, rule="none", theta_ver=0.0):
        sel = V.selection(m, theta_gen, rule, theta_ver)
        return ndtr(m * sel.g[0] / (sel.g @ sel.g + d / (sel.keep_rate * np.asarray(n_generated, float))))
    V.accuracy = accuracy


def _simulator(keep_rule, noise_over_all: bool):
    """A re-implementation of simulate_accuracy with a pluggable verifier rule and noise count."""
    real = ORIG["simulate_accuracy"]

    def sim(n_generated, m, d, theta_gen, rule, theta_ver, gen, reps=1):
        if rule != "verifier":
            return real(n_generated, m, d, theta_gen, rule, theta_ver, gen, reps)
        ns = np.atleast_1d(np.asarray(n_generated, dtype=np.int64))
        thetas = np.atleast_1d(np.asarray(theta_ver, dtype=float))
        out = np.empty((reps, thetas.size, ns.size))
        for r in range(reps):
            y = np.where(gen.random(ns.max()) < 0.5, -1.0, 1.0)
            xy = gen.standard_normal((ns.max(), 2))
            xy[:, 0] += y * m
            chi = gen.chisquare(d - 2, size=(thetas.size, ns.size))
            y_hat = np.where(xy @ np.array([np.cos(theta_gen), np.sin(theta_gen)]) > 0, 1.0, -1.0)
            for j, tv in enumerate(thetas):
                keep = keep_rule(y_hat, xy @ np.array([np.cos(tv), np.sin(tv)]))
                s = np.cumsum((y_hat * keep)[:, None] * xy, axis=0)[ns - 1]
                count = ns if noise_over_all else np.maximum(np.cumsum(keep)[ns - 1], 1)
                out[r, j] = ndtr(m * s[:, 0] / np.sqrt(s[:, 0] ** 2 + s[:, 1] ** 2 + chi[j] * count))
        return out
    return sim


def sim_noise_over_generated():  # simulation: the d-2 noise coordinates summed over all n pairs, not the kept N
    V.simulate_accuracy = _simulator(lambda y_hat, score: y_hat * score > 0, noise_over_all=True)


def sim_verifier_ignores_label():  # simulation: the verifier keeps w_v.x > 0 instead of y_hat w_v.x > 0
    V.simulate_accuracy = _simulator(lambda y_hat, score: score > 0, noise_over_all=False)


def audit_over_all_pairs():      # proxy: wrong kept labels divided by all audited pairs, not by the kept ones
    real = ORIG["audit_flip_rate"]

    def audit(n_audit, m, theta_gen, theta_ver, gen):
        rates = real(n_audit, m, theta_gen, theta_ver, gen)
        keep = np.array([V.selection(m, theta_gen, "verifier", t).keep_rate for t in np.atleast_1d(theta_ver)])
        return rates * keep
    V.audit_flip_rate = audit


def _source_bug(fn_name: str, old: str, new: str):
    """A bug planted by editing one line of a library function's source (the module's other functions see it)."""
    def patch():
        import inspect
        src = inspect.getsource(getattr(V, fn_name))
        assert old in src, f"{old!r} not in {fn_name}"
        exec(compile(src.replace(old, new), f"<bug in {fn_name}>", "exec"), vars(V))
    return patch


# Referee's bugs: with m = 1 a missing factor of m is invisible, so these need the m = 2 claim (geometry2_max_z).
alpha_g_without_m = _source_bug("selection", "alpha_g = m * np.cos(theta_gen)", "alpha_g = np.cos(theta_gen)")
alpha_v_without_m = _source_bug("selection", "alpha_v = m * np.cos(theta_ver)", "alpha_v = np.cos(theta_ver)")
acc_without_m = _source_bug("accuracy", "ndtr(m * sel.g[0]", "ndtr(sel.g[0]")
tail_moment_without_rho = _source_bug("_tail_moment", "rho * _phi(k)", "_phi(k)")
orthant_sign = _source_bug("_orthant", "(rho * a - k) / s", "(k - rho * a) / s")
rho_sum_of_angles = _source_bug("selection", "rho = float(w_g @ w_v)", "rho = float(np.cos(theta_gen + theta_ver))")

BUGS = {
    "none: tilt phi without the 2": none_phi_without_two,
    "none: tilt with the wrong sign": none_sign_of_tilt,
    "oracle: E[s x] not divided by kappa": oracle_unnormalised,
    "oracle: Phi/phi instead of phi/Phi": oracle_ratio_inverted,
    "verifier: W instead of W^-T": verifier_w_not_inverted,
    "verifier: orthants swapped in p'": verifier_orthants_swapped,
    "eq-bc-acc: d/n instead of d/(kappa n)": acc_without_keep_rate,
    "eq-bc-acc: no square root": acc_without_sqrt,
    "simulation: noise summed over all n": sim_noise_over_generated,
    "simulation: verifier ignores the label": sim_verifier_ignores_label,
    "audit: divided by all pairs": audit_over_all_pairs,
    "selection: alpha_g = cos(theta_g), m missing": alpha_g_without_m,
    "verifier: alpha_v = cos(theta_v), m missing": alpha_v_without_m,
    "eq-bc-acc: m missing in the numerator": acc_without_m,
    "verifier: truncated moment without rho": tail_moment_without_rho,
    "verifier: orthant integrand with the wrong sign": orthant_sign,
    "verifier: rho = cos(theta_g + theta_v)": rho_sum_of_angles,
}


def _alarm(signum, frame):
    raise TimeoutError(f"over {LIMIT_S} s")


if __name__ == "__main__":
    names = sys.argv[1:] or list(BUGS)
    signal.signal(signal.SIGALRM, _alarm)
    clean = run(SLUG, None, **SKIP)
    assert all(clean.values()), f"the clean chapter fails: {[k for k, ok in clean.items() if not ok]}"
    slipped = 0
    for name in names:
        tic = time.perf_counter()
        signal.alarm(LIMIT_S)
        try:
            buggy = run(SLUG, BUGS[name], **SKIP)
            caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
            verdict = f"CAUGHT by {', '.join(caught)}" if caught else "NOT CAUGHT"
        except TimeoutError as err:
            caught, verdict = [], f"TIMED OUT ({err})"
        except Exception as err:  # noqa: BLE001 - a chapter that raises under the bug has caught it
            caught, verdict = ["(raised)"], f"CAUGHT: the chapter raised {type(err).__name__}: {err}"
        finally:
            signal.alarm(0)
        slipped += not caught
        print(f"{name}: {verdict} ({time.perf_counter() - tic:.0f} s)", flush=True)
    sys.exit(int(slipped > 0))
