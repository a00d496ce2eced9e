"""Every chapter executes in the fast profile through the build at seeds 0, 1 and 2, every claim holds,
the same seed measures the same, and the book builds strictly. The executions come from one pool
(``executions`` in conftest) through the shared cache."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from theorylab.book import execute as build, site
from conftest import FAST, SEEDS

SLUGS = [c.slug for c in build.chapters()]


@pytest.mark.parametrize("slug", SLUGS)
def test_chapter_passes_every_claim_in_the_fast_profile(records, slug):
    record = records[slug]
    failed = [c for c in record["claims"] if not c["passed"]]
    assert record["status"] == "passed", f"{slug}: {record.get('error')} failed claims: {failed}"
    assert record["claims"] and not failed
    assert record["wall_s"] < 120, "fast profile far over its 60 s budget"


def test_report_has_every_field(records):
    import json

    report = json.loads(build.REPORT.read_text())
    assert [r["slug"] for r in report["chapters"]] == SLUGS
    for r in report["chapters"]:
        for key in ("slug", "status", "profile", "device", "seed", "wall_s", "peak_mem_mb", "torch", "python",
                    "commit", "claims"):
            assert key in r, f"{r['slug']} lacks {key}"
        for c in r["claims"]:
            assert {"name", "measured", "target", "passed", "why"} <= set(c)


def test_same_seed_same_claims(executions):
    """Determinism: the quickest chapter, executed twice with the same seed, measures exactly the same;
    the re-run's kernel is cold, the suite's others are forked from the zygote: warm and cold agree bit
    for bit (records cached by an older build say nothing of their kernel)."""
    again = [key for key in executions if key[1].endswith("-again")]
    assert len(again) == 1
    slug, name = again[0]
    second, first = executions[again[0]], executions[(slug, name.removesuffix("-again"))]
    assert first["status"] == second["status"] == "passed"
    assert second.get("kernel", "cold") == "cold"
    if build.warm_kernels() and not first.get("cached"):
        assert first.get("kernel") == "warm"
    assert {c["name"]: c["measured"] for c in second["claims"]} == {c["name"]: c["measured"] for c in first["claims"]}


def test_bad_injected_parameter_fails_fast_with_the_error_in_the_report(tmp_path):
    chapter = build.chapters()[0]
    record = build.execute(chapter, {**FAST, "profile": "turbo"}, output=tmp_path / "bad.ipynb")
    assert record["status"] == "failed"
    assert record["error"]["ename"] == "ValueError"
    assert "profile must be one of 'fast', 'full'; got 'turbo'" in record["error"]["evalue"]
    assert record["wall_s"] < 30, "validation must happen before any work starts"
    page = site.report_page({"chapters": [record]})
    assert "ValueError" in page and "got 'turbo'" in page


def test_no_change_rebuild_skips_every_chapter(records):
    start = time.perf_counter()
    again = build.run(build.chapters(), FAST, echo=lambda s: None)
    assert all(r.get("cached") for r in again)
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("args, message", [
    (["--only", "no-such-chapter"], "valid chapters are"),
    (["--profile", "turbo"], "profile must be one of 'fast', 'full'"),
    (["--device", "tpu"], "device must be one of"),
    (["--seed", "-3"], "seed must be an integer >= 0"),
])
def test_cli_rejects_bad_options_before_any_work(args, message):
    proc = subprocess.run([sys.executable, "-m", "theorylab", "build", *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and message in proc.stderr
    if args[0] == "--only":
        assert all(slug in proc.stderr for slug in SLUGS)


def test_book_builds_with_warnings_as_errors(html):
    index = build.BUILD / "html" / "index.html"
    assert index.exists()
    for slug in SLUGS:
        assert (build.BUILD / "html" / "notebooks" / f"{slug}.html").exists()
    report = (build.BUILD / "html" / "book" / "reproducibility.html").read_text()
    assert all(slug in report for slug in SLUGS)


@pytest.mark.parametrize("seed", [s for s in SEEDS if s])
@pytest.mark.parametrize("slug", SLUGS)
def test_claims_hold_for_other_seeds(executions, slug, seed):
    record = executions[(slug, f"fast-cpu-seed{seed}")]
    failed = [f"{c['name']}: measured {c['measured']}, expected {c['target']}" for c in record["claims"]
              if not c["passed"]]
    assert record["status"] == "passed", f"{slug} seed {seed}: {record.get('error')}; failed: {failed}"
