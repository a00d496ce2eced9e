"""Execute the book's chapters: papermill with injected parameters, in parallel, cached, reported.

Each chapter listed in ``_toc.yml`` under ``notebooks/`` is read from its MyST source with jupytext
and executed by papermill into ``book/_build/executed/<slug>.ipynb`` (the sources are never written).
Chapters run in separate processes with one torch thread each. A chapter whose inputs (its source,
the package, the pinned requirements and the parameters) have not changed since its last successful
run is skipped. Every run ends in ``book/_build/reproducibility.json``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from ..claims import MIME
from ..runtime import DEVICES, PROFILES, require_choice, require_int

PACKAGE = Path(__file__).resolve().parents[1]  # the theorylab package
# the book's root: the checkout, or THEORYLAB_ROOT (tests build small fixture books that way)
ROOT = Path(os.environ.get("THEORYLAB_ROOT") or PACKAGE.parents[1]).resolve()
BUILD = ROOT / "book" / "_build"
EXECUTED = BUILD / "executed"
REPORT = BUILD / "reproducibility.json"
TOOLING = ("book", "__main__.py")  # the build itself (this subpackage): changing it re-runs no chapter
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclasses.dataclass(frozen=True)
class Chapter:
    slug: str
    source: Path  # notebooks/<slug>.md

    @property
    def executed(self) -> Path:
        return EXECUTED / f"{self.slug}.ipynb"

    @property
    def record_path(self) -> Path:
        return EXECUTED / f"{self.slug}.json"


def chapters(root: Path = ROOT) -> list[Chapter]:
    """The chapters listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    out = []
    for f in files:
        path = Path(f)
        if path.parts and path.parts[0] == "notebooks":
            out.append(Chapter(slug=path.stem, source=root / path.with_suffix(".md")))
    return out


def select(all_chapters: list[Chapter], only: list[str] | None) -> list[Chapter]:
    """The chapters named in ``only`` (all when None); an unknown slug lists the valid ones."""
    if not only:
        return all_chapters
    by_slug = {c.slug: c for c in all_chapters}
    unknown = [s for s in only if s not in by_slug]
    if unknown:
        raise ValueError(f"only: unknown chapter {', '.join(map(repr, unknown))}; "
                         f"valid chapters are: {', '.join(by_slug)}")
    return [by_slug[s] for s in only]


def validate_parameters(profile: str, seed: int, device: str) -> dict[str, Any]:
    """Check the standard parameters before any chapter starts."""
    require_choice("profile", profile, PROFILES)
    require_int("seed", seed, minimum=0)
    require_choice("device", device, DEVICES)
    return {"profile": profile, "seed": int(seed), "device": device}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def input_hash(chapter: Chapter, parameters: dict[str, Any], root: Path = ROOT) -> str:
    """A content hash of everything a chapter's result depends on."""
    package = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in TOOLING)
    reqs = root / "requirements.txt"
    return _digest(chapter.source.read_bytes(),
                   *(p.relative_to(PACKAGE).as_posix().encode() + p.read_bytes() for p in package),
                   reqs.read_bytes() if reqs.exists() else b"",
                   json.dumps(parameters, sort_keys=True).encode())


def git_commit(root: Path = ROOT) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def claims_from(nb: Any) -> list[dict[str, Any]]:
    """The claims a chapter emitted (the last emission wins)."""
    found: list[dict[str, Any]] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME in data:
                found = list(data[MIME].get("claims", []))
    return found


def _versions() -> dict[str, str]:
    from importlib.metadata import version  # cheaper than importing torch in the build process

    return {"python": platform.python_version(), "torch": version("torch"), "platform": platform.platform()}


def execute(chapter: Chapter, parameters: dict[str, Any], output: Path | None = None) -> dict[str, Any]:
    """Run one chapter with papermill and return its record (never raises for a failing chapter).

    ``parameters`` are injected as given, so a test can hand a chapter a bad value on purpose.
    """
    import jupytext
    import nbformat
    import papermill

    output = output or chapter.executed
    output.parent.mkdir(parents=True, exist_ok=True)
    for var in THREAD_VARS:
        os.environ[var] = "1"
    os.environ["THEORYLAB_BUILD"] = "1"  # runtime.progress stays silent in the kernel
    nb = jupytext.read(chapter.source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    record: dict[str, Any] = {"slug": chapter.slug, **{k: parameters.get(k) for k in ("profile", "seed", "device")},
                              "parameters": parameters, "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              **_versions(), "commit": git_commit(), "error": None}
    start = time.perf_counter()
    try:
        papermill.execute_notebook(nb, str(output), parameters=parameters, kernel_name="python3",
                                   cwd=str(chapter.source.parent), progress_bar=False, log_output=False)
        status = "passed"
    except papermill.PapermillExecutionError as exc:
        status = "failed"
        record["error"] = {"cell": exc.cell_index, "ename": exc.ename, "evalue": exc.evalue,
                           "source": exc.source[:2000]}
    except Exception as exc:  # kernel died, bad notebook, ...: still a record, never a crash
        status = "failed"
        record["error"] = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)[:2000], "source": ""}
    record["wall_s"] = round(time.perf_counter() - start, 2)
    # the kernel is a reaped child of this (fresh) process, so its peak RSS is counted here
    record["peak_mem_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    record["claims"] = []
    if output.exists():
        executed = nbformat.read(output, as_version=4)
        record["claims"] = claims_from(executed)
        for cell in executed.cells:  # hide papermill's injected cell in the book
            tags = cell.metadata.get("tags", [])
            if "injected-parameters" in tags and "remove-cell" not in tags:
                cell.metadata["tags"] = tags + ["remove-cell"]
        nbformat.write(executed, output)
    if status == "passed" and (not record["claims"] or not all(c["passed"] for c in record["claims"])):
        status = "failed"  # a chapter that checked nothing, or swallowed a failure, does not pass
        record["error"] = record["error"] or {"cell": None, "ename": "ClaimsFailed",
                                              "evalue": "no passing ledger.check() output found", "source": ""}
    record["status"] = status
    return record


def _run_one(chapter: Chapter, parameters: dict[str, Any], digest: str) -> dict[str, Any]:
    # this worker process runs one chapter only: send its (and its kernel's) stderr to a log file
    log = open(EXECUTED / f"{chapter.slug}.stderr.log", "w")
    os.dup2(log.fileno(), 2)
    record = execute(chapter, parameters)
    record["hash"] = digest
    chapter.record_path.write_text(json.dumps(record, indent=1))
    return record


def _cached(chapter: Chapter, digest: str) -> dict[str, Any] | None:
    try:
        record = json.loads(chapter.record_path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("hash") == digest and record.get("status") == "passed" and chapter.executed.exists():
        return {**record, "cached": True}
    return None


def line(record: dict[str, Any], index: int, total: int, width: int) -> str:
    """The progress line of one finished chapter."""
    claims = record.get("claims", [])
    held = sum(c["passed"] for c in claims)
    state = "cached" if record.get("cached") else record["status"]
    text = (f"[{index}/{total}] {record['slug']:<{width}}  {state:<7} {record['wall_s']:7.1f} s  "
            f"{held}/{len(claims)} claims  peak {record.get('peak_mem_mb', 0):.0f} MB")
    if record["status"] != "passed" and record.get("error"):
        err = record["error"]
        text += f"\n      {err['ename']} in cell {err['cell']}: {str(err['evalue']).strip().splitlines()[-1:]}"
        for c in claims:
            if not c["passed"]:
                text += f"\n      FAIL {c['name']}: measured {c['measured']}, expected {c['target']}"
    return text


def run(selected: list[Chapter], parameters: dict[str, Any], *, force: bool = False, jobs: int | None = None,
        echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Execute ``selected`` (skipping up-to-date ones unless ``force``) and return their records."""
    jobs = require_int("jobs", jobs if jobs is not None else (os.cpu_count() or 1), minimum=1)
    EXECUTED.mkdir(parents=True, exist_ok=True)
    width = max((len(c.slug) for c in selected), default=8)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for chapter in selected:
        digest = input_hash(chapter, parameters)
        cached = None if force else _cached(chapter, digest)
        if cached:
            records[chapter.slug] = cached
            echo(line(cached, len(records), len(selected), width))
        else:
            todo.append((chapter, digest))
    if todo:  # each worker's execute() pins its kernel to one thread
        with cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), max_tasks_per_child=1) as pool:
            futures = {pool.submit(_run_one, c, parameters, d): c for c, d in todo}
            for future in cf.as_completed(futures):
                chapter = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # the worker itself died
                    record = {"slug": chapter.slug, "status": "failed", "wall_s": 0.0, "claims": [],
                              "error": {"cell": None, "ename": type(exc).__name__, "evalue": str(exc), "source": ""}}
                records[chapter.slug] = record
                echo(line(record, len(records), len(selected), width))
    ordered = [records[c.slug] for c in selected]
    write_report(ordered)
    return ordered


def write_report(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge ``records`` into ``reproducibility.json`` (chapters not run this time keep their entry)."""
    old: dict[str, Any] = {}
    if REPORT.exists():
        try:
            old = {r["slug"]: r for r in json.loads(REPORT.read_text()).get("chapters", [])}
        except (ValueError, KeyError):
            old = {}
    for r in records:
        old[r["slug"]] = r
    order = [c.slug for c in chapters()]
    merged = [old[s] for s in order if s in old]
    report = {"generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "commit": git_commit(), **_versions(), "cpu_count": os.cpu_count(), "chapters": merged}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1))
    return report
