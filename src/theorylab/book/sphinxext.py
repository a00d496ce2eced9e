"""A small Sphinx extension for the book: self-contained pages, collapsible proofs, author-year references.

- Jupyter Book 1 always loads sphinx-thebe, whose inline script is emitted twice on some pages (a
  console error) and whose live-code button needs the network. The book runs offline and is
  executed at build time, so thebe's scripts are dropped from every page.
- Proofs (``{prf:proof}``) are collapsed until the reader opens them, as *How to use this book*
  says: they get the ``dropdown`` class that sphinx-togglebutton folds.
- The bibliography style ``theorylab`` labels every entry as the citations do (author-year:
  "Arora et al., 2019"), sorts by author and year, and links arXiv preprints: an ``eprint`` field,
  or an arXiv number found in ``journal``, ``note`` or ``url``, becomes a link to arxiv.org.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from docutils import nodes

ARXIV = re.compile(r"(?:arXiv:|arxiv\.org/(?:abs|pdf)/)\s*(\d{4}\.\d{4,5})(?:v\d+)?", re.IGNORECASE)


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


def _collapse_proofs(app, doctree) -> None:
    """Fold every proof behind its title "Proof" (sphinx-togglebutton folds ``dropdown`` admonitions).

    sphinx-proof writes a proof as an admonition whose first paragraph starts with "Proof. " and
    gives every proof the same id. The title becomes a real admonition title (the toggle's handle),
    and each proof gets its own id, so each one opens on its own.
    """
    n = 0
    for node in list(doctree.findall(nodes.admonition)):
        classes = node.get("classes", [])
        if "proof" not in classes or node.get("ids", [None])[:1] != ["proof"]:
            continue
        n += 1
        node["ids"] = [f"proof-{n}"]
        if "dropdown" not in classes:
            classes.append("dropdown")
        first = node.next_node(nodes.paragraph)
        text = first.next_node(nodes.Text) if first is not None else None
        if text is not None and str(text).startswith("Proof. "):
            text.parent.replace(text, nodes.Text(str(text)[len("Proof. "):]))
        if not isinstance(node.children[0] if node.children else None, nodes.title):
            node.insert(0, nodes.title("", "Proof"))


def arxiv_id(fields: Any) -> str | None:
    """The arXiv number of a bibliography entry (``eprint``, or one written in journal, note or url)."""
    eprint = fields.get("eprint")
    if eprint:
        return str(eprint).strip()
    for key in ("journal", "note", "url", "howpublished", "archiveprefix"):
        m = ARXIV.search(str(fields.get(key, "")))
        if m:
            return m.group(1)
    return None


def _last_name(person: Any) -> str:
    text = " ".join(person.prelast_names + person.last_names) or " ".join(person.first_names)
    text = re.sub(r"[{}\\]", "", text)
    return unicodedata.normalize("NFC", text)


def author_year(entry: Any) -> str:
    """``"Saxe et al., 2014"``, ``"Cohen and Razin, 2024"`` or ``"Razin, 2024"``: the citation's label."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(p) for p in people]
    if not names:
        who = re.sub(r"[{}]", "", entry.fields.get("key", entry.key))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def _register_bibliography_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting import BaseSortingStyle

    class SortingStyle(BaseSortingStyle):  # in label order: Dohmatob et al., 2024a, 2024b, 2025
        def sorting_key(self, entry):
            return (author_year(entry).rsplit(", ", 1)[0].lower(), str(entry.fields.get("year", "")),
                    str(entry.fields.get("title", "")).lower())

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = [author_year(e) for e in sorted_entries]
            seen: dict[str, int] = {}
            for label in labels:
                seen[label] = seen.get(label, 0) + 1
            count: dict[str, int] = {}
            for label in labels:
                if seen[label] > 1:  # two papers by the same authors in one year: 2019a, 2019b
                    count[label] = count.get(label, 0) + 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[count[label] - 1]
                else:
                    yield label

    class TheorylabStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = SortingStyle

        def format_entry(self, label, entry, bib_data=None):
            number = arxiv_id(entry.fields)
            if number and "eprint" not in entry.fields:
                entry.fields["eprint"] = number
            return super().format_entry(label, entry, bib_data=bib_data)

    register_plugin("pybtex.style.labels", "theorylab_author_year", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "theorylab", TheorylabStyle, force=True)


def setup(app) -> dict[str, Any]:
    _register_bibliography_style()
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("doctree-read", _collapse_proofs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
