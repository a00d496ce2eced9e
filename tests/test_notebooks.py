"""The chapters' sources: paired, in sync, output-free, listed in the table of contents, well formed."""

from __future__ import annotations

import json
import re

import jupytext
import pytest
from jupytext.compare import compare_notebooks

from theorylab.book import execute as build

NOTEBOOKS = build.ROOT / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.md"))


def test_toc_and_notebooks_list_the_same_chapters(chapters):
    assert sorted(c.slug for c in chapters) == sorted(p.stem for p in SOURCES)
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(p.stem for p in SOURCES)


@pytest.mark.parametrize("md", SOURCES, ids=[p.stem for p in SOURCES])
def test_pair_in_sync_and_output_free(md):
    ipynb = md.with_suffix(".ipynb")
    raw = json.loads(ipynb.read_text())
    assert not any(c.get("outputs") for c in raw["cells"]), f"{ipynb.name} has outputs committed"
    assert not any(c.get("execution_count") for c in raw["cells"] if c["cell_type"] == "code")
    compare_notebooks(jupytext.read(ipynb), jupytext.read(md), fmt="md:myst")


@pytest.mark.parametrize("md", SOURCES, ids=[p.stem for p in SOURCES])
def test_chapter_anatomy(md):
    """The parts of CHAPTER.md that a machine can see."""
    nb = jupytext.read(md)
    text = md.read_text()
    assert f"(ch-{md.stem})=" in text, "label (ch-<slug>)= before the title"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    for name in ("profile", "seed", "device"):
        assert re.search(rf"^{name}\s*=", params[0].source, re.M), f"parameters cell sets {name}"
    assert "runtime.setup(" in text and "ledger.check()" in text
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[-1].source.strip().endswith("ledger.check()"), "the last code cell checks the claims"
    assert text.count("```{exercise}") + text.count(":::{exercise}") >= 3, "at least three exercises"
    assert text.count("{solution}") >= 3, "every exercise has a solution"
    assert "{cite" in text and "Where it breaks" in text and "At a glance" in text
    assert "{glue" in text, "the prose quotes measured values with glue"
