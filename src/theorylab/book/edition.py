"""Editions of the book: the full book, and a student edition with the solutions removed.

The student edition is built from the same executed chapters. Every ``{solution}`` directive (a
fenced block, with ``:::`` or backticks, with everything nested in it) and every gated
``{solution-start}`` ... ``{solution-end}`` region is cut out of the chapters' markdown before the
site is built, so the solutions are not in its HTML, its search index, its page sources or its
downloadable notebooks: they are removed, not hidden. Exercises keep their self-checks
(:mod:`theorylab.exercises`), whose answers are stored only as salted hashes.
"""

from __future__ import annotations

import re
from typing import Any

EDITIONS = ("full", "student")

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>:{3,}|`{3,}|~{3,})\s*\{(?P<name>[A-Za-z0-9:_-]+)\}")


def _closes(line: str, fence: str) -> bool:
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def strip_solutions(text: str) -> str:
    """``text`` (MyST markdown) without its solution blocks."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m and m["name"] in ("solution", "solution-start"):
            gated = m["name"] == "solution-start"
            fence = m["fence"]
            j = i + 1
            depth = 0
            while j < len(lines):
                inner = _OPEN.match(lines[j])
                if not gated and inner and inner["fence"][0] == fence[0] and len(inner["fence"]) >= len(fence):
                    depth += 1  # a nested block written with the same kind of fence
                elif _closes(lines[j], fence):
                    if gated or depth == 0:
                        break
                    depth -= 1
                j += 1
            if gated:  # skip on to the matching {solution-end} block and past its fence
                while j < len(lines) and not (_OPEN.match(lines[j]) and _OPEN.match(lines[j])["name"] == "solution-end"):
                    j += 1
                end = _OPEN.match(lines[j]) if j < len(lines) else None
                j += 1
                while end is not None and j < len(lines) and not _closes(lines[j], end["fence"]):
                    j += 1
            i = j + 1
            while out and not out[-1].strip() and i < len(lines) and not lines[i].strip():
                i += 1  # do not leave two blank lines where the block was
            continue
        out.append(lines[i])
        i += 1
    return "".join(out)


def has_solution(text: str) -> bool:
    """Whether ``text`` still holds a solution directive."""
    return any((m := _OPEN.match(ln)) and m["name"].startswith("solution") for ln in text.splitlines())


def strip_notebook(nb: Any) -> Any:
    """The notebook ``nb`` (nbformat) with solution blocks cut from its markdown cells, in place.

    Code cells tagged ``solution`` (or ``remove-solution``) are dropped; a markdown cell left empty
    is dropped too.
    """
    cells = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and ({"solution", "remove-solution"} & set(tags)):
            continue
        if cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source)
            if not cell.source.strip():
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


def solution_texts(text: str) -> list[str]:
    """The distinctive lines inside the solutions of ``text`` (for tests: none may survive in an edition)."""
    kept = set(strip_solutions(text).splitlines())
    return [ln.strip() for ln in text.splitlines()
            if ln not in kept and len(ln.strip()) >= 30 and not _OPEN.match(ln) and not ln.strip().startswith(":")]
