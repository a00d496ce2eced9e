#!/usr/bin/env python3
"""Measure the build's fixed cost per chapter execution on trivial synthetic chapters.

    PYTHONPATH=src .venv/bin/python scripts/engine_overhead.py [--n 6] [--jobs 1] [--modes cold,warm] [--kinds bare,imports]

Builds a throwaway book (THEORYLAB_ROOT) with ``n`` copies of two trivial chapters -- ``bare`` (the
parameters cell and one claim) and ``imports`` (the same plus the usual chapter imports: numpy,
pandas, altair, torch and the theorylab services) -- executes them with ``python -m theorylab build
--force --no-html`` and prints the wall time and the CPU time (the build process, its workers and kernels) per execution;
CPU time is the better measure on a busy machine. ``--modes cold,warm`` runs each kind with every
kernel started cold (``THEORYLAB_WARM=0``) and with kernels forked from the zygote, interleaved in
the same conditions; with two values of ``--n`` (``--n 2,8``) it also prints the marginal cost of one
more execution, (CPU(n2) - CPU(n1)) / (n2 - n1), which leaves out the zygote's one-off imports.
Nothing in the checkout is touched.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

(ch-{slug})=
# {slug}

```{{code-cell}} ipython3
:tags: [parameters]

profile = "fast"
seed = 0
device = "cpu"
```
"""
BODY = {
    "bare": "from theorylab import claims\n",
    "imports": ("import altair as alt\nimport numpy as np\nimport pandas as pd\nimport torch\n\n"
                "from theorylab import charts, claims, fit, rng, runtime\n"),
}
TAIL = """
```{{code-cell}} ipython3
ledger = claims.Ledger("{slug}")
ledger.close("one", 1.0, 1.0, rtol=0.1, why="trivial", kind="construction")
ledger.check()
```
"""


def chapter(slug: str, kind: str) -> str:
    return HEAD.format(slug=slug) + f"\n```{{code-cell}} ipython3\n{BODY[kind]}```\n" + TAIL.format(slug=slug)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="6", help="copies of each trivial chapter (two values, e.g. 2,8: also the marginal cost)")
    p.add_argument("--modes", default="warm", help="cold, warm or both (cold,warm), interleaved")
    p.add_argument("--kinds", default="bare,imports")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"),
                   help="the package to measure (e.g. an older checkout's src)")
    args = p.parse_args()
    src = Path(args.src)
    ns = [int(x) for x in args.n.split(",")]
    cpu_of: dict[tuple[str, str, int], float] = {}
    for kind in args.kinds.split(","):
        for n in ns:
            for mode in args.modes.split(","):
                cpu_of[kind, mode, n] = measure(kind, mode, n, args.jobs, src)
                if cpu_of[kind, mode, n] < 0:
                    return 1
        if len(ns) == 2:
            for mode in args.modes.split(","):
                marginal = (cpu_of[kind, mode, ns[1]] * ns[1] - cpu_of[kind, mode, ns[0]] * ns[0]) / (ns[1] - ns[0])
                print(f"{kind:8s} {mode}: marginal {marginal:5.2f} s CPU per execution")
    return 0


def measure(kind: str, mode: str, n: int, jobs: int, src: Path) -> float:
    """Build ``n`` copies of a trivial chapter; print and return the CPU seconds per execution (-1: failed)."""
    if True:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "notebooks").mkdir()
            slugs = [f"{kind}{i}" for i in range(n)]
            for s in slugs:
                (root / "notebooks" / f"{s}.md").write_text(chapter(s, kind))
            (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                           + "".join(f"  - file: notebooks/{s}\n" for s in slugs))
            env = {**os.environ, "THEORYLAB_ROOT": str(root), "OMP_NUM_THREADS": "1",
                   "THEORYLAB_WARM": "1" if mode == "warm" else "0",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
            t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run([sys.executable, "-m", "theorylab", "build", "--force", "--no-html",
                                   "--jobs", str(jobs)], env=env, capture_output=True, text=True)
            total, c1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)  # the build and its kernels
            if proc.returncode:
                print(proc.stdout, proc.stderr)
                return -1.0
            print(f"{kind:8s} {mode}: {n} executions, jobs={jobs}: {total:6.1f} s in all, "
                  f"{total * jobs / n:5.2f} s wall per execution, {cpu / n:5.2f} s CPU per execution", flush=True)
            return cpu / n


if __name__ == "__main__":
    sys.exit(main())
