"""A small Sphinx extension for the book: keep every page self-contained.

Jupyter Book 1 always loads sphinx-thebe, whose inline script is emitted twice on some pages (a
console error) and whose live-code button needs the network. The book runs offline and is executed
at build time, so thebe's scripts are dropped from every page.
"""

from __future__ import annotations

from typing import Any


def _drop_thebe(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    keep = []
    for script in scripts:
        filename = getattr(script, "filename", None) or str(script)
        body = getattr(script, "attributes", {}).get("body", "") if hasattr(script, "attributes") else ""
        if "thebe" in (filename or "").lower() or "THEBE_JS_URL" in (body or ""):
            continue
        keep.append(script)
    context["script_files"] = keep


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
