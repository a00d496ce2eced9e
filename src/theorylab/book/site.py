"""Assemble the book from executed chapters and build its HTML with Jupyter Book (no execution).

The book is staged in ``book/_build/stage``: the configuration, the ``book/`` pages, the executed
notebooks in place of their sources and a generated Reproducibility report page. Files are copied
only when their content changed, so Sphinx rebuilds only what changed.

Each staged chapter is made ready to download and run: papermill's injected cell is removed (the
values it injected are written into the parameters cell instead, so the page shows what ran and a
downloaded copy runs what its parameters cell says), and a short "Run this chapter yourself" note
before the parameters cell links the chapter's source notebook (``.ipynb``, no outputs), its MyST
source (``.md``) and the runnable book (``theorylab-book.zip``: chapters, package, requirements,
``make.py``), all served by the site.

The student edition (``edition="student"``, see :mod:`.edition`) is staged and built the same way
into ``book/_build/student`` with every solution cut out, and its notebooks are written to
``book/_build/student/notebooks``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from ..claims import count_kinds, kind_counts_text
from . import calibrate as calibration
from .edition import EDITIONS, strip_notebook, strip_solutions
from .execute import BUILD, PACKAGE, REPORT, ROOT, Chapter, chapters

STAGE = BUILD / "stage"
HTML = BUILD / "html"
DOWNLOADS = "downloads"  # in the stage (and the site): <slug>.ipynb, <slug>.md and the archive
ARCHIVE = "theorylab-book.zip"
_SKIP = {".git", ".venv", "_build", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".whl", ".gl"}


def stage_dir(edition: str = "full") -> Path:
    """Where an edition is staged."""
    return STAGE if edition == "full" else BUILD / edition / "stage"


def html_dir(edition: str = "full") -> Path:
    """Where an edition's site is built."""
    return HTML if edition == "full" else BUILD / edition / "html"


def _sync(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` unless ``dst`` already holds the same bytes (keeps mtimes stable)."""
    data = src.read_bytes()
    if dst.exists() and dst.read_bytes() == data:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)


def _write(dst: Path, text: str) -> None:
    if dst.exists() and dst.read_text() == text:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text)


def _write_bytes(dst: Path, data: bytes) -> None:
    if dst.exists() and dst.read_bytes() == data:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)


def stage(edition: str = "full") -> Path:
    """Mirror the book's sources into the stage, with executed chapters, downloads and the report page."""
    import nbformat

    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(map(repr, EDITIONS))}; got {edition!r}")
    student = edition == "student"
    where = stage_dir(edition)
    wanted: set[Path] = set()

    def put(rel: str | Path, data: str | bytes) -> None:
        dst = where / rel
        _write_bytes(dst, data.encode() if isinstance(data, str) else data)
        wanted.add(dst)

    for name in ("_config.yml", "_toc.yml"):
        put(name, (ROOT / name).read_bytes())
    for src in (ROOT / "book").rglob("*"):
        rel = src.relative_to(ROOT)
        if src.is_file() and "_build" not in rel.parts:
            data = src.read_bytes()
            if student and src.suffix == ".md":
                data = strip_solutions(data.decode()).encode()
            put(rel, data)
    for chapter in chapters():
        if chapter.executed.exists():
            nb = nbformat.read(chapter.executed, as_version=4)
        else:  # never executed (e.g. --only another chapter): show the source, flagged in the report
            nb = _source_notebook(chapter)
        nb = ready_to_run(nb, chapter.slug)
        if student:
            nb = strip_notebook(nb)
        put(Path("notebooks") / f"{chapter.slug}.ipynb", nbformat.writes(nb))
        source_nb, source_md = chapter_downloads(chapter, student=student)
        put(Path(DOWNLOADS) / f"{chapter.slug}.ipynb", source_nb)
        put(Path(DOWNLOADS) / f"{chapter.slug}.md", source_md)
        if student:  # the student's notebooks, outside the site too
            _write(BUILD / edition / "notebooks" / f"{chapter.slug}.ipynb", source_nb)
            _write(BUILD / edition / "notebooks" / f"{chapter.slug}.md", source_md)
    put(Path(DOWNLOADS) / ARCHIVE, archive(student=student))
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {"chapters": []}
    put(Path("book") / "reproducibility.md", report_page(report))
    link = where / "src"  # for {literalinclude} of ../src/theorylab/<module>.py
    if not link.exists():
        link.symlink_to(PACKAGE.parent, target_is_directory=True)
    for path in list(where.rglob("*")):  # drop files whose source is gone
        if path.is_file() and not path.is_symlink() and path not in wanted and "src" not in path.relative_to(where).parts[:1]:
            path.unlink()
    return where


def _source_notebook(chapter: Chapter):
    import jupytext

    nb = jupytext.read(chapter.source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return _stable_ids(nb, chapter.slug)


def _unexecuted(source: Path) -> str:
    import nbformat

    return nbformat.writes(_source_notebook(Chapter(source.stem, source)))


_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?P<eq>\s*=\s*)(?P<value>.*?)(?P<comment>\s*#.*)?$")


def merge_parameters(parameters: str, injected: str) -> str:
    """The parameters cell ``parameters`` with the values papermill injected written in, comments kept."""
    values = {}
    for ln in injected.splitlines():
        m = _ASSIGN.match(ln.strip())
        if m:
            values[m["name"]] = m["value"].strip()
    out = []
    for ln in parameters.splitlines():
        m = _ASSIGN.match(ln)
        if m and m["name"] in values and values[m["name"]] != m["value"].strip():
            ln = f"{m['name']}{m['eq']}{values[m['name']]}{m['comment'] or ''}"
        out.append(ln)
    return "\n".join(out)


def run_note(slug: str) -> str:
    """The "Run this chapter yourself" note placed before a chapter's parameters cell."""
    d = f"/{DOWNLOADS}"
    return (":::{admonition} Run this chapter yourself\n:class: note run-this-chapter\n\n"
            f"Download this chapter as a notebook, {{download}}`{slug}.ipynb <{d}/{slug}.ipynb>`, or as MyST "
            f"markdown, {{download}}`{slug}.md <{d}/{slug}.md>`. It imports the book's package `theorylab`, "
            f"which comes with {{download}}`the runnable book <{d}/{ARCHIVE}>` (every chapter, the package, "
            "the pinned requirements and `make.py`): unzip it and run `python3 make.py lab` (Python 3.11; "
            f"it sets everything up and opens JupyterLab), then open `notebooks/{slug}.md`. "
            "Change `seed`, `profile` or `device` in the next cell and run all cells; "
            "see {ref}`how-to-use` for more.\n:::")


def ready_to_run(nb: Any, slug: str) -> Any:
    """A staged chapter: no injected cell (its values go into the parameters cell) and a note on running it."""
    import nbformat

    papermill = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):  # papermill stores the whole input notebook there
        papermill.pop(key, None)
    injected = [c for c in nb.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    nb.cells = [c for c in nb.cells if c not in injected]
    params = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if params is not None:
        for cell in injected:
            nb.cells[params].source = merge_parameters(nb.cells[params].source, cell.source)
    note = nbformat.v4.new_markdown_cell(run_note(slug))
    note.metadata["tags"] = ["run-this-chapter"]
    note["id"] = "run-this-chapter"
    nb.cells.insert(params if params is not None else min(1, len(nb.cells)), note)
    return nb


def chapter_downloads(chapter: Chapter, *, student: bool = False) -> tuple[str, str]:
    """A chapter's source as a notebook without outputs (``.ipynb`` text) and as MyST markdown."""
    import jupytext
    import nbformat

    text = chapter.source.read_text()
    if student:
        text = strip_solutions(text)
    nb = jupytext.reads(text, fmt="md:myst")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    _stable_ids(nb, chapter.slug)
    return nbformat.writes(nb), text


def _stable_ids(nb: Any, slug: str) -> Any:
    """Give cells without an id a stable one, so a file is the same bytes from build to build."""
    for i, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = f"{slug[:48]}-{i}"
    return nb


def archive_files(root: Path = ROOT) -> list[Path]:
    """The files of the runnable book: what git tracks (or, outside git, the checkout minus build outputs)."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                             capture_output=True, check=True).stdout.decode()
        files = [root / f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in root.rglob("*") if p.is_file()]
    keep = [p for p in files if p.is_file() and not (_SKIP & set(p.relative_to(root).parts))
            and not p.is_symlink()]
    return sorted(keep)


def archive(*, student: bool = False, root: Path = ROOT) -> bytes:
    """The runnable book as a zip (under ``theorylab/``); the student edition's has no solutions."""
    import jupytext
    import nbformat

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in archive_files(root):
            rel = path.relative_to(root).as_posix()
            data = path.read_bytes()
            if student and rel.startswith("notebooks/") and path.suffix == ".md":
                data = strip_solutions(data.decode()).encode()
            elif student and rel.startswith("notebooks/") and path.suffix == ".ipynb" and path.with_suffix(".md").exists():
                nb = jupytext.reads(strip_solutions(path.with_suffix(".md").read_text()), fmt="md:myst")
                data = nbformat.writes(_stable_ids(nb, path.stem)).encode()
            info = zipfile.ZipInfo(f"theorylab/{rel}", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def _cell(value: Any, digits: str = ".4g") -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return format(value, digits)
    return str(value).replace("|", "\\|")


def _calibration_cell(c: dict[str, Any] | None) -> str:
    if not c:
        return "—"
    margin = c.get("margin_sd")
    if margin in ("inf", float("inf")):
        text = "exact"
    elif margin is None:
        text = "—"
    else:
        text = f"{float(margin):.1f} SD"
    return f"{c['passed']}/{c['seeds']}, {text}"


def report_page(report: dict[str, Any]) -> str:
    """The Reproducibility report as MyST markdown, from ``reproducibility.json``."""
    lines = ["(reproducibility-report)=", "# Reproducibility report", "",
             "Every chapter of this book was executed to build this page. This report says where, with "
             "which parameters, how long each chapter took and whether every checked claim held. "
             "It is generated from `book/_build/reproducibility.json` by the build.", ""]
    if not report.get("chapters"):
        return "\n".join(lines + ["No chapter has been executed yet.", ""])
    lines += [f"- Built from commit `{report.get('commit', '?')}` on {report.get('generated', '?')} (UTC).",
              f"- Python {report.get('python', '?')}, torch {report.get('torch', '?')}, "
              f"{report.get('cpu_count', '?')} CPU cores, `{report.get('platform', '?')}`.", "",
              "A chapter whose inputs (its source, the package, the pinned requirements and the parameters) "
              "did not change since it last passed is not executed again; its row then shows that earlier run.", "",
              "| chapter | status | profile | device | seed | time (s) | peak memory (MB) | claims held | executed (UTC) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in report["chapters"]:
        claims = r.get("claims", [])
        held = sum(c["passed"] for c in claims)
        status = r.get("status", "?") if r.get("status") == "passed" else f"**{r.get('status', '?')}**"
        when = str(r.get("started", "—")).replace("T", " ").replace("+00:00", "")
        lines.append(f"| {{ref}}`ch-{r['slug']}` | {status} | {r.get('profile')} | {r.get('device')} | "
                     f"{r.get('seed')} | {_cell(r.get('wall_s'), '.1f')} | {_cell(r.get('peak_mem_mb'), '.0f')} | "
                     f"{held} / {len(claims)} | {when} |")
    for r in report["chapters"]:
        lines += ["", f"## {r['slug']}", "",
                  f"{{ref}}`ch-{r['slug']}`: commit `{r.get('commit', '?')}`, torch {r.get('torch', '?')}, "
                  f"Python {r.get('python', '?')}.", ""]
        if r.get("error"):
            err = r["error"]
            lines += [f"**Failed** in cell {err.get('cell')}: `{err.get('ename')}`", "", "```text",
                      str(err.get("evalue", "")).strip(), "```", ""]
        claims = r.get("claims", [])
        if not claims:
            lines.append("No claims were collected.")
            continue
        cal = calibration.load(r["slug"]) or {}
        cal_by_name = {c["name"]: c for c in cal.get("claims", [])}
        lines.append(f"Claims: {kind_counts_text(count_kinds(claims))}.")
        if cal:
            lines.append(f"Calibrated on {len(cal.get('seeds', []))} seeds ({cal.get('profile')} profile, "
                         f"commit `{cal.get('commit', '?')}`, {cal.get('date', '?')}): per claim, the seeds where it "
                         "held and its margin, the mean distance inside its bound in standard deviations over seeds.")
        else:
            lines.append("Not calibrated over seeds yet.")
        lines += ["", "| claim | kind | measured | expected | holds | calibration | why this tolerance |",
                  "|---|---|---|---|---|---|---|"]
        for c in claims:
            lines.append(f"| `{c['name']}` | {c.get('kind') or 'unstated'} | {_cell(c.get('measured'))} | "
                         f"{_cell(c.get('target'))} | {'yes' if c['passed'] else '**no**'} | "
                         f"{_calibration_cell(cal_by_name.get(c['name']))} | {_cell(c.get('why'))} |")
    return "\n".join(lines) + "\n"


def build_html(*, strict: bool | None = None, echo=print, edition: str = "full") -> int:
    """Run Jupyter Book on the stage and return its exit code.

    Warnings are errors (``-W``) when ``strict``; by default, when every chapter has been executed.
    A partial book (``--only`` on a fresh checkout) is built leniently: its unexecuted chapters show
    their code without outputs, and their glued numbers are missing.
    """
    return start_html(strict=strict, echo=echo, edition=edition)()


def start_html(*, strict: bool | None = None, echo=print, edition: str = "full"):
    """Stage an edition and start Jupyter Book on it in the background; returns a function that waits
    for it, writes its log and returns the exit code (as :func:`build_html`). Two editions have
    separate stages and outputs, so they can be built at once (Sphinx uses one core each)."""
    missing = [c.slug for c in chapters() if not c.executed.exists()]
    if strict is None:
        strict = not missing
        if missing:
            echo(f"  not executed yet: {', '.join(missing)}; building the HTML without -W "
                 "(run the build without --only for the checked book)")
    where = stage(edition)
    # jupyter-book writes to <path-output>/_build/html: book/_build/html for the full edition,
    # book/_build/<edition>/_build/html (linked as book/_build/<edition>/html) for the others
    output = BUILD.parent if edition == "full" else BUILD / edition
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(where), "--path-output", str(output)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    log_path = (output if edition != "full" else BUILD).joinpath("html-build.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as sink:  # a file, not a pipe: a build in the background never blocks on it
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env)

    def finish() -> int:
        proc.wait()
        log = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace"))  # no terminal colours
        if edition != "full":
            link = html_dir(edition)
            if not link.exists():
                link.symlink_to(Path("_build") / "html", target_is_directory=True)
        log_path.write_text(log)
        warnings = [ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
        if strict:
            for ln in warnings[:40]:
                echo("  " + ln)
        elif warnings:
            echo(f"  {len(warnings)} warnings, from the chapters not executed yet (see {BUILD.name}/html-build.log)")
        return proc.returncode

    return finish
