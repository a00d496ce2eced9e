"""The learner's and the instructor's book: downloads that run, the student edition, the syllabus."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from theorylab.book import edition, execute as build, site

ROOT = build.ROOT
SYLLABUS = ROOT / "book" / "syllabus.md"


# --- the syllabus -------------------------------------------------------------------------------

def _toc_files() -> list[str]:
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    return files


def test_syllabus_lists_every_chapter_of_the_toc_and_no_other():
    text = SYLLABUS.read_text()
    assert "book/syllabus" in _toc_files(), "the syllabus must be in _toc.yml"
    listed = re.findall(r"\{ref\}`ch-([a-z0-9-]+)`", text)
    in_toc = [c.slug for c in build.chapters()]
    assert set(in_toc) - set(listed) == set(), f"chapters in _toc.yml missing from the syllabus: {set(in_toc) - set(listed)}"
    assert set(listed) - set(in_toc) == set(), f"syllabus links chapters not in _toc.yml: {set(listed) - set(in_toc)}"
    weeks = re.findall(r"^\| (\d+) \|", text, flags=re.M)
    assert weeks == [str(w) for w in range(1, 14)], "13 weeks, in order"
    # a chapter that is written is linked, never listed as coming
    titles = {c.slug: re.search(r"^# (.+)$", c.source.read_text(), re.M).group(1).strip() for c in build.chapters()}
    coming = re.findall(r"\*([^*]+)\* \(coming\)", text)
    assert coming, "the planned chapters are listed as coming"
    assert not set(coming) & set(titles.values()), "a written chapter is still marked as coming"


def test_syllabus_assigns_exercises_that_exist():
    text = SYLLABUS.read_text()
    labels = set()
    for c in build.chapters():
        labels |= set(re.findall(r":label: (ex-[a-z0-9-]+)", c.source.read_text()))
    assigned = re.findall(r"\{numref\}`(ex-[a-z0-9-]+)`", text)
    assert assigned and set(assigned) <= labels, f"assigned exercises not found: {set(assigned) - labels}"


def test_chapters_are_numbered_and_parts_are_not():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        files = [c["file"] for c in part["chapters"]]
        chapters_ = [f for f in files if f.startswith("notebooks/")]
        if chapters_:
            assert part.get("numbered") is True and chapters_ == files, f"number the chapters on their own: {files}"
        else:
            assert not part.get("numbered"), f"part pages and front matter are not numbered: {files}"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["numfig"] and config["math_numfig"] and config["numfig_secnum_depth"] == 1


# --- the student edition's stripping --------------------------------------------------------------

def test_strip_solutions_removes_fenced_and_gated_solutions():
    text = ("intro\n\n:::{exercise}\n:label: ex-a\nDo it.\n:::\n\n::::{solution} ex-a\n:class: dropdown\n"
            "The answer is 42.\n:::{note}\nnested\n:::\n::::\n\n```{solution} ex-b\nback ticks 7\n```\n\n"
            "````{solution-start} ex-c\n````\nhidden 9\n```{code-cell}\nx = 1\n```\n````{solution-end}\n````\nend\n")
    out = edition.strip_solutions(text)
    assert "42" not in out and "nested" not in out and "back ticks" not in out and "hidden 9" not in out
    assert "x = 1" not in out and "Do it." in out and out.rstrip().endswith("end")
    assert not edition.has_solution(out) and edition.has_solution(text)


@pytest.mark.parametrize("chapter", build.chapters(), ids=lambda c: c.slug)
def test_every_chapter_keeps_its_exercises_and_loses_its_solutions(chapter):
    text = chapter.source.read_text()
    out = edition.strip_solutions(text)
    assert out.count("{exercise}") == text.count("{exercise}")
    assert not edition.has_solution(out)
    secret = edition.solution_texts(text)
    assert secret, "a chapter has solutions"
    assert not [ln for ln in secret if ln in out]


# --- downloads that run -------------------------------------------------------------------------

def test_parameters_injected_by_the_build_are_written_into_the_parameters_cell():
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "fast"   # fast or full\nseed = 0           # base seed\nn = 3')
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell('# Parameters\nprofile = "fast"\nseed = 4\ndevice = "cpu"\n')
    injected.metadata["tags"] = ["injected-parameters", "remove-cell"]
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), params, injected, nbformat.v4.new_code_cell("run()")]
    out = site.ready_to_run(nb, "t")
    assert [c.cell_type for c in out.cells] == ["markdown", "markdown", "code", "code"]
    assert "Run this chapter yourself" in out.cells[1].source and "/downloads/t.ipynb" in out.cells[1].source
    assert out.cells[2].source == 'profile = "fast"   # fast or full\nseed = 4           # base seed\nn = 3'
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in out.cells)


def test_the_archive_holds_the_runnable_book():
    names = zipfile.ZipFile(io.BytesIO(site.archive())).namelist()
    for must in ("make.py", "requirements.txt", "pyproject.toml", "_toc.yml", "src/theorylab/__init__.py",
                 "src/theorylab/answers.json", "notebooks/walk-index.md", "notebooks/walk-index.ipynb"):
        assert f"theorylab/{must}" in names, must
    assert not [n for n in names if "/_build/" in n or "__pycache__" in n or "/.venv/" in n]
    assert site.archive() == site.archive(), "the archive is the same bytes from build to build"


def test_the_student_archive_has_no_solutions():
    z = zipfile.ZipFile(io.BytesIO(site.archive(student=True)))
    for c in build.chapters():
        secret = edition.solution_texts(c.source.read_text())
        for name in (f"theorylab/notebooks/{c.slug}.md", f"theorylab/notebooks/{c.slug}.ipynb"):
            body = z.read(name).decode()
            assert not edition.has_solution(body.replace('\\n', '\n'))
            assert not [ln for ln in secret if ln in body], name


def _downloads(page: Path) -> dict[str, Path]:
    """The files a chapter page offers in its "Run this chapter yourself" note, by name."""
    html = page.read_text()
    links = re.findall(r'class="reference download internal" download="" href="([^"]+)"', html)
    return {Path(h).name: (page.parent / h).resolve() for h in links}


@pytest.mark.book
def test_every_chapter_page_offers_its_sources_and_the_runnable_book(html):
    for c in build.chapters():
        files = _downloads(site.HTML / "notebooks" / f"{c.slug}.html")
        assert {f"{c.slug}.ipynb", f"{c.slug}.md", site.ARCHIVE} <= set(files), files
        assert all(p.exists() for p in files.values())
        assert files[f"{c.slug}.md"].read_text() == c.source.read_text()
        nb = nbformat.read(files[f"{c.slug}.ipynb"], as_version=4)
        tags = [t for cell in nb.cells for t in cell.metadata.get("tags", [])]
        assert "parameters" in tags and "injected-parameters" not in tags
        assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
        # the theme's own download of the page's notebook has no injected cell either
        page_nb = nbformat.read(site.HTML / "_sources" / "notebooks" / f"{c.slug}.ipynb", as_version=4)
        assert not [cell for cell in page_nb.cells if "injected-parameters" in cell.metadata.get("tags", [])]


@pytest.mark.book
def test_a_downloaded_notebook_runs_with_the_seed_the_learner_sets(html, tmp_path, monkeypatch):
    """Download the runnable book and a chapter from the site, set seed = 3, run it: it ran seed 3."""
    from nbclient import NotebookClient

    slug = "regression-collapse" if "regression-collapse" in [c.slug for c in build.chapters()] \
        else build.chapters()[0].slug
    files = _downloads(site.HTML / "notebooks" / f"{slug}.html")
    zipfile.ZipFile(files[site.ARCHIVE]).extractall(tmp_path)
    book = tmp_path / "theorylab"
    nb = nbformat.read(files[f"{slug}.ipynb"], as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert re.search(r"^seed = 0\b", params.source, re.M)
    params.source = re.sub(r"^seed = 0\b", "seed = 3", params.source, flags=re.M)  # what a learner does
    nb.cells.append(nbformat.v4.new_code_cell('print("seed used:", run.seed)'))
    monkeypatch.setenv("PYTHONPATH", str(book / "src"))
    monkeypatch.delenv("THEORYLAB_BUILD", raising=False)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)  # runtime.setup must limit the threads itself
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(book / "notebooks")}}).execute()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "seed used: 3" in out
    from theorylab.claims import MIME

    emitted = [o["data"][MIME] for c in nb.cells for o in c.get("outputs", []) if MIME in o.get("data", {})]
    assert emitted and all(claim["passed"] for claim in emitted[-1]["claims"])


# --- the student edition, built ------------------------------------------------------------------

@pytest.mark.book
def test_the_student_edition_has_no_solution(html, student_html):
    code = student_html
    log = (build.BUILD / "student" / "html-build.log").read_text()
    assert code == 0, "\n".join(ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln)
    out = site.html_dir("student")
    secrets = {c.slug: edition.solution_texts(c.source.read_text()) for c in build.chapters()}
    texts = {p: p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()
             and p.suffix in (".html", ".js", ".ipynb", ".md", ".txt") and "_static" not in p.parts}
    notebooks = list((build.BUILD / "student" / "notebooks").glob("*"))
    assert len(notebooks) == 2 * len(secrets)
    texts.update({p: p.read_text() for p in notebooks})
    assert not [p for p, t in texts.items() if 'class="solution' in t or "{solution" in t]
    for slug, lines in secrets.items():
        for p, t in texts.items():
            plain = t.replace("\\n", "\n").replace("\\\\", "\\")
            leaked = [ln for ln in lines if ln in t or ln in plain]
            assert not leaked, f"{p}: solution text of {slug}: {leaked[:2]}"
    page = (out / "notebooks" / f"{build.chapters()[0].slug}.html").read_text()
    assert 'class="exercise' in page and "Exercise 1.1" in page


# --- the learner's command ----------------------------------------------------------------------

def _make():
    import importlib.util

    spec = importlib.util.spec_from_file_location("theorylab_make", ROOT / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lab_requirements_are_pinned_and_open_chapters_as_notebooks():
    lines = [ln.strip() for ln in (ROOT / "requirements-lab.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", ln) for ln in lines), lines
    names = {ln.split("==")[0].lower().replace("_", "-") for ln in lines}
    assert {"jupyterlab", "jupyterlab-myst"} <= names
    assert re.search(r"^jupytext==", (ROOT / "requirements.txt").read_text(), re.M)
    make = _make()
    viewers = make.LAB_SETTINGS["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"
    cmd = make.lab_command(["walk-index", "--no-browser"]) if (ROOT / "notebooks" / "walk-index.md").exists() \
        else make.lab_command(["--no-browser"])
    assert cmd[1:3] == ["-m", "jupyterlab"] and cmd[-1] == "--no-browser"
    with pytest.raises(SystemExit, match="no chapter 'nope'"):
        make.lab_command(["nope"])


@pytest.mark.skipif(__import__("importlib").util.find_spec("jupyterlab") is None,
                    reason="JupyterLab is not installed here (python3 make.py lab installs it)")
def test_lab_serves_a_chapter_as_a_notebook(tmp_path):
    """The server `make.py lab` starts opens a chapter's .md as a notebook (jupytext), not as text."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slug = build.chapters()[-1].slug
    cmd = _make().lab_command(["--no-browser", f"--port={port}", "--ServerApp.token=t",
                               f"--ServerApp.runtime_dir={tmp_path}"])
    cmd[0] = sys.executable
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/notebooks/{slug}.md?type=notebook&content=1&token=t"
        for _ in range(120):
            try:
                model = json.loads(urllib.request.urlopen(url, timeout=5).read())
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("JupyterLab did not answer within two minutes")
        assert model["type"] == "notebook" and len(model["content"]["cells"]) > 10
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_bibliography_labels_are_author_year_with_arxiv_links():
    from pybtex.database import parse_string

    from theorylab.book import sphinxext

    bib = parse_string("""
@article{a, author = {Saxe, Andrew and McClelland, James and Ganguli, Surya}, title = {T}, year = {2014},
  journal = {arXiv preprint arXiv:1312.6120}}
@article{b, author = {Cohen, Nadav and Razin, Noam}, title = {U}, year = {2024}, eprint = {2408.13767}}
@phdthesis{c, author = {Razin, Noam}, title = {V}, year = {2024}, school = {TAU}}
""", "bibtex")
    e = bib.entries
    assert [sphinxext.author_year(e[k]) for k in "abc"] == ["Saxe et al., 2014", "Cohen and Razin, 2024", "Razin, 2024"]
    assert [sphinxext.arxiv_id(e[k].fields) for k in "abc"] == ["1312.6120", "2408.13767", None]
