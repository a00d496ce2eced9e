"""The build survives faults: interrupts, torn cache entries, hanging cells, dying kernels, two builds.

Each test writes a tiny book of synthetic chapters (no torch: a kernel starts in about a second) in a
temporary folder and builds it with ``python -m theorylab build --no-html`` pointed there by
``THEORYLAB_ROOT``, as an author would from a terminal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

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

# {slug}

```{{code-cell}} ipython3
:tags: [parameters]

profile = "fast"
seed = 0
device = "cpu"
```
"""
CLAIM = """import os, pathlib, time
from theorylab import claims
ledger = claims.Ledger("{slug}")
ledger.close("one", 1.0, 1.0, rtol=0.1, why="trivial", kind="construction")
"""


def cell(code: str) -> str:
    return f"\n```{{code-cell}} ipython3\n{code.strip()}\n```\n"


def write_book(root: Path, chapters: dict[str, list[str]]) -> Path:
    """A book whose chapters run ``CLAIM``, then the given cells, then ``ledger.check()``."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for slug, cells in chapters.items():
        body = cell(CLAIM.format(slug=slug)) + "".join(cell(c) for c in cells) + cell("ledger.check()")
        (root / "notebooks" / f"{slug}.md").write_text(HEAD.format(slug=slug) + body)
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   + "".join(f"  - file: notebooks/{s}\n" for s in chapters))
    return root


def env(root: Path) -> dict[str, str]:
    return {**os.environ, "THEORYLAB_ROOT": str(root), "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}


def build(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "theorylab", "build", "--no-html", "--jobs", "2", *args],
                          env=env(root), capture_output=True, text=True, timeout=timeout)


def start(root: Path, *args: str) -> subprocess.Popen:
    """A build in its own process group, as in a terminal of its own."""
    return subprocess.Popen([sys.executable, "-m", "theorylab", "build", "--no-html", "--jobs", "2", *args],
                            env=env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for(path: Path, proc: subprocess.Popen, limit: float = 60) -> str:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        assert proc.poll() is None, f"the build ended early: {proc.communicate()}"
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{path.name} never appeared")


def state(line_start: str, out: str) -> str:
    """The state word of a chapter's progress line (passed, failed, cached)."""
    for ln in out.splitlines():
        if ln.startswith("[") and ln.split("] ", 1)[1].split()[0] == line_start:
            return ln.split("] ", 1)[1].split()[1]
    raise AssertionError(f"no progress line for {line_start} in:\n{out}")


# a cell that says it started (with its kernel's pid) and then hangs while the flag file exists
HANG = """pathlib.Path("{slug}.pid").write_text(str(os.getpid()))
while pathlib.Path("hang").exists():
    time.sleep(0.05)"""


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupt_stops_the_build_and_the_next_build_reruns_the_torn_chapter(tmp_path, how):
    root = write_book(tmp_path, {"quick": [], "slow": [HANG.format(slug="slow")]})
    (root / "notebooks" / "hang").write_text("1")
    proc = start(root)
    kernel = int(wait_for(root / "notebooks" / "slow.pid", proc))
    wait_for(root / "book" / "_build" / "cache" / "quick" / "fast-cpu-seed0.json", proc)  # one chapter done
    family = psutil.Process(proc.pid).children(recursive=True)
    assert kernel in [p.pid for p in family]
    t0 = time.monotonic()
    if how == "ctrl-c":  # the terminal sends SIGINT to the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
    else:  # kill / timeout send SIGTERM to the build process alone
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 10, "the build must stop within seconds"
    assert proc.returncode == 128 + (signal.SIGINT if how == "ctrl-c" else signal.SIGTERM)
    assert "Interrupted chapters" in err and "slow" in err.split("Interrupted chapters", 1)[1]
    time.sleep(0.3)
    left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"left running: {left}"
    # nothing of the torn run is served: the next build re-executes it and reuses the finished one
    (root / "notebooks" / "hang").unlink()
    again = build(root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert state("slow", again.stdout) == "passed"
    assert state("quick", again.stdout) == "cached"


def test_torn_or_mismatched_cache_entries_are_re_executed_and_say_why(tmp_path):
    root = write_book(tmp_path, {"a": [], "b": [], "c": [], "d": []})
    first = build(root)
    assert first.returncode == 0, first.stdout + first.stderr
    cache = root / "book" / "_build" / "cache"
    rec_a = cache / "a" / "fast-cpu-seed0.json"
    rec_a.write_text(rec_a.read_text()[:40])  # truncated record
    nb_b = cache / "b" / "fast-cpu-seed0.ipynb"
    nb_b.write_text(nb_b.read_text()[: len(nb_b.read_text()) // 2])  # half-written notebook
    nb_c = cache / "c" / "fast-cpu-seed0.ipynb"  # a notebook from another run than its record
    raw = json.loads(nb_c.read_text())
    raw["metadata"]["theorylab"]["run"] = "another-run"
    nb_c.write_text(json.dumps(raw))
    again = build(root)
    assert again.returncode == 0, again.stdout + again.stderr
    lines = {ln.split("] ", 1)[1].split()[0]: ln for ln in again.stdout.splitlines() if ln.startswith("[")}
    assert "re-executed: its record was torn" in lines["a"] and " passed " in lines["a"]
    assert "re-executed: its notebook was torn" in lines["b"]
    assert "re-executed: its notebook and record disagreed" in lines["c"]
    assert state("d", again.stdout) == "cached"
    # the book's copies are whole notebooks from this run
    for slug in "abcd":
        json.loads((root / "book" / "_build" / "executed" / f"{slug}.ipynb").read_text())


def test_a_hanging_cell_fails_its_chapter_naming_the_cell_and_the_others_finish(tmp_path):
    root = write_book(tmp_path, {"stuck": ["x = 1", "time.sleep(600)"], "fine": []})
    proc = build(root, "--timeout", "8")
    assert proc.returncode == 1
    assert state("fine", proc.stdout) == "passed" and state("stuck", proc.stdout) == "failed"
    report = json.loads((root / "book" / "_build" / "reproducibility.json").read_text())
    stuck = next(r for r in report["chapters"] if r["slug"] == "stuck")
    assert stuck["error"]["ename"] == "Timeout" and "time.sleep(600)" in stuck["error"]["source"]
    assert f"while running cell {stuck['error']['cell']}" in stuck["error"]["evalue"]
    assert stuck["wall_s"] - stuck["kernel_start_s"] < 20, "the limit counts from the kernel's start-up"
    # a time-out is never served from the cache
    assert state("stuck", build(root, "--timeout", "8").stdout) == "failed"


def test_a_dying_kernel_is_reported_as_such_and_the_others_finish(tmp_path):
    root = write_book(tmp_path, {"dies": ["os.kill(os.getpid(), 9)"], "fine": []})
    proc = build(root)
    assert proc.returncode == 1
    assert state("fine", proc.stdout) == "passed" and state("dies", proc.stdout) == "failed"
    report = json.loads((root / "book" / "_build" / "reproducibility.json").read_text())
    dies = next(r for r in report["chapters"] if r["slug"] == "dies")
    assert dies["error"]["ename"] == "DeadKernelError"
    assert dies["kernel"] == "warm", "two executions: both kernels forked from the zygote"
    assert "SIGKILL" in dies["error"]["evalue"] and f"cell {dies['error']['cell']}" in dies["error"]["evalue"]
    assert "os.kill" in dies["error"]["source"]


def test_a_second_build_in_the_same_checkout_is_refused_clearly(tmp_path):
    root = write_book(tmp_path, {"slow": [HANG.format(slug="slow")]})
    (root / "notebooks" / "hang").write_text("1")
    first = start(root)
    wait_for(root / "notebooks" / "slow.pid", first)
    second = build(root)
    assert second.returncode == 3
    assert "another build is running in this checkout" in second.stderr and str(first.pid) in second.stderr
    (root / "notebooks" / "hang").unlink()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert state("slow", build(root).stdout) == "cached"


def test_the_cache_is_shared_by_the_build_and_calibration(tmp_path):
    root = write_book(tmp_path, {"a": []})
    assert build(root, "--seed", "1").returncode == 0
    cal = subprocess.run([sys.executable, "-m", "theorylab", "calibrate", "--only", "a", "--seeds", "0-1",
                          "--no-write"], env=env(root), capture_output=True, text=True, timeout=120)
    assert cal.returncode == 0, cal.stdout + cal.stderr
    assert "a seed   1: cached" in cal.stdout and "a seed   0: passed" in cal.stdout
