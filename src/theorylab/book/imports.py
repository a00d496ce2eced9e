"""Which ``theorylab`` modules a chapter runs: its import lines, followed through the package.

A chapter's cache key covers exactly these files (plus the package ``__init__`` files on the way),
so editing one science module re-runs only the chapters that import it, directly or through another
module. Imports are read with :mod:`ast` from the chapter's code cells and from each module (imports
inside functions count too); IPython magics are skipped.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
NAME = PACKAGE.name  # "theorylab"
_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w\s,()*]+)|import\s+([\w\s.,]+))", re.M)


def _file(module: str, package: Path = PACKAGE) -> Path | None:
    """``theorylab.x.y`` to its file (module or package), or None when it is not a module."""
    parts = module.split(".")
    if parts[0] != NAME:
        return None
    base = package.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported(tree: ast.AST, here: str | None, *, everything: bool = False) -> set[str]:
    """Dotted names a syntax tree imports; ``here`` is the importing module's package (relative imports);
    only ``theorylab`` names unless ``everything``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if here is None:
                    continue
                up = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    if everything:
        return {n for n in names if n}
    return {n for n in names if n == NAME or n.startswith(NAME + ".")}


def _from_text(code: str) -> set[str]:
    """Fallback for a cell that does not parse: its plain import lines."""
    names: set[str] = set()
    for m in _IMPORT_LINE.finditer(code):
        if m.group(1):
            names.add(m.group(1))
            names.update(f"{m.group(1)}.{a.strip(' ()')}" for a in m.group(2).split(",") if a.strip(" ()"))
        else:
            names.update(a.strip().split(" as ")[0].strip() for a in m.group(3).split(","))
    return {n for n in names if n == NAME or n.startswith(NAME + ".")}


def chapter_imports(cells: list[str]) -> set[str]:
    """The ``theorylab`` names imported by a chapter's code cells."""
    names: set[str] = set()
    for code in cells:
        clean = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.splitlines())
        try:
            names |= _imported(ast.parse(clean), None)
        except SyntaxError:
            names |= _from_text(clean)
    return names


def closure(names: set[str], package: Path = PACKAGE) -> list[Path]:
    """Every package file that importing ``names`` runs, sorted: modules, what they import, and the
    ``__init__.py`` of each package on the way."""
    seen: set[Path] = set()
    todo = sorted(names)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for k in range(1, len(parts) + 1):  # the packages above run first
            path = _file(".".join(parts[:k]), package)
            if path is None or path in seen:
                continue
            seen.add(path)
            rel = path.relative_to(package).with_suffix("")
            mod = ".".join([NAME, *rel.parts])
            if mod.endswith(".__init__"):
                mod = mod[: -len(".__init__")]
                here = mod
            else:
                here = mod.rsplit(".", 1)[0]
            try:
                tree = ast.parse(path.read_text(), str(path))
            except (SyntaxError, OSError, ValueError):
                continue  # the chapter will fail on it anyway; the file's bytes are still keyed
            todo.extend(sorted(_imported(tree, here)))
    return sorted(seen)


def libraries(cells: list[str], package: Path = PACKAGE) -> set[str]:
    """The top-level names of everything else a chapter imports: in its cells and in the ``theorylab``
    modules it runs (``numpy``, ``torch``, ...; what a warm kernel may import ahead of it)."""
    trees = []
    for code in cells:
        clean = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.splitlines())
        try:
            trees.append((ast.parse(clean), None))
        except SyntaxError:
            continue
    for path in closure(chapter_imports(cells), package):
        try:
            trees.append((ast.parse(path.read_text(), str(path)), None))
        except (SyntaxError, OSError, ValueError):
            continue
    names = set()
    for tree, here in trees:
        names |= {n.split(".")[0] for n in _imported(tree, here, everything=True)}
    return {n for n in names if n != NAME}
