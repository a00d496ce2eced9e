"""Planted bugs for the chapter 'Can a neural network layer be replaced by a kernel?'.

Each bug replaces a function of `theorylab.nets.urf` by a plausible wrong version, reruns the
chapter's cells (fast profile, base seed 0; up to the bundling claims when the bug can only show
there) and prints which claims catch it. Two or more bugs for each formula the chapter rests on:
the input-side map g_f, the weight-side tilt psi, the variance V_f, the bundled vector and its
variance, and the closed-form readout. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/snnk.py [--only SUBSTRING] [--timeout 300]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

SLUG = "snnk"
EST = dict(stop_after='ledger.close("bundled_var_ratio_exp"')    # Experiments 1 and 2 only
ALL: dict = {}


def _urf():
    from theorylab.nets import urf
    return urf


def _input_map_sign():
    """sin/cos input side with e^{-s/2} instead of e^{+s/2} (the heat equation run forwards)."""
    def patch():
        urf = _urf()
        orig = urf.input_map
        urf.input_map = lambda f, z, s: orig(f, z, s) * (np.exp(-s) if f != "exp" else 1.0)
    return patch


def _input_map_exp_no_shift():
    """exp input side e^{z} without the -s/2 (the positive-random-feature normalisation forgotten)."""
    def patch():
        urf = _urf()
        orig = urf.input_map
        urf.input_map = lambda f, z, s: np.exp(z) if f == "exp" else orig(f, z, s)
    return patch


def _psi_no_norm():
    """Weight side e^{omega.w} without the -||w||^2/2."""
    def patch():
        urf = _urf()
        def wf(W, omega):
            m = omega.shape[-1]
            return np.exp(np.swapaxes(omega, -1, -2) @ W) / np.sqrt(m)
        urf.weight_features = wf
    return patch


def _features_off_by_one():
    """Input features normalised by sqrt(m - 1) instead of sqrt(m)."""
    def patch():
        urf = _urf()
        orig = urf.input_features
        urf.input_features = lambda f, X, omega: orig(f, X, omega) * np.sqrt(omega.shape[-1] / (omega.shape[-1] - 1))
    return patch


def _variance_missing_tilt_factor():
    """V_f without the e^{||w||^2} factor from psi^2 = e^{||w||^2} psi(2w)."""
    def patch():
        urf = _urf()
        urf.single_variance = lambda f, x, w: (urf.second_moment(f, x, 2 * w)
                                               - urf.activation(f, (x * w).sum(-1)) ** 2)
    return patch


def _variance_rival_cross_term():
    """V_exp with e^{||x||^2 + ||w||^2} in place of e^{||x+w||^2} (the cross term dropped)."""
    def patch():
        urf = _urf()
        orig = urf.single_variance
        def sv(f, x, w):
            if f != "exp":
                return orig(f, x, w)
            xw = (x * w).sum(-1)
            return np.exp(2 * xw) * (np.exp((x * x).sum(-1) + (w * w).sum(-1)) - 1)
        urf.single_variance = sv
    return patch


def _second_moment_sign():
    """M_sin and M_cos with the sign of the e^{-2s} cos(2 x.a) term swapped."""
    def patch():
        urf = _urf()
        orig = urf.second_moment
        urf.second_moment = lambda f, x, a: orig({"sin": "cos", "cos": "sin"}.get(f, f), x, a)
    return patch


def _bundle_scaled_by_m():
    """Bundled vector built from Psi / sqrt(m) once more (normalised by m instead of sqrt(m))."""
    def patch():
        urf = _urf()
        orig = urf.bundle
        urf.bundle = lambda W, v, omega: orig(W, v, omega) / np.sqrt(omega.shape[-1])
    return patch


def _bundle_wrong_neuron_order():
    """Readout weights paired with the wrong neurons (v reversed) when bundling."""
    def patch():
        urf = _urf()
        orig = urf.bundle
        urf.bundle = lambda W, v, omega: orig(W, v[::-1], omega)
    return patch


def _bundled_variance_no_coupling():
    """Bundled variance without the e^{w_j.w_k} coupling from psi_j psi_k = e^{w_j.w_k} psi(w_j + w_k)."""
    def patch():
        urf = _urf()
        def bv(f, x, W, v):
            pair = W.T[:, None, :] + W.T[None, :, :]
            m2 = urf.second_moment(f, x[:, None, None, :], pair[None])
            return (m2 * np.outer(v, v)).sum((1, 2)) - urf.network(f, x, W, v) ** 2
        urf.bundled_variance = bv
    return patch


def _lstsq_ridge_dropped():
    """Closed-form readout with the ridge term left out of the normal equations, at a larger ridge."""
    def patch():
        urf = _urf()
        def lsq(Phi, Y, ridge=0.0):
            A = np.swapaxes(Phi, -1, -2) @ Phi + 1e-2 * np.eye(Phi.shape[-1])   # solves a different problem
            return np.linalg.solve(A, np.swapaxes(Phi, -1, -2) @ Y)
        urf.lstsq_readout = lsq
    return patch


def _variance_sides_swapped():
    """V_f with the roles of x and w exchanged (the variance of the estimator with g on the weight side).

    Referee's bug: invisible while ||x|| = ||w|| (the chapter's first draft); caught since Experiment 1 uses
    unequal norms."""
    def patch():
        urf = _urf()
        orig = urf.single_variance
        urf.single_variance = lambda f, x, w: orig(f, w, x)
    return patch


def _bundled_coupling_norms():
    """Bundled variance with e^{(|w_j|^2 + |w_k|^2)/2} in place of e^{w_j.w_k} (referee's bug)."""
    def patch():
        urf = _urf()
        def bv(f, x, W, v):
            pair = W.T[:, None, :] + W.T[None, :, :]
            m2 = urf.second_moment(f, x[:, None, None, :], pair[None])
            nn = (W * W).sum(0)
            coupling = np.outer(v, v) * np.exp((nn[:, None] + nn[None, :]) / 2)
            return (m2 * coupling).sum((1, 2)) - urf.network(f, x, W, v) ** 2
        urf.bundled_variance = bv
    return patch


def _second_moment_damping():
    """M_sin/cos with E cos 2z = e^{-s/2} cos 2mu (the factor 2^2 of the doubled frequency lost; referee's bug)."""
    def patch():
        urf = _urf()
        orig = urf.second_moment
        def sm(f, x, a):
            if f == "exp":
                return orig(f, x, a)
            s, mu = (x * x).sum(-1), (x * a).sum(-1)
            sign = -1.0 if f == "sin" else 1.0
            return 0.5 * np.exp(s) * (1 + sign * np.exp(-s / 2) * np.cos(2 * mu))
        urf.second_moment = sm
    return patch


BUGS = {
    "input map: sin/cos with e^{-s/2}": (_input_map_sign(), EST),
    "input map: exp without -s/2": (_input_map_exp_no_shift(), EST),
    "weight features: psi without -||w||^2/2": (_psi_no_norm(), EST),
    "input features: normalised by sqrt(m-1)": (_features_off_by_one(), EST),
    "variance: e^{||w||^2} factor missing": (_variance_missing_tilt_factor(), EST),
    "variance: exp cross term of ||x+w||^2 dropped": (_variance_rival_cross_term(), EST),
    "second moment: sin/cos sign swapped": (_second_moment_sign(), EST),
    "bundle: normalised by m instead of sqrt(m)": (_bundle_scaled_by_m(), EST),
    "bundle: readout paired with the wrong neurons": (_bundle_wrong_neuron_order(), EST),
    "bundled variance: e^{w_j.w_k} coupling dropped": (_bundled_variance_no_coupling(), EST),
    "closed-form readout: ridge of the normal equations wrong": (_lstsq_ridge_dropped(), ALL),
    "variance: roles of x and w swapped": (_variance_sides_swapped(), EST),
    "bundled variance: coupling e^{(|w_j|^2+|w_k|^2)/2}": (_bundled_coupling_norms(), EST),
    "second moment: E cos 2z with e^{-s/2}": (_second_moment_damping(), EST),
}



if __name__ == "__main__":
    raise SystemExit(_runner.main(SLUG, BUGS))
