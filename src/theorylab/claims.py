"""Claims are code: a chapter records what it predicts, with the measured value and the tolerance.

A chapter keeps one :class:`Ledger`. Recording a claim never raises (a malformed claim is recorded
as failed, with the reason); every measured value is glued so that the prose can quote it
(``{glue:text}`name:.3f```). The chapter's last cell calls :meth:`Ledger.check`, which shows the
table, emits the claims as ``application/vnd.theorylab.claims+json`` for the build to collect, and
raises one :class:`ClaimsFailed` that lists every failed claim with its numbers.

Every claim says what kind of evidence it is (``kind=``):

- ``"prediction"``: the theory predicts the measured value of an experiment (the evidence);
- ``"identity"``: the same quantity computed by a second route (brute force against the fast
  algorithm, a closed form against an exact enumeration): it checks the code, not the theory;
- ``"construction"``: a property that holds by construction of the experiment (a sanity check).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

MIME = "application/vnd.theorylab.claims+json"
KINDS = ("prediction", "identity", "construction")
OPS = ("close", "at_least", "at_most", "between")


class ClaimsFailed(AssertionError):
    """Raised by :meth:`Ledger.check` when at least one claim failed."""


@dataclass(frozen=True)
class Claim:
    """One checked statement: ``measured`` against ``expected`` (op ``close``) or bounds.

    ``op`` is the comparison; ``kind`` the kind of evidence (one of :data:`KINDS`).
    """

    name: str
    op: str
    measured: float | None
    expected: float | None
    low: float | None
    high: float | None
    rtol: float
    atol: float
    why: str
    passed: bool
    problem: str = ""
    kind: str = ""

    @property
    def target(self) -> str:
        """The expected value or the bounds, as the report shows them."""
        if self.op == "close":
            tol = []
            if self.atol:
                tol.append(f"{self.atol:.3g}")
            if self.rtol:
                tol.append(f"{100 * self.rtol:.3g}%")
            return f"{_fmt(self.expected)} \u00b1 {' + '.join(tol) or '0'}"
        if self.op == "at_least":
            return f"\u2265 {_fmt(self.low)}"
        if self.op == "at_most":
            return f"\u2264 {_fmt(self.high)}"
        return f"in [{_fmt(self.low)}, {_fmt(self.high)}]"

    def describe(self) -> str:
        """One line with the claim's numbers, used in failure messages."""
        text = f"{self.name}{f' ({self.kind})' if self.kind else ''}: measured {_fmt(self.measured)}, expected {self.target} ({self.why})"
        return text + (f" [{self.problem}]" if self.problem else "")


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _number(value: Any) -> float | None:
    """A finite or infinite float from a Python/numpy/torch scalar; None when it is not a number."""
    try:
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, str):
            return None
        return float(value)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _glue(name: str, value: Any) -> None:
    """Glue ``value`` under ``name`` when running inside a notebook kernel; a no-op elsewhere.

    Outside the book's build (a reader running the notebook in Jupyter, where the prose's
    ``{glue:text}`` placeholders are not filled in) the value is also printed where it is recorded.
    """
    try:
        from IPython import get_ipython

        if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
            return
        from myst_nb import glue
    except ImportError:
        return
    glue(name, value, display=False)
    from .runtime import quiet

    if not quiet():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name} = {shown}")


class Ledger:
    """The claims of one chapter, in the order they were recorded."""

    def __init__(self, chapter: str):
        self.chapter = str(chapter)
        self.claims: list[Claim] = []
        self.shown: dict[str, float] = {}

    # -- recording -------------------------------------------------------------------------
    def close(self, name: str, measured: Any, expected: Any, *, rtol: float = 0.0, atol: float = 0.0,
              why: str = "", kind: str = "") -> None:
        """|measured - expected| <= atol + rtol * |expected|."""
        self._record(name, "close", measured, expected=expected, rtol=rtol, atol=atol, why=why, kind=kind)

    def at_least(self, name: str, measured: Any, bound: Any, *, why: str = "", kind: str = "") -> None:
        """measured >= bound."""
        self._record(name, "at_least", measured, low=bound, why=why, kind=kind)

    def at_most(self, name: str, measured: Any, bound: Any, *, why: str = "", kind: str = "") -> None:
        """measured <= bound."""
        self._record(name, "at_most", measured, high=bound, why=why, kind=kind)

    def between(self, name: str, measured: Any, low: Any, high: Any, *, why: str = "", kind: str = "") -> None:
        """low <= measured <= high."""
        self._record(name, "between", measured, low=low, high=high, why=why, kind=kind)

    def show(self, name: str, value: Any) -> None:
        """Glue a number that the prose quotes but that is not a claim (a runtime, a size)."""
        number = _number(value)
        if number is not None and float(number).is_integer() and isinstance(_plain(value), int):
            number = int(number)
        value = value if number is None else number  # numpy/torch scalars glue as plain numbers
        self.shown[str(name)] = value
        _glue(str(name), value)

    def _record(self, name: Any, op: str, measured: Any, *, expected: Any = None, low: Any = None,
                high: Any = None, rtol: Any = 0.0, atol: Any = 0.0, why: Any = "", kind: Any = "") -> Claim:
        name, why, kind = str(name), str(why).strip(), str(kind or "")
        m, e, lo, hi = (_number(v) for v in (measured, expected, low, high))
        rt, at = _number(rtol), _number(atol)
        problems = []
        if m is None or math.isnan(m):
            problems.append(f"measured value {measured!r} is not a number")
        if op == "close" and e is None:
            problems.append(f"expected value {expected!r} is not a number")
        if op in ("at_least", "between") and lo is None:
            problems.append(f"lower bound {low!r} is not a number")
        if op in ("at_most", "between") and hi is None:
            problems.append(f"upper bound {high!r} is not a number")
        if rt is None or at is None or rt < 0 or at < 0:
            problems.append("tolerances must be numbers >= 0")
            rt, at = rt if rt and rt > 0 else 0.0, at if at and at > 0 else 0.0
        if not why:
            problems.append("no reason given for the tolerance (why=...)")
        if kind and kind not in KINDS:
            problems.append(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
        if any(c.name == name for c in self.claims):
            problems.append("a claim with this name was already recorded")
        passed = not problems and _holds(op, m, e, lo, hi, rt, at)
        claim = Claim(name=name, op=op, kind=kind, measured=m, expected=e, low=lo, high=hi, rtol=rt, atol=at,
                      why=why, passed=bool(passed), problem="; ".join(problems))
        self.claims.append(claim)
        if m is not None:
            _glue(name, m)
        return claim

    # -- reporting -------------------------------------------------------------------------
    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if not c.passed]

    def records(self) -> list[dict[str, Any]]:
        """The claims as JSON-ready dictionaries (infinite values as strings)."""
        out = []
        for c in self.claims:
            row = asdict(c)
            for key, value in row.items():
                if isinstance(value, float) and not math.isfinite(value):
                    row[key] = str(value)
            row["target"] = c.target
            out.append(row)
        return out

    def to_html(self) -> str:
        rows = "".join(
            f"<tr class='{'pass' if c.passed else 'fail'}'><td><code>{html.escape(c.name)}</code></td>"
            f"<td>{html.escape(c.kind or '?')}</td><td>{_fmt(c.measured)}</td><td>{html.escape(c.target)}</td>"
            f"<td>{'✔' if c.passed else '✘ ' + html.escape(c.problem)}</td><td>{html.escape(c.why)}</td></tr>"
            for c in self.claims)
        n_pass = len(self.claims) - len(self.failed)
        return (f"<table class='theorylab-claims'><caption>{n_pass} of {len(self.claims)} claims hold "
                f"({html.escape(self.kind_counts_text())})</caption><thead><tr><th>claim</th><th>kind</th><th>measured</th><th>expected</th><th>holds</th>"
                f"<th>why this tolerance</th></tr></thead><tbody>{rows}</tbody></table>")

    def kind_counts(self) -> dict[str, int]:
        """How many claims of each kind (``"unstated"`` for claims recorded without one)."""
        return count_kinds(self.claims)

    def kind_counts_text(self) -> str:
        return kind_counts_text(self.kind_counts())

    def to_text(self) -> str:
        lines = [f"{len(self.claims) - len(self.failed)} of {len(self.claims)} claims hold ({self.kind_counts_text()})"]
        lines += [("PASS " if c.passed else "FAIL ") + c.describe() for c in self.claims]
        return "\n".join(lines)

    def check(self) -> None:
        """Show the claims, emit them for the build, and raise if any failed."""
        payload = {"chapter": self.chapter, "claims": self.records()}
        try:
            from IPython.display import display

            display({"text/html": self.to_html(), "text/plain": self.to_text(),
                     MIME: json.loads(json.dumps(payload))}, raw=True)
        except ImportError:  # pragma: no cover - IPython ships with the kernel
            print(self.to_text())
        if not self.claims:
            raise ClaimsFailed(f"{self.chapter}: no claims were recorded")
        if self.failed:
            details = "\n".join("  - " + c.describe() for c in self.failed)
            raise ClaimsFailed(f"{self.chapter}: {len(self.failed)} of {len(self.claims)} claims failed:\n{details}")


def slack(c: Claim | dict[str, Any]) -> float | None:
    """How far the measured value is inside its bound (negative: outside), in the claim's units.

    ``close``: tolerance minus distance; ``at_least``: measured - bound; ``at_most``: bound -
    measured; ``between``: the distance to the nearer bound. The calibration divides it by the
    seed-to-seed spread to give a claim's margin in standard deviations.
    """
    get = (lambda k: c.get(k)) if isinstance(c, dict) else (lambda k: getattr(c, k))
    vals = {k: _number(get(k)) for k in ("measured", "expected", "low", "high", "rtol", "atol")}
    m = vals["measured"]
    if m is None or math.isnan(m):
        return None
    op = get("op")
    try:
        if op == "close":
            return (vals["atol"] or 0.0) + (vals["rtol"] or 0.0) * abs(vals["expected"]) - abs(m - vals["expected"])
        if op == "at_least":
            return m - vals["low"]
        if op == "at_most":
            return vals["high"] - m
        return min(m - vals["low"], vals["high"] - m)
    except TypeError:
        return None


def count_kinds(claims: list[Claim] | list[dict[str, Any]]) -> dict[str, int]:
    """Claims per kind, in the order of :data:`KINDS` (then ``"unstated"``), zeros omitted."""
    counts = {k: 0 for k in (*KINDS, "unstated")}
    for c in claims:
        kind = c.get("kind") if isinstance(c, dict) else c.kind
        counts[kind if kind in KINDS else "unstated"] += 1
    return {k: v for k, v in counts.items() if v}


def kind_counts_text(counts: dict[str, int]) -> str:
    """``"9 predictions, 3 identities, 2 by construction"``."""
    words = {"prediction": ("prediction", "predictions"), "identity": ("identity", "identities"),
             "construction": ("by construction", "by construction"), "unstated": ("of unstated kind",) * 2}
    return ", ".join(f"{n} {words[k][n != 1]}" for k, n in counts.items()) or "no claims"


def _holds(op: str, m: float, e: float | None, lo: float | None, hi: float | None,
           rtol: float, atol: float) -> bool:
    if op == "close":
        return abs(m - e) <= (atol + rtol * abs(e)) * (1 + 1e-12)  # up to float rounding
    if op == "at_least":
        return m >= lo
    if op == "at_most":
        return m <= hi
    return lo <= m <= hi
