"""Shared fixtures: every execution the suite needs runs once per session, in one pool, through the
build's shared cache (``book/_build/cache``), so an unchanged chapter is never executed twice and
the book, the tests and calibration reuse each other's runs."""

from __future__ import annotations

import os

import pytest

from theorylab.book import execute as build

FAST = {"profile": "fast", "seed": 0, "device": "cpu"}
SEEDS = (0, 1, 2)  # seed 0 is the book's own run; statistical claims must not hang on one seed
JOBS = int(os.environ.get("THEORYLAB_JOBS", os.cpu_count() or 1))


def quickest(chapters: list[build.Chapter]) -> build.Chapter:
    """The chapter with the shortest last recorded run (the smallest source when none is recorded)."""
    return min(chapters, key=lambda c: (build._estimate(build.Job(c, FAST)), c.source.stat().st_size))


@pytest.fixture(scope="session")
def chapters() -> list[build.Chapter]:
    return build.chapters()


@pytest.fixture(scope="session")
def executions(chapters) -> dict[tuple[str, str], dict]:
    """Every chapter at seeds 0, 1 and 2 (kernels forked from the zygote), plus a second seed-0 run of
    the quickest chapter in a cold kernel (determinism, and warm = cold), in one pool ordered longest
    first; records by (slug, "fast-cpu-seed<n>[-again]")."""
    todo = [build.Job(c, {**FAST, "seed": s}) for c in chapters for s in SEEDS]
    todo.append(build.Job(quickest(chapters), FAST, variant="again", cold=True))
    return build.run_jobs(todo, jobs=JOBS, echo=lambda s: print(s, flush=True),
                          line_of=lambda job, r, i, n: f"[{i}/{n}] {job.chapter.slug} {job.name}: "
                                                       f"{'cached' if r.get('cached') else r['status']} "
                                                       f"{r.get('wall_s', 0):.1f} s")


@pytest.fixture(scope="session")
def records(chapters, executions) -> dict[str, dict]:
    """The book's run (fast profile, seed 0) of every chapter, published and reported (all cached by now)."""
    done = build.run(chapters, FAST, jobs=JOBS, echo=lambda s: print(s, flush=True))
    return {r["slug"]: r for r in done}


@pytest.fixture(scope="session")
def html(records, request) -> str:
    """The HTML book built from the executed chapters with warnings as errors; returns the log. The
    student edition is started first and builds alongside (one core each; see ``student_html``)."""
    from theorylab.book import site

    if any("student_html" in getattr(item, "fixturenames", ()) for item in request.session.items):
        _student.append(site.start_html(strict=True, edition="student", echo=lambda s: print(s, flush=True)))
        request.addfinalizer(lambda: _student[0]())  # never leave it running
    code = site.build_html(strict=True, echo=lambda s: print(s, flush=True))
    log = (build.BUILD / "html-build.log").read_text()
    assert code == 0, "jupyter-book build -W failed:\n" + "\n".join(
        ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln or "rror" in ln)
    return log


_student: list = []  # the student edition's build, started by ``html``


@pytest.fixture(scope="session")
def student_html(html) -> int:
    """The student edition (no solutions), built with warnings as errors alongside the full book; its exit code."""
    from theorylab.book import site

    if not _student:
        _student.append(site.start_html(strict=True, edition="student", echo=lambda s: print(s, flush=True)))
    return _student[0]()
