#!/usr/bin/env python3
"""Run real chapters' seeds with cold kernels and with kernels forked from the zygote, interleaved.

    PYTHONPATH=src .venv/bin/python scripts/warm_vs_cold.py --only double-descent-dynamics --seeds 0-2 [--rounds 1] [--jobs 2]

Each round runs the chosen seeds twice, once with every kernel started cold (``THEORYLAB_WARM=0``)
and once warm, each into its own throwaway cache (nothing in ``book/_build/cache`` is touched), and
prints per mode the wall time of the whole pool, the CPU time of the build and all its kernels (and
the zygote), per execution; then it checks that both modes measured every claim bit for bit the
same (the values as stored in the records, i.e. ``repr`` of the floats). Exit status 1 when any
value differs or any execution failed. On a busy machine compare CPU times, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))  # the kernels' too

from theorylab.book import calibrate, execute  # noqa: E402


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def run(mode: str, chapters, seeds, jobs: int) -> tuple[float, float, dict]:
    os.environ["THEORYLAB_WARM"] = "1" if mode == "warm" else "0"
    todo = [execute.Job(c, {"profile": "fast", "seed": s, "device": "cpu"}) for c in chapters for s in seeds]
    with tempfile.TemporaryDirectory() as tmp:
        execute.CACHE = Path(tmp)
        t0, c0 = time.perf_counter(), cpu()
        out = execute.run_jobs(todo, force=True, jobs=jobs, echo=lambda s: None)
        return time.perf_counter() - t0, cpu() - c0, out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", required=True, metavar="SLUG")
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    chapters = execute.select(execute.chapters(), args.only)
    seeds = calibrate.parse_seeds(args.seeds)
    n = len(chapters) * len(seeds)
    results: dict[str, list] = {"cold": [], "warm": []}
    for r in range(args.rounds):
        for mode in (("cold", "warm") if r % 2 == 0 else ("warm", "cold")):
            wall, used, out = run(mode, chapters, seeds, args.jobs)
            results[mode].append(out)
            kinds = sorted({rec.get("kernel", "?") for rec in out.values()})
            mean = sum(rec["wall_s"] for rec in out.values()) / n
            print(f"round {r} {mode}: {n} executions, jobs={args.jobs}: pool {wall:6.1f} s wall, "
                  f"{used / n:5.2f} s CPU per execution, mean execution {mean:5.1f} s wall, kernels {kinds}",
                  flush=True)
    bad = 0
    for mode, outs in results.items():
        for out in outs:
            for key, rec in out.items():
                if rec["status"] != "passed":
                    print(f"FAILED {mode} {key}: {rec.get('error')}")
                    bad += 1
    ref = results["cold"][0]
    for mode, outs in results.items():
        for out in outs:
            for key, rec in out.items():
                a = {c["name"]: c["measured"] for c in ref[key]["claims"]}
                b = {c["name"]: c["measured"] for c in rec["claims"]}
                if a != b:
                    diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
                    print(f"DIFFERENT {mode} {key}: {diff}")
                    bad += 1
    claims = sum(len(rec["claims"]) for rec in ref.values())
    print(f"{'every' if not bad else 'NOT every'} claim value identical across modes and rounds "
          f"({claims} claims in {n} executions)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
