#!/usr/bin/env python3
"""Project the cold-start time of ``.ci/run`` (a fresh clone on a 2-core machine) to N chapters.

    python3 scripts/ci_projection.py [--chapters 70] [--mean-execution 21.3] [--per-load 3.5] ...

Every input is a measured component (see README, "What CI costs"); the script prints the arithmetic
for the engine before (cold kernels, three browser loads per chapter, editions built one after the
other) and now (kernels forked from a zygote; one browser load per chapter at 400 px with every
check, plus 1280 px for the chapters the last commit changed and a rotating sample of 12 -- all of
them when anything shared changed, see tests/test_browser.py; editions built at once). Change
an input to see what a slower chapter mix or a slower browser does. Each chapter runs at seeds
0, 1, 2 and the quickest once more (cold) for determinism; nothing is sampled.
"""

from __future__ import annotations

import argparse


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chapters", type=int, default=70)
    p.add_argument("--jobs", type=int, default=2, help="kernels at once (CPU cores)")
    p.add_argument("--venv", type=float, default=110.0, help="s: creating .venv from requirements.txt")
    p.add_argument("--mean-execution", type=float, default=21.3,
                   help="s: mean wall time of one execution, cold kernels, 2 at a time (7 chapters, 22 executions)")
    p.add_argument("--fixed-before", type=float, default=4.71, help="CPU-s per execution, cold kernel (marginal)")
    p.add_argument("--fixed-after", type=float, default=0.45, help="CPU-s per execution, forked kernel (marginal)")
    p.add_argument("--zygote", type=float, default=5.8, help="CPU-s once per run: the zygote's imports")
    p.add_argument("--html-fixed", type=float, default=6.0, help="CPU-s of one Jupyter Book build, fixed part")
    p.add_argument("--html-per-chapter", type=float, default=1.0, help="CPU-s of one Jupyter Book build per chapter")
    p.add_argument("--per-load", type=float, default=3.5, help="s: one page load in Chromium with every check")
    p.add_argument("--other-pages", type=int, default=5 + 3, help="loads that do not grow: 5 pages, report, 2 searches")
    p.add_argument("--desktop-sample", type=int, default=12, help="chapters checked at 1280 px besides the changed ones")
    p.add_argument("--changed", type=int, default=3, help="chapters the last commit changed (all: a shared change)")
    p.add_argument("--other-tests", type=float, default=110.0,
                   help="s: fault, zygote and unit tests, the downloaded chapter's run (do not grow with chapters)")
    a = p.parse_args()
    n = a.chapters
    runs = 3 * n + 1
    html = a.html_fixed + a.html_per_chapter * n
    rows = []
    desktop = min(n, a.desktop_sample + a.changed)
    for label, fixed, loads, editions_at_once, zygote in (
            ("before", a.fixed_before, (3 * n, f"3 x {n}"), False, 0.0),
            ("now", a.fixed_after, (n + desktop, f"{n} + {desktop}"), True, a.zygote),
            ("now, shared change", a.fixed_after, (2 * n, f"2 x {n}"), True, a.zygote)):
        mean = a.mean_execution - a.fixed_before + fixed
        pool = runs * mean / a.jobs + zygote / a.jobs
        sites = html if editions_at_once else 2 * html
        browser = (a.other_pages + loads[0]) * a.per_load
        total = a.venv + pool + sites + browser + a.other_tests
        rows.append((label, total))
        print(f"{label}: {n} chapters")
        print(f"  executions  {runs} x {mean:.1f} s / {a.jobs} cores{f' + zygote {zygote:.1f} / {a.jobs}' if zygote else ''}"
              f" = {pool:7.0f} s   (mean {a.mean_execution:.1f} - {a.fixed_before:.2f} + {fixed:.2f})")
        print(f"  HTML        {'max of 2 editions at once' if editions_at_once else '2 editions one after the other'}:"
              f" {'1' if editions_at_once else '2'} x ({a.html_fixed:.0f} + {a.html_per_chapter:.1f} x {n}) = {sites:7.0f} s")
        print(f"  browser     ({a.other_pages} + {loads[1]}) loads x {a.per_load:.1f} s = {browser:7.0f} s")
        print(f"  venv {a.venv:.0f} s, other tests {a.other_tests:.0f} s")
        print(f"  total       {total:7.0f} s = {total / 60:5.1f} min")
    slack = 45 * 60 - max(t for label, t in rows[1:])  # the worse of the two
    print(f"limit 45 min: {slack / 60:+.1f} min to spare now (worst case); the mean execution may grow by "
          f"{slack * a.jobs / runs:.1f} s ({a.mean_execution - a.fixed_before + a.fixed_after:.1f} -> "
          f"{a.mean_execution - a.fixed_before + a.fixed_after + slack * a.jobs / runs:.1f} s) before it is reached")


if __name__ == "__main__":
    main()
