"""Planted bugs for the chapter 'Why does test error peak when parameters equal samples?'.

Each bug replaces a function of `theorylab.linear.marchenko` by a plausible wrong version, reruns
the computation behind the chapter's claims at the fast-profile sizes (base seed 0), and reports which
claims fail (at least two bugs for each core formula: the mode solution, the Marchenko-Pastur
average, the finite-size limit). A bug that no claim catches is a hole in the chapter. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/double-descent-dynamics.py

Last run (3 December 2026, after the 20-seed recalibration; 1300 s wall on a loaded two-core
machine, 231 s CPU): every bug caught.

    MP edges with alpha instead of 1/alpha                  caught by: traj_max_z, min_error_max_z
    noise term without the 1/alpha factor                   caught by: traj_max_z, min_error_max_z
    finite-size limit with n-d (the MP value)               caught by: small_max_z
    atom at zero (frozen subspace) left out                 caught by: traj_max_z, min_error_max_z
    bias decays as e^(-lambda t), not e^(-2 lambda t)       caught by: traj_max_z, min_error_max_z
    frozen modes forget the initial weights                 caught by: gd_flow_match, frozen_shift_1
    MP edges without the square root, (1 +- 1/alpha)^2      caught by: traj_max_z, min_error_max_z
    mode gain b(1 - e^-lt) without the 1/lambda             caught by: traj_max_z, min_error_max_z, over_peak_z, small_max_z, gd_flow_match
    flow time scaled by lr twice (t = lr^2 steps)           caught by: traj_max_z, min_error_max_z, over_peak_z, gd_flow_match
    finite-size limit: frozen fraction n/d, not (d-n)/d     caught by: small_max_z
    finite-size limit: frozen-subspace term dropped         caught by: small_max_z, frozen_shift_1
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

from theorylab import rng
from theorylab.linear import marchenko as mp

SW, SE = 1.0, 0.2**0.5
D, TIMES, SEEDS, REPS = 200, np.logspace(-2, 3, 41), range(5), 4
ALPHAS = [0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0]
_SIMS: dict = {}


@contextmanager
def patched(name: str, fn: Callable) -> Iterator[None]:
    old = getattr(mp, name)
    setattr(mp, name, fn)
    try:
        yield
    finally:
        setattr(mp, name, old)


def _sim(key, fn):
    """Simulations depend on gd_weights only: reuse them unless that function is patched."""
    key = (key, mp.gd_weights is ORIGINAL["gd_weights"])
    if key not in _SIMS or not key[1]:
        _SIMS[key] = fn()
    return _SIMS[key]


def claims() -> dict[str, bool]:
    """The chapter's claims on the linear model (same sizes, seeds 0-4, same tolerances), True when they hold."""
    out = {}
    flat = {a: _sim(("traj", a), lambda a=a: np.concatenate([
        mp.simulate_gd_error(int(round(a * D)), D, TIMES, SW, SE, gen=rng.numpy(s, "trajectory", str(a)), reps=REPS)
        for s in SEEDS])) for a in ALPHAS}                                               # (students, T)
    theory = {a: mp.gd_error(int(round(a * D)), D, TIMES, SW, SE) for a in ALPHAS}
    se = {a: flat[a].std(0, ddof=1) / np.sqrt(flat[a].shape[0]) for a in ALPHAS}
    z = max((np.abs(flat[a].mean(0) - theory[a]) / se[a]).max() for a in ALPHAS if a != 1.0)
    out["traj_max_z"] = bool(z <= 5.5)
    i_min = {a: theory[a].argmin() for a in ALPHAS}
    out["min_error_max_z"] = bool(max(abs(flat[a].mean(0).min() - theory[a].min()) / se[a][i_min[a]] for a in ALPHAS) <= 5.0)
    excess = flat[1.0][:, -1] - flat[1.0][:, i_min[1.0]]
    out["over_peak_z"] = bool(abs(excess.mean() - (theory[1.0][-1] - theory[1.0][i_min[1.0]]))
                              / (excess.std(ddof=1) / np.sqrt(excess.size)) <= 5.0)
    late = mp.gd_error(D, D, [1e6, 1e8], SW, SE) - SE**2
    out["sqrt_coef"] = bool(abs(late[1] / 1e4 - 4 * (1 - 2**-0.5) / np.sqrt(np.pi) * SE**2) <= 0.005 * 0.1322)
    zs = []
    for n in [3, 5, 15, 20, 30, 40]:
        sims = _sim(("small", n), lambda n=n: np.concatenate([
            mp.simulate_gd_error(n, 10, [np.inf], SW, SE, gen=rng.numpy(s, "small", n), reps=4000)[:, 0] for s in SEEDS]))
        zs.append(abs(sims.mean() - mp.gd_error_limit(n, 10, SW, SE)) / (sims.std() / np.sqrt(sims.size)))
    out["small_max_z"] = bool(max(zs) <= 4.5)
    g = rng.numpy(0, "plain-gd")
    x, y, w0 = g.standard_normal((25, 50)), g.standard_normal(25), g.standard_normal(50)
    c, b, lr, steps = x.T @ x / 25, np.sqrt(50) * x.T @ y / 25, 5e-3, 2000
    w = w0.copy()
    for _ in range(steps):
        w -= lr * (c @ w - b)
    flow = mp.gd_weights(x, y, w0, [lr * steps])[0]
    out["gd_flow_match"] = bool(np.abs(w - flow).max() / np.abs(flow).max() <= 0.01)
    ends = [_sim(("frozen", s0), lambda s0=s0: np.stack([
        mp.simulate_gd_error(100, D, [np.inf], SW, SE, s0, gen=rng.numpy(s, "frozen", "0.5"), reps=12)[:, 0]
        for s in SEEDS])) for s0 in (0.0, 1.0)]
    paired = (ends[1] - ends[0]).ravel()                   # one shift per student (paired runs)
    expected = mp.gd_error_limit(100, D, SW, SE, 1.0) - mp.gd_error_limit(100, D, SW, SE, 0.0)
    out["frozen_shift_1"] = bool(abs(paired.mean() - expected) <= 4.5 * paired.std(ddof=1) / np.sqrt(paired.size))
    return out


def _wrong_edges(alpha):                       # swapped exponent: (1 +- sqrt(alpha))^2
    return (1 - alpha**0.5) ** 2, (1 + alpha**0.5) ** 2


def _noise_without_alpha(n, d, t, sigma_w=1.0, sigma_eps=0.5, sigma0=0.0):   # sigma_eps^2 instead of sigma_eps^2 / alpha
    return ORIGINAL["gd_error"](n, d, t, sigma_w, sigma_eps * (n / d) ** 0.5, sigma0) - sigma_eps**2 * (n / d - 1)


def _mp_limit_as_exact(n, d, sigma_w=1.0, sigma_eps=0.5, sigma0=0.0):       # off by one: n - d instead of n - d - 1
    if n > d:
        return sigma_eps**2 + sigma_eps**2 * d / (n - d)
    return sigma_eps**2 + (sigma_w**2 + sigma0**2) * (d - n) / d + sigma_eps**2 * n / (d - n)


def _no_frozen_atom(n, d, t, sigma_w=1.0, sigma_eps=0.5, sigma0=0.0):       # forgets the atom at zero
    return ORIGINAL["gd_error"](n, d, t, sigma_w, sigma_eps, sigma0) - max(0.0, 1 - n / d) * (sigma_w**2 + sigma0**2)


def _bias_decay_once(n, d, t, sigma_w=1.0, sigma_eps=0.5, sigma0=0.0):     # e^{-lambda t} instead of e^{-2 lambda t}
    t = np.asarray(t, dtype=float)
    return ORIGINAL["gd_error"](n, d, t / 2, sigma_w, 0.0, sigma0) + ORIGINAL["gd_error"](n, d, t, 0.0, sigma_eps, 0.0)


def _forget_frozen_init(x, y, w0, t):                                        # frozen modes reset to zero
    x = np.asarray(x)
    n, d = x.shape[-2:]
    _, _, vt = np.linalg.svd(x)
    null = vt[..., n:, :]
    w0 = w0 - np.einsum("...ki,...kj,...j->...i", null, null, w0)
    return ORIGINAL["gd_weights"](x, y, w0, t)


def _edges_no_sqrt(alpha):                     # missing square root: (1 +- 1/alpha)^2
    return (1 - 1 / alpha) ** 2, (1 + 1 / alpha) ** 2


def _gain_raw(x, y, w0, t):                                                  # b (1 - e^{-lambda t}): the 1/lambda dropped
    x, y, w0 = (np.asarray(a, dtype=np.float64) for a in (x, y, w0))
    n, d = x.shape[-2:]
    xt = np.swapaxes(x, -1, -2)
    lam, vec = np.linalg.eigh(xt @ x / n)
    vt = np.swapaxes(vec, -1, -2)
    b = (vt @ (xt @ y[..., None]))[..., 0] * np.sqrt(d) / n
    u0 = (vt @ w0[..., None])[..., 0]
    lt = np.where(lam[..., None, :] > 1e-12, lam[..., None, :] * np.asarray(t, dtype=float)[:, None], 0.0)
    u = u0[..., None, :] * np.exp(-lt) + b[..., None, :] * -np.expm1(-lt)
    return u @ vt


def _time_lr_twice(x, y, w0, t):                                             # t = lr^2 x steps: lr applied twice
    return ORIGINAL["gd_weights"](x, y, w0, np.asarray(t, dtype=float) * 5e-3)


def _frozen_fraction_n_over_d(n, d, sigma_w=1.0, sigma_eps=0.5, sigma0=0.0):  # n/d frozen instead of (d - n)/d
    if n > d:
        return ORIGINAL["gd_error_limit"](n, d, sigma_w, sigma_eps, sigma0)
    return sigma_eps**2 + (sigma_w**2 + sigma0**2) * n / d + sigma_eps**2 * n / (d - n - 1)


def _limit_without_frozen(n, d, sigma_w=1.0, sigma_eps=0.5, sigma0=0.0):     # frozen-subspace term dropped
    if n > d:
        return ORIGINAL["gd_error_limit"](n, d, sigma_w, sigma_eps, sigma0)
    return sigma_eps**2 + sigma_eps**2 * n / (d - n - 1)


ORIGINAL = {"gd_error": mp.gd_error, "gd_weights": mp.gd_weights, "gd_error_limit": mp.gd_error_limit}
BUGS = {
    "MP edges with alpha instead of 1/alpha": ("mp_edges", _wrong_edges),
    "noise term without the 1/alpha factor": ("gd_error", _noise_without_alpha),
    "finite-size limit with n-d (the MP value)": ("gd_error_limit", _mp_limit_as_exact),
    "atom at zero (frozen subspace) left out": ("gd_error", _no_frozen_atom),
    "bias decays as e^(-lambda t), not e^(-2 lambda t)": ("gd_error", _bias_decay_once),
    "frozen modes forget the initial weights": ("gd_weights", _forget_frozen_init),
    "MP edges without the square root, (1 +- 1/alpha)^2": ("mp_edges", _edges_no_sqrt),
    "mode gain b(1 - e^-lt) without the 1/lambda": ("gd_weights", _gain_raw),
    "flow time scaled by lr twice (t = lr^2 steps)": ("gd_weights", _time_lr_twice),
    "finite-size limit: frozen fraction n/d, not (d-n)/d": ("gd_error_limit", _frozen_fraction_n_over_d),
    "finite-size limit: frozen-subspace term dropped": ("gd_error_limit", _limit_without_frozen),
}


def main() -> None:
    clean = claims()
    print("clean:", clean)
    assert all(clean.values()), "the unpatched code must pass"
    for label, (name, fn) in BUGS.items():
        with patched(name, fn):
            res = claims()
        caught = [k for k, ok in res.items() if not ok]
        print(f"{label:55s} caught by: {', '.join(caught) or 'NOTHING'}")


if __name__ == "__main__":
    main()
