"""The standard parameters of every chapter: validation, torch set-up and profile sizes.

Every chapter's parameters cell holds ``profile``, ``seed`` and ``device``; the cell after it calls
:func:`setup`, which checks them before any work starts, configures torch for small models on a CPU
(one thread per process for torch, BLAS and OpenMP alike, denormals flushed) and returns the sizes
chosen for the profile. :func:`progress` wraps a long loop in a progress bar that a reader running
the notebook sees and the book's build log never does.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import MappingProxyType, SimpleNamespace
from typing import Any, Iterable, Mapping

import numpy as np

PROFILES = ("fast", "full")
DEVICES = ("cpu", "cuda", "auto")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")
_LIMITER = None  # the threadpoolctl limiter of the last setup() (kept alive: the limit lasts while it does)


def require_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise a ``ValueError`` naming ``name``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def require_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer within [minimum, maximum], else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}; got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}; got {value!r}")
    return int(value)


def require_float(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real within the given bounds, else raise ``ValueError``."""
    lo_b, hi_b = ("(" if low_open else "["), (")" if high_open else "]")
    span = f" in {lo_b}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_b}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number{span}; got {value!r}") from None
    if isinstance(value, bool) or x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite real number{span}; got {value!r}")
    too_low = low is not None and (x <= low if low_open else x < low)
    too_high = high is not None and (x >= high if high_open else x > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be a real number{span}; got {value!r}")
    return x


def require_prob(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a probability, a finite real in [0, 1], else raise ``ValueError``."""
    return require_float(name, value, low=0.0, high=1.0)


def require_generators(name: str, value: Any) -> list:
    """Return ``value`` as a list if it is a non-empty sequence of ``torch.Generator`` (one per batch member), else raise ``ValueError``."""
    import torch  # only the callers that batch torch generators need it

    try:
        gens = list(value)
    except TypeError:
        gens = []
    if not gens or not all(isinstance(g, torch.Generator) for g in gens):
        raise ValueError(f"{name} must be a non-empty sequence of torch.Generator (one per batch member); got {value!r}")
    return gens


def require_array(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False, high_open: bool = False) -> np.ndarray:
    """Return ``value`` as a float64 array if every entry is finite and within the bounds, else raise ``ValueError``."""
    lo_b, hi_b = ("(" if low_open else "["), (")" if high_open else "]")
    span = f" in {lo_b}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_b}"
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold real numbers{span}; got {value!r}") from None
    ok = np.isfinite(arr)
    if low is not None:
        ok &= arr > low if low_open else arr >= low
    if high is not None:
        ok &= arr < high if high_open else arr <= high
    if not np.all(ok):
        raise ValueError(f"{name} must hold finite real numbers{span}; got {value!r}")
    return arr


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


@dataclass(frozen=True)
class Run:
    """What a chapter runs with: the validated parameters and the sizes of its profile."""

    profile: str
    seed: int
    device: Any  # torch.device
    sizes: SimpleNamespace
    threads: int

    @property
    def fast(self) -> bool:
        return self.profile == "fast"


def resolve_device(device: str):
    """Turn ``"cpu" | "cuda" | "auto"`` into a ``torch.device``; ``"cuda"`` without a GPU is an error."""
    import torch

    require_choice("device", device, DEVICES)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device is 'cuda' but no CUDA device is available here; "
                         "use device='cpu' or device='auto'")
    return torch.device(device)


def setup(*, profile: str = "fast", seed: int = 0, device: str = "cpu",
          fast: Mapping[str, Any] | None = None, full: Mapping[str, Any] | None = None,
          threads: int | None = None) -> Run:
    """Validate the standard parameters, configure torch and pick the profile's sizes.

    Args:
        profile: ``"fast"`` (CI, under a minute on two cores) or ``"full"`` (paper scale).
        seed: base seed, an integer >= 0.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when present).
        fast, full: the chapter's sizes for each profile; both must name the same keys.
        threads: torch intra-op threads; default 1, or ``THEORYLAB_THREADS`` when set.

    Returns:
        A :class:`Run`; ``run.sizes.<name>`` is the chosen profile's value.
    """
    require_choice("profile", profile, PROFILES)
    seed = require_int("seed", seed, minimum=0)
    require_choice("device", device, DEVICES)
    fast, full = dict(fast or {}), dict(full or {})
    if set(fast) != set(full):
        raise ValueError(f"fast and full must name the same sizes; only in one: {sorted(set(fast) ^ set(full))}")
    if threads is None:
        threads = int(os.environ.get("THEORYLAB_THREADS", "1"))
    threads = require_int("threads", threads, minimum=1)
    torch_device = resolve_device(device)

    import torch

    limit_threads(threads)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    chosen = fast if profile == "fast" else full
    return Run(profile=profile, seed=seed, device=torch_device,
               sizes=SimpleNamespace(**MappingProxyType(chosen)), threads=threads)


def limit_threads(threads: int = 1) -> None:
    """Limit BLAS and OpenMP thread pools to ``threads``, in this process and in its children.

    The environment variables reach libraries loaded later and child processes; threadpoolctl
    resizes the pools already loaded (numpy's OpenBLAS, torch's OpenMP), so a chapter runs with the
    same threads in Jupyter as in the build, where the variables are set before the kernel starts.
    """
    global _LIMITER
    threads = require_int("threads", threads, minimum=1)
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    _LIMITER = threadpool_limits(limits=threads)


def quiet() -> bool:
    """True inside the book's build, where a progress bar would end up in the page and the log.

    The build (``python -m theorylab build``, ``make.py``) sets ``THEORYLAB_BUILD=1`` for the kernels it
    starts; a process that imported papermill is also taken as a build. ``THEORYLAB_QUIET=1`` or ``0``
    overrides both.
    """
    forced = os.environ.get("THEORYLAB_QUIET")
    if forced is not None:
        return forced.strip().lower() not in ("0", "false", "no", "")
    if os.environ.get("THEORYLAB_BUILD", "").strip() not in ("", "0"):
        return True
    return "papermill" in sys.modules


def progress(iterable: Iterable[Any], *, desc: str | None = None, total: int | None = None, **kwargs: Any):
    """``iterable`` with a tqdm progress bar for a reader, silent in the book's build.

    Use it on the long loops of the full profile: ``for n in runtime.progress(sizes, desc="widths"):``.
    In the build (:func:`quiet`) it returns the iterable unchanged, so nothing reaches the log.
    """
    if quiet():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, **kwargs)
