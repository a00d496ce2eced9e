"""The build's pieces: chapter discovery, selection, cache keys, claim collection, the report page."""

from __future__ import annotations

import nbformat
import pytest

from theorylab import claims
from theorylab.book import execute as build, site


def test_chapters_come_from_the_toc_in_order(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n"
        "      - file: book/parts/a\n      - file: notebooks/one\n  - caption: B\n    chapters:\n"
        "      - file: notebooks/two\n        sections:\n          - file: notebooks/three\n")
    assert [c.slug for c in build.chapters(tmp_path)] == ["one", "two", "three"]
    assert build.chapters(tmp_path)[0].source == tmp_path / "notebooks" / "one.md"


def test_select_unknown_slug_lists_the_valid_ones():
    chs = [build.Chapter("a", None), build.Chapter("b", None)]
    assert build.select(chs, None) == chs and build.select(chs, ["b"]) == chs[1:]
    with pytest.raises(ValueError, match="unknown chapter 'c'; valid chapters are: a, b"):
        build.select(chs, ["c"])


def test_parameters_are_validated_before_work():
    assert build.validate_parameters("full", 2, "auto") == {"profile": "full", "seed": 2, "device": "auto"}
    for bad in (("turbo", 0, "cpu"), ("fast", -1, "cpu"), ("fast", 0, "tpu")):
        with pytest.raises(ValueError):
            build.validate_parameters(*bad)


def test_cache_key_follows_source_and_parameters(tmp_path):
    src = tmp_path / "x.md"
    src.write_text("a")
    ch = build.Chapter("x", src)
    fast = {"profile": "fast", "seed": 0, "device": "cpu"}
    key = build.input_hash(ch, fast, tmp_path)
    assert key == build.input_hash(ch, dict(fast), tmp_path)
    assert key != build.input_hash(ch, {**fast, "seed": 1}, tmp_path)
    src.write_text("b")
    assert key != build.input_hash(ch, fast, tmp_path)


def test_claims_are_collected_from_the_executed_notebook():
    ledger = claims.Ledger("t")
    ledger.at_least("a", 1.0, 0.5, why="w")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ledger.check()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={claims.MIME: {"chapter": "t", "claims": ledger.records()},
                                                                   "text/plain": "..."})]
    nb.cells = [nbformat.v4.new_code_cell("1"), cell]
    found = build.claims_from(nb)
    assert [c["name"] for c in found] == ["a"] and found[0]["passed"]


def test_report_page_shows_failures_and_claims():
    record = {"slug": "x", "status": "failed", "profile": "fast", "device": "cpu", "seed": 0, "wall_s": 1.5,
              "peak_mem_mb": 300, "error": {"cell": 2, "ename": "ValueError", "evalue": "profile must be ..."},
              "claims": [{"name": "a", "measured": 0.5, "target": "≥ 0.9", "passed": False, "why": "3 SD"}]}
    page = site.report_page({"chapters": [record], "commit": "abc"})
    assert "(reproducibility-report)=" in page and "{ref}`ch-x`" in page
    assert "ValueError" in page and "| `a` | unstated | 0.5 | ≥ 0.9 | **no** | — | 3 SD |" in page
    assert "No chapter has been executed yet" in site.report_page({"chapters": []})


def test_progress_line_names_failing_claims():
    record = {"slug": "x", "status": "failed", "wall_s": 2.0, "peak_mem_mb": 10,
              "error": {"cell": 5, "ename": "ClaimsFailed", "evalue": "1 of 1 claims failed"},
              "claims": [{"name": "a", "measured": 0.5, "target": "≥ 0.9", "passed": False}]}
    text = build.line(record, 1, 3, 4)
    assert text.startswith("[1/3] x     failed") and "0/1 claims" in text and "FAIL a: measured 0.5" in text


def test_calibration_parses_seeds_and_summarizes_margins():
    from theorylab.book import calibrate

    assert calibrate.parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    for bad in ("3-1", "-2", "a", ""):
        with pytest.raises(ValueError, match="seeds must look like"):
            calibrate.parse_seeds(bad)
    rows = {s: {"status": "passed", "wall_s": 1.0, "claims": [
        {"name": "x", "kind": "prediction", "op": "at_least", "measured": 1.0 + 0.1 * s, "low": 0.5, "passed": True,
         "target": "≥ 0.5"},
        {"name": "e", "kind": "identity", "op": "at_most", "measured": 0.0, "high": 1e-9, "passed": True,
         "target": "≤ 1e-09"}]} for s in range(4)}
    summary = calibrate.summarize("t", rows)
    x, e = summary["claims"]
    assert x["passed"] == 4 and x["min"] == 1.0 and x["max"] == pytest.approx(1.3)
    assert x["margin_sd"] == pytest.approx((1.15 - 0.5) / 0.129099, rel=1e-4)
    assert e["margin_sd"] == float("inf") and calibrate.healthy(summary)
    assert "4/4" in calibrate.table(summary)


def _package(root):
    pkg = root / "theorylab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "claims.py").write_text("import json\n")
    (pkg / "runtime.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from . import b\nfrom ..runtime import x\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    import theorylab.sub.c\n")
    (pkg / "sub" / "c.py").write_text("")
    (pkg / "sub" / "unused.py").write_text("")
    return pkg


def test_a_chapter_is_keyed_on_the_modules_it_imports_transitively(tmp_path):
    from theorylab.book import imports

    pkg = _package(tmp_path)
    names = imports.chapter_imports(["%matplotlib inline\nimport numpy as np\nfrom theorylab import claims",
                                     "from theorylab.sub import a as alias\n"])
    assert names == {"theorylab", "theorylab.claims", "theorylab.sub", "theorylab.sub.a"}
    files = {p.relative_to(pkg).as_posix() for p in imports.closure(names, pkg)}
    assert files == {"__init__.py", "claims.py", "runtime.py", "sub/__init__.py", "sub/a.py", "sub/b.py", "sub/c.py"}
    # a cell that does not parse still counts its import lines
    assert imports.chapter_imports(["from theorylab.sub import (c,\n  b)\nif :"]) >= {"theorylab.sub.c"}


def test_editing_one_module_re_runs_only_the_chapters_that_import_it(tmp_path):
    real = [c for c in build.chapters() if c.slug in ("regression-collapse", "walk-index")]
    if len(real) < 2:
        pytest.skip("needs the book's chapters")
    mods = {c.slug: {p.relative_to(build.PACKAGE).as_posix() for p in build.modules(c)} for c in real}
    assert "structure/graphs.py" in mods["walk-index"]  # through gnn
    assert "structure/graphs.py" not in mods["regression-collapse"]
    assert "linear/highdim.py" in mods["regression-collapse"] and "claims.py" in mods["regression-collapse"]
    assert not any(m.startswith("book/") for ms in mods.values() for m in ms)


def test_a_chapter_s_libraries_include_those_its_modules_import(tmp_path):
    from theorylab.book import imports

    pkg = _package(tmp_path)
    (pkg / "sub" / "c.py").write_text("import scipy.sparse as sp\nfrom torch import nn\n")
    found = imports.libraries(["import numpy as np\n%time x = 1\nfrom theorylab.sub import a", "import altair.vegalite"], pkg)
    assert found == {"numpy", "altair", "scipy", "torch"}  # not json: claims.py is not imported
