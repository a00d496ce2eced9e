"""Planted bugs for the chapter 'Why does test error peak when parameters equal samples?'.

Each bug replaces a function of `theorylab.linear.marchenko` by a plausible wrong version, reruns
the computation behind the chapter's claims at the fast-profile sizes (seed 0), and reports which
claims fail. A bug that no claim catches is a hole in the chapter. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs_double_descent.py
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

from theorylab import rng
from theorylab.linear import marchenko as mp

SW, SE = 1.0, 0.2**0.5
D, TIMES, SEEDS = 200, np.logspace(-2, 3, 41), range(5)
ALPHAS = [0.25, 0.5, 2.0, 4.0]


@contextmanager
def patched(name: str, fn: Callable) -> Iterator[None]:
    old = getattr(mp, name)
    setattr(mp, name, fn)
    try:
        yield
    finally:
        setattr(mp, name, old)


def claims() -> dict[str, bool]:
    """The chapter's main claims (same sizes, seeds and tolerances), True when they hold."""
    out = {}
    dev = 0.0
    for a in ALPHAS:
        n = int(round(a * D))
        sims = np.stack([mp.simulate_gd_error(n, D, TIMES, SW, SE, gen=rng.numpy(s, "trajectory", str(a)), reps=4).mean(0)
                         for s in SEEDS])
        dev = max(dev, np.abs(sims.mean(0) - mp.gd_error(n, D, TIMES, SW, SE)).max())
    out["traj_max_dev"] = bool(dev <= 0.04)
    z = 0.0
    for n in [3, 5, 15, 20, 30, 40]:
        sims = np.concatenate([mp.simulate_gd_error(n, 10, [np.inf], SW, SE, gen=rng.numpy(s, "small", n), reps=4000)[:, 0]
                               for s in SEEDS])
        z = max(z, abs(sims.mean() - mp.gd_error_limit(n, 10, SW, SE)) / (sims.std() / np.sqrt(sims.size)))
    out["small_max_z"] = bool(z <= 4.5)
    ends = [np.stack([mp.simulate_gd_error(100, D, [np.inf], SW, SE, s0, gen=rng.numpy(s, "frozen", "0.5"), reps=12)[:, 0]
                      for s in SEEDS]) for s0 in (0.0, 1.0)]
    shift = (ends[1] - ends[0]).mean()
    expected = mp.gd_error_limit(100, D, SW, SE, 1.0) - mp.gd_error_limit(100, D, SW, SE, 0.0)
    out["frozen_shift_1"] = bool(abs(shift - expected) <= 0.1 * expected)
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


ORIGINAL = {"gd_error": mp.gd_error, "gd_weights": mp.gd_weights}
BUGS = {
    "MP edges with alpha instead of 1/alpha": ("mp_edges", _wrong_edges),
    "noise term without the 1/alpha factor": ("gd_error", _noise_without_alpha),
    "finite-size limit with n-d (the MP value)": ("gd_error_limit", _mp_limit_as_exact),
    "atom at zero (frozen subspace) left out": ("gd_error", _no_frozen_atom),
    "bias decays as e^(-lambda t), not e^(-2 lambda t)": ("gd_error", _bias_decay_once),
    "frozen modes forget the initial weights": ("gd_weights", _forget_frozen_init),
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
