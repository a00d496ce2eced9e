"""Execute the book's chapters: parameters injected, many kernels at once, cached, reported.

Each chapter listed in ``_toc.yml`` under ``notebooks/`` is read from its MyST source with jupytext
and executed cell by cell with nbclient (see :mod:`theorylab.book.kernel`; the sources are never
written), one torch thread per kernel. Every execution -- the book's, the test suite's other seeds,
calibration seeds -- lands in one cache, ``book/_build/cache/<slug>/<profile>-<device>-seed<n>``: an
executed notebook and its record, written together under temporary names and renamed into place,
both stamped with the input hash and a run id. An entry is reused only when both halves exist,
agree and are complete, and its inputs (the chapter's source, its parameters, the requirements and
the ``theorylab`` modules it imports) have not changed. The book's copy of each chapter is published
to ``book/_build/executed/<slug>.ipynb`` and every build ends in ``book/_build/reproducibility.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from ..claims import MIME
from ..runtime import DEVICES, PROFILES, require_choice, require_int
from . import imports
from .kernel import THREAD_VARS, Interrupted  # noqa: F401  (re-exported)

PACKAGE = Path(__file__).resolve().parents[1]  # the theorylab package
# the book's root: the checkout, or THEORYLAB_ROOT (tests build small fixture books that way)
ROOT = Path(os.environ.get("THEORYLAB_ROOT") or PACKAGE.parents[1]).resolve()
BUILD = ROOT / "book" / "_build"
EXECUTED = BUILD / "executed"
CACHE = BUILD / "cache"
LOCK = BUILD / "build.lock"
REPORT = BUILD / "reproducibility.json"
ENGINE = "3"  # bump when a change to the build alters what an execution produces
TIMEOUTS: dict[str, float | None] = {"fast": 300.0, "full": None}  # per chapter, seconds


@dataclasses.dataclass(frozen=True)
class Chapter:
    slug: str
    source: Path  # notebooks/<slug>.md

    @property
    def executed(self) -> Path:
        """The book's copy of the executed chapter (what the HTML shows)."""
        return EXECUTED / f"{self.slug}.ipynb"

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


@functools.lru_cache(maxsize=512)
def _cells_of(source: bytes) -> tuple[str, ...]:
    import jupytext

    try:
        nb = jupytext.reads(source.decode(), fmt="md:myst")
        return tuple(c.source for c in nb.cells if c.cell_type == "code")
    except Exception:  # not a notebook: read every line
        return (source.decode(errors="replace"),)


@functools.lru_cache(maxsize=512)
def _modules_of(source: bytes) -> tuple[Path, ...]:
    return tuple(imports.closure(imports.chapter_imports(list(_cells_of(source)))))


def libraries(chapter: Chapter) -> set[str]:
    """The top-level names of the other libraries a chapter imports (directly or through ``theorylab``)."""
    return imports.libraries(list(_cells_of(chapter.source.read_bytes())))


def modules(chapter: Chapter) -> list[Path]:
    """The package files a chapter's result depends on: the ``theorylab`` modules it imports, transitively."""
    return list(_modules_of(chapter.source.read_bytes()))


def input_hash(chapter: Chapter, parameters: dict[str, Any], root: Path = ROOT) -> str:
    """A content hash of everything a chapter's result depends on: its source, the parameters, the
    pinned requirements and the package modules it imports (see :mod:`theorylab.book.imports`)."""
    source = chapter.source.read_bytes()
    reqs = root / "requirements.txt"
    return _digest(ENGINE.encode(), source,
                   *(p.relative_to(PACKAGE).as_posix().encode() + p.read_bytes() for p in _modules_of(source)),
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


def default_timeout(profile: str) -> float | None:
    """The per-chapter wall-clock limit of a profile, in seconds (None: no limit)."""
    return TIMEOUTS.get(profile)


# ---------------------------------------------------------------------------------------------
# one execution


@dataclasses.dataclass(frozen=True, eq=False)
class Job:
    """One execution: a chapter with its parameters, in its own slot of the shared cache.

    ``variant`` names a second slot for the same inputs (the test suite's determinism re-run);
    ``cold`` asks for a kernel started from scratch rather than forked from the zygote."""

    chapter: Chapter
    parameters: dict[str, Any]
    variant: str = ""
    cold: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.chapter.slug, self.name

    @property
    def name(self) -> str:
        p = self.parameters
        return f"{p.get('profile')}-{p.get('device')}-seed{p.get('seed')}" + (f"-{self.variant}" if self.variant else "")

    @property
    def notebook(self) -> Path:
        return CACHE / self.chapter.slug / f"{self.name}.ipynb"

    @property
    def record_path(self) -> Path:
        return CACHE / self.chapter.slug / f"{self.name}.json"

    @property
    def log(self) -> Path:
        return CACHE / self.chapter.slug / f"{self.name}.stderr.log"


def _prepare(chapter: Chapter, parameters: dict[str, Any]) -> Any:
    import jupytext

    from .kernel import inject

    nb = jupytext.read(chapter.source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    return inject(nb, parameters)


def _record(chapter: Chapter, parameters: dict[str, Any], outcome: Any, started: str,
            context: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"slug": chapter.slug, **{k: parameters.get(k) for k in ("profile", "seed", "device")},
                              "parameters": parameters, "started": started, **context,
                              "error": outcome.error, "wall_s": round(outcome.wall_s, 2),
                              "peak_mem_mb": outcome.peak_mem_mb, "claims": claims_from(outcome.nb),
                              "cells_run": outcome.cells_run, "code_cells": outcome.code_cells,
                              "kernel": "warm" if outcome.warm else "cold",
                              "kernel_start_s": round(outcome.timings.get("kernel_start", 0.0), 2)}
    status = "failed" if outcome.error else "passed"
    if status == "passed" and (not record["claims"] or not all(c["passed"] for c in record["claims"])):
        status = "failed"  # a chapter that checked nothing, or swallowed a failure, does not pass
        record["error"] = {"cell": None, "ename": "ClaimsFailed",
                           "evalue": "no passing ledger.check() output found", "source": ""}
    record["status"] = status
    return record


async def _execute(chapter: Chapter, parameters: dict[str, Any], timeout: float | None,
                   log: Path | None, context: dict[str, Any], zygote: Any = None) -> tuple[Any, dict[str, Any]]:
    from .kernel import run_notebook

    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        nb = _prepare(chapter, parameters)
    except Exception as exc:  # a source that does not parse is a failed chapter, not a crash
        import nbformat

        from .kernel import Outcome

        return nbformat.v4.new_notebook(), _record(chapter, parameters, Outcome(
            nb=nbformat.v4.new_notebook(), error={"cell": None, "ename": type(exc).__name__,
                                                  "evalue": str(exc)[:2000], "source": ""}), started, context)
    outcome = await run_notebook(nb, cwd=chapter.source.parent, timeout=timeout, log=log, zygote=zygote)
    return outcome.nb, _record(chapter, parameters, outcome, started, context)


def _context() -> dict[str, Any]:
    return {**_versions(), "commit": git_commit()}


def _write_atomic(pairs: list[tuple[Path, str]]) -> None:
    """Write every file to a temporary name first, then rename them all into place."""
    tmps = []
    try:
        for path, text in pairs:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            tmps.append((tmp, path))
        for tmp, path in tmps:
            tmp.replace(path)
    finally:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)


def _store(nb: Any, record: dict[str, Any], notebook: Path, record_path: Path, digest: str | None) -> None:
    """Save the executed notebook (once) and its record as a pair that carry the same hash and run id."""
    import nbformat

    stamp = {"hash": digest, "run": uuid.uuid4().hex, "status": record["status"],
             "cells_run": record["cells_run"], "code_cells": record["code_cells"]}
    record.update(hash=digest, run=stamp["run"])
    nb.metadata["theorylab"] = stamp
    _write_atomic([(notebook, nbformat.writes(nb)), (record_path, json.dumps(record, indent=1))])


def execute(chapter: Chapter, parameters: dict[str, Any], output: Path | None = None, *,
            timeout: float | None = None) -> dict[str, Any]:
    """Run one chapter now (no cache, no lock) into ``output`` and return its record; never raises for
    a failing chapter. ``parameters`` are injected as given, so a test can hand a chapter a bad value."""
    output = output or EXECUTED / f"{chapter.slug}.ipynb"
    nb, record = asyncio.run(_execute(chapter, parameters, timeout, output.with_suffix(".stderr.log"), _context()))
    _store(nb, record, output, output.with_suffix(".json"), None)
    return record


# ---------------------------------------------------------------------------------------------
# the shared cache


def check(job: Job, digest: str, *, reuse_failed: bool = False) -> tuple[dict[str, Any] | None, str | None]:
    """The cached record of ``job`` when its entry is complete, agrees and matches ``digest``; else
    (None, why) where ``why`` says what was wrong with an entry that exists (None: no entry, or its
    inputs changed)."""
    if not job.record_path.exists():
        return None, ("its record was missing" if job.notebook.exists() else None)
    try:
        record = json.loads(job.record_path.read_text())
        if not isinstance(record, dict):
            raise ValueError
    except (OSError, ValueError):
        return None, "its record was torn"
    if record.get("hash") != digest:
        return None, None  # inputs changed (or an older build's entry): simply stale
    try:
        meta = json.loads(job.notebook.read_text()).get("metadata", {}).get("theorylab", {})
    except OSError:
        return None, "its notebook was missing"
    except ValueError:
        return None, "its notebook was torn"
    if meta.get("hash") != digest or meta.get("run") != record.get("run"):
        return None, "its notebook and record disagreed"
    if record.get("status") == "passed" and (meta.get("status") != "passed"
                                             or meta.get("cells_run") != meta.get("code_cells")):
        return None, "its notebook was incomplete"
    if record.get("status") != "passed":
        transient = (record.get("error") or {}).get("ename") in ("Timeout", "DeadKernelError")
        if not reuse_failed or transient:
            return None, None
    return {**record, "cached": True}, None


def _estimate(job: Job) -> float:
    """The job's expected wall time: its last run, else the chapter's slowest run at any seed."""
    for path in [job.record_path, *sorted(job.record_path.parent.glob(f"{job.parameters.get('profile')}-*.json"))]:
        try:
            return float(json.loads(path.read_text())["wall_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return math.inf  # never run: schedule it first


# ---------------------------------------------------------------------------------------------
# one build at a time


class Busy(RuntimeError):
    """Another build holds this checkout's lock."""


_held: list[Any] = []


@contextlib.contextmanager
def lock() -> Iterator[None]:
    """Hold ``book/_build/build.lock`` (re-entrant in one process); a second build gets :class:`Busy`."""
    import fcntl

    if _held:
        _held.append(None)
        try:
            yield
        finally:
            _held.pop()
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
        os.close(fd)
        raise Busy(f"another build is running in this checkout ({holder}); wait for it to finish "
                   f"or stop it, then run again (lock: {LOCK.relative_to(ROOT)})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}, since "
                  f"{dt.datetime.now().isoformat(timespec='seconds')}\n".encode(), 0)
    _held.append(fd)
    try:
        yield
    finally:
        _held.pop()
        os.ftruncate(fd, 0)
        os.close(fd)  # closing releases the lock


# ---------------------------------------------------------------------------------------------
# many executions


def warm_kernels() -> bool:
    """Whether executions fork their kernels from a zygote (``THEORYLAB_WARM=0`` starts every kernel cold)."""
    return os.environ.get("THEORYLAB_WARM", "1").strip().lower() not in ("0", "false", "no", "off")


def run_jobs(todo: list[Job], *, force: bool = False, jobs: int | None = None, timeout: Any = "profile",
             reuse_failed: bool = False, echo: Callable[[str], None] = print,
             line_of: Callable[[Job, dict[str, Any], int, int], str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Execute ``todo`` through the shared cache, in one pool of ``jobs`` kernels, longest first.

    Every job is keyed by :func:`input_hash`; a complete, agreeing cache entry for the same key is
    reused (failed ones too when ``reuse_failed``, except time-outs and dead kernels). When two or
    more executions are due, their kernels are forked from one zygote that has imported the heavy
    libraries once (:mod:`theorylab.book.zygote`; ``Job.cold`` and ``THEORYLAB_WARM=0`` opt out). ``timeout``:
    seconds per execution, None for no limit, "profile" for the profile's default. Raises
    :class:`Interrupted` on Ctrl-C / SIGTERM (after killing every kernel) and :class:`Busy` when
    another build holds the lock. Returns the records by :attr:`Job.key`.
    """
    from .kernel import pool

    jobs = require_int("jobs", jobs if jobs is not None else (os.cpu_count() or 1), minimum=1)
    total = len(todo)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    line_of = line_of or (lambda job, record, i, n: line(record, i, n, max(len(j.chapter.slug) for j in todo)))
    with lock():
        digests = {j.key: input_hash(j.chapter, j.parameters) for j in todo}
        run: list[Job] = []
        why: dict[tuple[str, str], str] = {}
        for job in todo:
            cached, reason = (None, None) if force else check(job, digests[job.key], reuse_failed=reuse_failed)
            if cached:
                out[job.key] = cached
                echo(line_of(job, cached, len(out), total))
            else:
                run.append(job)
                if reason:
                    why[job.key] = reason
        order = {j.key: i for i, j in enumerate(run)}
        run.sort(key=lambda j: (-_estimate(j), order[j.key]))
        context = _context()

        zygote = None
        if run and warm_kernels() and sum(not j.cold for j in run) >= 2:
            from .kernel import kernel_env
            from .zygote import Zygote

            warm = [j for j in run if not j.cold]
            folders = [j.chapter.source.parent for j in warm]
            needed = set().union(*(libraries(c) for c in {j.chapter.slug: j.chapter for j in warm}.values()))
            zygote = Zygote(kernel_env(), cwd=max(set(folders), key=folders.count), libraries=needed)

        async def work(job: Job) -> dict[str, Any]:
            limit = default_timeout(job.parameters.get("profile")) if timeout == "profile" else timeout
            try:
                nb, record = await _execute(job.chapter, job.parameters, limit or None, job.log, context,
                                            None if job.cold else zygote)
                _store(nb, record, job.notebook, job.record_path, digests[job.key])
            except Exception as exc:  # a fault of the build itself: report it, run the others
                record = {"slug": job.chapter.slug, **{k: job.parameters.get(k) for k in ("profile", "seed", "device")},
                          "status": "failed", "wall_s": 0.0, "claims": [],
                          "error": {"cell": None, "ename": type(exc).__name__, "evalue": str(exc), "source": ""}}
            if job.key in why:
                record["rerun_because"] = why[job.key]
            return record

        def done(job: Job, record: dict[str, Any]) -> None:
            out[job.key] = record
            echo(line_of(job, record, len(out), total))

        if run:
            try:
                pool(run, work, min(jobs, len(run)), done)
            except Interrupted as exc:
                exc.done = dict(out)  # by Job.key: the cached entries and the executions that finished
                one = len({j.name for j in todo}) == 1
                exc.running = [j.chapter.slug if one else f"{j.chapter.slug} ({j.name})" for j in exc.running]
                exc.pending = [j.chapter.slug if one else f"{j.chapter.slug} ({j.name})" for j in exc.pending]
                raise
            finally:
                if zygote is not None:
                    zygote.close()
    return out


# ---------------------------------------------------------------------------------------------
# the book's build


def line(record: dict[str, Any], index: int, total: int, width: int) -> str:
    """The progress line of one finished chapter."""
    claims = record.get("claims", [])
    held = sum(c["passed"] for c in claims)
    state = "cached" if record.get("cached") else record["status"]
    text = (f"[{index}/{total}] {record['slug']:<{width}}  {state:<7} {record['wall_s']:7.1f} s  "
            f"{held}/{len(claims)} claims  peak {record.get('peak_mem_mb', 0):.0f} MB")
    if record.get("rerun_because"):
        text += f"  (re-executed: {record['rerun_because']})"
    if record["status"] != "passed" and record.get("error"):
        err = record["error"]
        text += f"\n      {err['ename']} in cell {err['cell']}: {str(err['evalue']).strip().splitlines()[-1:]}"
        for c in claims:
            if not c["passed"]:
                text += f"\n      FAIL {c['name']}: measured {c['measured']}, expected {c['target']}"
    return text


def publish(chapter: Chapter, job: Job) -> None:
    """Copy a cache entry to the book's ``executed/<slug>.ipynb`` (atomically: never half a notebook)."""
    EXECUTED.mkdir(parents=True, exist_ok=True)
    tmp = chapter.executed.with_name(f".{chapter.slug}.ipynb.{os.getpid()}.tmp")
    try:
        shutil.copyfile(job.notebook, tmp)
        tmp.replace(chapter.executed)
    finally:
        tmp.unlink(missing_ok=True)


def _drop_unstamped(chapter: Chapter) -> None:
    """Remove a book copy that no complete run wrote (torn, or left by an older build): the HTML must
    never show half a chapter."""
    try:
        if "theorylab" in json.loads(chapter.executed.read_text()).get("metadata", {}):
            return
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        pass
    chapter.executed.unlink(missing_ok=True)


def run(selected: list[Chapter], parameters: dict[str, Any], *, force: bool = False, jobs: int | None = None,
        timeout: Any = "profile", echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Execute ``selected`` (reusing up-to-date cache entries unless ``force``), publish them to the
    book and the report, and return their records in book order. Raises :class:`Interrupted` (after
    writing the report of the chapters that finished) and :class:`Busy`."""
    todo = [Job(c, parameters) for c in selected]
    for chapter in selected:
        _drop_unstamped(chapter)
    width = max((len(c.slug) for c in selected), default=8)
    with lock():
        try:
            done = run_jobs(todo, force=force, jobs=jobs, timeout=timeout, echo=echo,
                            line_of=lambda job, record, i, n: line(record, i, n, width))
        except Interrupted as exc:
            finished = [job for job in todo if job.key in exc.done]
            for job in finished:
                publish(job.chapter, job)
            write_report([exc.done[job.key] for job in finished])
            raise
        for job in todo:
            publish(job.chapter, job)
        ordered = [done[job.key] for job in todo]
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
