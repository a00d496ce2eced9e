"""Shared fixtures: the book is executed and built once per test session, through the build code."""

from __future__ import annotations

import os

import pytest

from theorylab.book import execute as build

FAST = {"profile": "fast", "seed": 0, "device": "cpu"}


@pytest.fixture(scope="session")
def chapters() -> list[build.Chapter]:
    return build.chapters()


@pytest.fixture(scope="session")
def records(chapters) -> dict[str, dict]:
    """Every chapter executed in the fast profile (up-to-date chapters are reused from the cache)."""
    done = build.run(chapters, FAST, jobs=int(os.environ.get("THEORYLAB_JOBS", os.cpu_count() or 1)),
                     echo=lambda s: print(s, flush=True))
    return {r["slug"]: r for r in done}


@pytest.fixture(scope="session")
def html(records) -> str:
    """The HTML book built from the executed chapters with warnings as errors; returns the log."""
    from theorylab.book import site

    code = site.build_html(strict=True, echo=lambda s: print(s, flush=True))
    log = (build.BUILD / "html-build.log").read_text()
    assert code == 0, "jupyter-book build -W failed:\n" + "\n".join(
        ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln or "rror" in ln)
    return log
