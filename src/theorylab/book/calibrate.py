"""Calibrate a chapter's claims over many seeds: pass rate, spread and margin of every claim.

``python -m theorylab calibrate --only <slug> --seeds 0-19`` executes the chapter once per seed (in
parallel, one kernel and one torch thread each; a seed whose inputs did not change is reused from
the build's shared cache, ``book/_build/cache``) and reports, per claim:

- the pass rate over the seeds and the seeds where it failed;
- min / median / max of the measured value;
- the margin: the claim's slack (how far inside its bound the measured value lies, see
  :func:`theorylab.claims.slack`) averaged over seeds, in units of the slack's standard deviation
  over seeds. The book's standard is a margin of at least 4 SD, or a bound that comes from theory.

The summary is written to ``book/calibration/<slug>.json``; it is committed with the chapter and shown
in the Reproducibility report.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any, Callable

from ..claims import slack
from . import execute

RESULTS = execute.ROOT / "book" / "calibration"
TARGET_SD = 4.0


def parse_seeds(text: str) -> list[int]:
    """``"0-19"`` or ``"0,3,5-7"`` to a sorted list of distinct seeds >= 0."""
    seeds: set[int] = set()
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise ValueError(f"seeds must look like '0-19' or '0,3,5-7' (integers >= 0); got {text!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def run_seeds(chapter: execute.Chapter, seeds: list[int], profile: str = "fast", device: str = "cpu", *,
              jobs: int | None = None, force: bool = False, timeout: Any = "profile",
              echo: Callable[[str], None] = print) -> dict[int, dict[str, Any]]:
    """Execute ``chapter`` once per seed through the build's shared cache and return the records by seed.

    A seed the book or the test suite already ran with the same inputs is reused, and a failed seed
    is a result too (kept unless its inputs change), except a time-out or a dead kernel."""
    todo = [execute.Job(chapter, execute.validate_parameters(profile, seed, device)) for seed in seeds]
    reused = [0]

    def show(job: execute.Job, record: dict[str, Any], index: int, total: int) -> str:
        held = sum(c["passed"] for c in record.get("claims", []))
        if record.get("cached"):
            reused[0] += 1
        return (f"  {chapter.slug} seed {job.parameters['seed']:>3}: "
                f"{'cached' if record.get('cached') else record['status']:<6} {record.get('wall_s', 0):6.1f} s  "
                f"{held}/{len(record.get('claims', []))} claims"
                + (f"  (re-executed: {record['rerun_because']})" if record.get("rerun_because") else ""))

    done = execute.run_jobs(todo, force=force, jobs=jobs, timeout=timeout, reuse_failed=True,
                            echo=echo, line_of=show)
    return {job.parameters["seed"]: done[job.key] for job in todo}


def summarize(slug: str, records: dict[int, dict[str, Any]], profile: str = "fast") -> dict[str, Any]:
    """Per-claim statistics over the seeds' records."""
    names: list[str] = []
    by_name: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for seed, record in records.items():
        for c in record.get("claims", []):
            if c["name"] not in by_name:
                names.append(c["name"])
                by_name[c["name"]] = []
            by_name[c["name"]].append((seed, c))
    claims = []
    for name in names:
        rows = by_name[name]
        measured = [_float(c.get("measured")) for _, c in rows]
        measured = [m for m in measured if m is not None and math.isfinite(m)]
        slacks = [s for s in (slack(c) for _, c in rows) if s is not None and math.isfinite(s)]
        failed = [seed for seed, c in rows if not c["passed"]]
        claims.append({
            "name": name, "kind": rows[-1][1].get("kind", ""), "op": rows[-1][1].get("op"),
            "target": rows[-1][1].get("target"), "seeds": len(rows), "passed": len(rows) - len(failed),
            "failed_seeds": failed,
            "min": min(measured) if measured else None,
            "median": statistics.median(measured) if measured else None,
            "max": max(measured) if measured else None,
            "worst_slack": min(slacks) if slacks else None,
            "margin_sd": _margin(slacks),
        })
    ran = [r for r in records.values()]
    missing = [seed for seed, r in records.items() if r.get("status") != "passed" and not r.get("claims")]
    return {
        "slug": slug, "profile": profile, "seeds": sorted(records), "runs_without_claims": missing,
        "commit": execute.git_commit(), "date": dt.date.today().isoformat(),
        "wall_s": {"min": min((r.get("wall_s", 0) for r in ran), default=0),
                   "max": max((r.get("wall_s", 0) for r in ran), default=0)},
        "claims": claims,
    }


def _float(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _margin(slacks: list[float]) -> float | None:
    """Mean slack over its standard deviation across seeds; inf for a claim that never moves."""
    if len(slacks) < 2:
        return None
    mean, sd = statistics.fmean(slacks), statistics.stdev(slacks)
    if sd <= 1e-12 * max(1.0, abs(mean)):
        return math.inf if mean >= 0 else -math.inf
    return mean / sd


def table(summary: dict[str, Any]) -> str:
    """A plain-text table of the summary, one claim per line."""
    rows = [f"{summary['slug']}: {len(summary['seeds'])} seeds, profile {summary['profile']}, "
            f"{summary['wall_s']['min']:.0f}-{summary['wall_s']['max']:.0f} s per run"]
    width = max((len(c["name"]) for c in summary["claims"]), default=10)
    rows.append(f"  {'claim':<{width}}  {'kind':<12} {'pass':>7}  {'min':>10} {'median':>10} {'max':>10}  "
                f"{'margin':>8}  target")
    for c in summary["claims"]:
        margin = c["margin_sd"]
        flag = "" if c["passed"] == c["seeds"] and (margin is None or margin >= TARGET_SD) else "  <--"
        rows.append(f"  {c['name']:<{width}}  {c['kind'] or '?':<12} {c['passed']:>3}/{c['seeds']:<3}  "
                    f"{_num(c['min'])} {_num(c['median'])} {_num(c['max'])}  {_sd(margin):>8}  {c['target']}"
                    + (f"  fails at seeds {c['failed_seeds']}" if c["failed_seeds"] else "") + flag)
    if summary["runs_without_claims"]:
        rows.append(f"  runs that stopped before their claims: seeds {summary['runs_without_claims']}")
    return "\n".join(rows)


def _num(x: Any) -> str:
    return f"{'—':>10}" if x is None else f"{x:>10.4g}"


def _sd(x: float | None) -> str:
    if x is None:
        return "—"
    if math.isinf(x):
        return "exact" if x > 0 else "-inf"
    return f"{x:.1f} SD"


def write(summary: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{summary['slug']}.json"
    claims = [{**c, "margin_sd": str(c["margin_sd"]) if c["margin_sd"] is not None and math.isinf(c["margin_sd"])
               else c["margin_sd"]} for c in summary["claims"]]
    path.write_text(json.dumps({**summary, "claims": claims}, indent=1) + "\n")
    return path


def load(slug: str) -> dict[str, Any] | None:
    """The committed calibration of a chapter, or None."""
    path = RESULTS / f"{slug}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def healthy(summary: dict[str, Any]) -> bool:
    """Every claim passed at every seed, and no run stopped before its claims."""
    return not summary["runs_without_claims"] and all(c["passed"] == c["seeds"] for c in summary["claims"])
