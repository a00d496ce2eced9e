"""Assemble the book from executed chapters and build its HTML with Jupyter Book (no execution).

The book is staged in ``book/_build/stage``: the configuration, the ``book/`` pages, the executed
notebooks in place of their sources and a generated Reproducibility report page. Files are copied
only when their content changed, so Sphinx rebuilds only what changed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..claims import count_kinds, kind_counts_text
from . import calibrate as calibration
from .execute import BUILD, PACKAGE, REPORT, ROOT, chapters

STAGE = BUILD / "stage"
HTML = BUILD / "html"


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


def stage() -> Path:
    """Mirror the book's sources into the stage, with executed chapters and the report page."""
    wanted: set[Path] = set()
    for name in ("_config.yml", "_toc.yml"):
        _sync(ROOT / name, STAGE / name)
        wanted.add(STAGE / name)
    for src in (ROOT / "book").rglob("*"):
        rel = src.relative_to(ROOT)
        if src.is_file() and "_build" not in rel.parts:
            _sync(src, STAGE / rel)
            wanted.add(STAGE / rel)
    for chapter in chapters():
        dst = STAGE / "notebooks" / f"{chapter.slug}.ipynb"
        if chapter.executed.exists():
            _sync(chapter.executed, dst)
        else:  # never executed (e.g. --only another chapter): show the source, flagged in the report
            _write(dst, _unexecuted(chapter.source))
        wanted.add(dst)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {"chapters": []}
    _write(STAGE / "book" / "reproducibility.md", report_page(report))
    wanted.add(STAGE / "book" / "reproducibility.md")
    link = STAGE / "src"  # for {literalinclude} of ../src/theorylab/<module>.py
    if not link.exists():
        link.symlink_to(PACKAGE.parent, target_is_directory=True)
    for path in list(STAGE.rglob("*")):  # drop files whose source is gone
        if path.is_file() and not path.is_symlink() and path not in wanted and "src" not in path.relative_to(STAGE).parts[:1]:
            path.unlink()
    return STAGE


def _unexecuted(source: Path) -> str:
    import jupytext
    import nbformat

    nb = jupytext.read(source)
    return nbformat.writes(nb)


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


def build_html(*, strict: bool | None = None, echo=print) -> int:
    """Run Jupyter Book on the stage and return its exit code.

    Warnings are errors (``-W``) when ``strict``; by default, when every chapter has been executed.
    A partial book (``--only`` on a fresh checkout) is built leniently: its unexecuted chapters show
    their code without outputs, and their glued numbers are missing.
    """
    missing = [c.slug for c in chapters() if not c.executed.exists()]
    if strict is None:
        strict = not missing
        if missing:
            echo(f"  not executed yet: {', '.join(missing)}; building the HTML without -W "
                 "(run the build without --only for the checked book)")
    stage()
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(STAGE), "--path-output", str(BUILD.parent)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    log = proc.stdout + proc.stderr
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # no terminal colours in the log
    (BUILD / "html-build.log").write_text(log)
    warnings = [ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
    if strict:
        for ln in warnings[:40]:
            echo("  " + ln)
    elif warnings:
        echo(f"  {len(warnings)} warnings, from the chapters not executed yet (see {BUILD.name}/html-build.log)")
    return proc.returncode
