"""Run every benchmark in benchmarks/: each case against its naive route, timed in the same run.

Run: PYTHONPATH=src .venv/bin/python benchmarks/run.py [--quick] [--only NAME]

A benchmark is a module ``benchmarks/*_speed.py`` with ``cases(quick: bool)``, a generator of
dicts: ``name``; ``fast`` and ``naive``, zero-argument callables (the route under test and the
naive one); optional ``naive_scale`` (the naive callable does 1/scale of the work: its time is
multiplied by it, and the line says "extrapolated"), ``note``, and ``check(fast_out, naive_out)``,
which must hold (e.g. identical removal sequences on the part the naive route did).
For each case the runner prints both times, the speed ratio naive / fast, and the peak memory
each route added (Linux: resident set high-water mark above the start, reset before each call
after malloc_trim; elsewhere tracemalloc). Timings on a shared machine are noisy: run twice and quote the slower.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.util
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _status_kb(field: str) -> int | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(fn):
    """(result, seconds, peak extra memory in MiB, how) of one call."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so reuse of it counts
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the resident high-water mark
        start = _status_kb("VmRSS")
    except OSError:
        start = None
    if start is not None:
        tic = time.perf_counter()
        out = fn()
        sec = time.perf_counter() - tic
        return out, sec, max(_status_kb("VmHWM") - start, 0) / 1024, "RSS"
    tracemalloc.start()
    tic = time.perf_counter()
    out = fn()
    sec = time.perf_counter() - tic
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, sec, peak / 2**20, "tracemalloc"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_module(mod, quick: bool) -> bool:
    ok = True
    for case in mod.cases(quick):
        fast_out, t_fast, m_fast, how = measure(case["fast"])
        naive_out, t_naive, m_naive, _ = measure(case["naive"])
        scale = case.get("naive_scale", 1.0)
        t_naive_total = t_naive * scale
        check = case.get("check")
        same = check(fast_out, naive_out) if check else True
        ok &= bool(same)
        extra = f" (extrapolated x{scale:.3g} from {t_naive:.2f} s)" if scale != 1.0 else ""
        print(f"- {case['name']}\n    fast {t_fast:8.3g} s, peak +{m_fast:7.1f} MiB {how} | "
              f"naive {t_naive_total:10.4g} s{extra}, peak +{m_naive:7.1f} MiB | "
              f"speed ratio x{t_naive_total / max(t_fast, 1e-9):.3g} | check {'ok' if same else 'FAILED'}"
              + (f"\n    {case['note']}" if case.get("note") else ""), flush=True)
    return ok


def main(argv=None, modules=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--only", default="", help="run only benchmark files whose name contains this")
    args = parser.parse_args(argv)
    paths = modules or sorted(p for p in HERE.glob("*_speed.py") if args.only in p.stem)
    ok = True
    for path in paths:
        print(f"## {Path(path).stem}" + (" (quick)" if args.quick else ""), flush=True)
        ok &= run_module(load(Path(path)), args.quick)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
