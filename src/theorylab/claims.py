"""Claims are code: a chapter records what it predicts, with the measured value and the tolerance.

A chapter keeps one :class:`Ledger`. Recording a claim never raises (a malformed claim is recorded
as failed, with the reason); every measured value is glued so that the prose can quote it
(``{glue:text}`name:.3f```). The chapter's last cell calls :meth:`Ledger.check`, which shows the
table, emits the claims as ``application/vnd.theorylab.claims+json`` for the build to collect, and
raises one :class:`ClaimsFailed` that lists every failed claim with its numbers.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

MIME = "application/vnd.theorylab.claims+json"


class ClaimsFailed(AssertionError):
    """Raised by :meth:`Ledger.check` when at least one claim failed."""


@dataclass(frozen=True)
class Claim:
    """One checked statement: ``measured`` against ``expected`` (kind ``close``) or bounds."""

    name: str
    kind: str
    measured: float | None
    expected: float | None
    low: float | None
    high: float | None
    rtol: float
    atol: float
    why: str
    passed: bool
    problem: str = ""

    @property
    def target(self) -> str:
        """The expected value or the bounds, as the report shows them."""
        if self.kind == "close":
            tol = []
            if self.atol:
                tol.append(f"{self.atol:.3g}")
            if self.rtol:
                tol.append(f"{100 * self.rtol:.3g}%")
            return f"{_fmt(self.expected)} \u00b1 {' + '.join(tol) or '0'}"
        if self.kind == "at_least":
            return f"\u2265 {_fmt(self.low)}"
        if self.kind == "at_most":
            return f"\u2264 {_fmt(self.high)}"
        return f"in [{_fmt(self.low)}, {_fmt(self.high)}]"

    def describe(self) -> str:
        """One line with the claim's numbers, used in failure messages."""
        text = f"{self.name}: measured {_fmt(self.measured)}, expected {self.target} ({self.why})"
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
    """Glue ``value`` under ``name`` when running inside a notebook kernel; a no-op elsewhere."""
    try:
        from IPython import get_ipython

        if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
            return
        from myst_nb import glue
    except ImportError:
        return
    glue(name, value, display=False)


class Ledger:
    """The claims of one chapter, in the order they were recorded."""

    def __init__(self, chapter: str):
        self.chapter = str(chapter)
        self.claims: list[Claim] = []
        self.shown: dict[str, float] = {}

    # -- recording -------------------------------------------------------------------------
    def close(self, name: str, measured: Any, expected: Any, *, rtol: float = 0.0, atol: float = 0.0,
              why: str = "") -> None:
        """|measured - expected| <= atol + rtol * |expected|."""
        self._record(name, "close", measured, expected=expected, rtol=rtol, atol=atol, why=why)

    def at_least(self, name: str, measured: Any, bound: Any, *, why: str = "") -> None:
        """measured >= bound."""
        self._record(name, "at_least", measured, low=bound, why=why)

    def at_most(self, name: str, measured: Any, bound: Any, *, why: str = "") -> None:
        """measured <= bound."""
        self._record(name, "at_most", measured, high=bound, why=why)

    def between(self, name: str, measured: Any, low: Any, high: Any, *, why: str = "") -> None:
        """low <= measured <= high."""
        self._record(name, "between", measured, low=low, high=high, why=why)

    def show(self, name: str, value: Any) -> None:
        """Glue a number that the prose quotes but that is not a claim (a runtime, a size)."""
        number = _number(value)
        if number is not None and float(number).is_integer() and isinstance(_plain(value), int):
            number = int(number)
        value = value if number is None else number  # numpy/torch scalars glue as plain numbers
        self.shown[str(name)] = value
        _glue(str(name), value)

    def _record(self, name: Any, kind: str, measured: Any, *, expected: Any = None, low: Any = None,
                high: Any = None, rtol: Any = 0.0, atol: Any = 0.0, why: Any = "") -> Claim:
        name, why = str(name), str(why).strip()
        m, e, lo, hi = (_number(v) for v in (measured, expected, low, high))
        rt, at = _number(rtol), _number(atol)
        problems = []
        if m is None or math.isnan(m):
            problems.append(f"measured value {measured!r} is not a number")
        if kind == "close" and e is None:
            problems.append(f"expected value {expected!r} is not a number")
        if kind in ("at_least", "between") and lo is None:
            problems.append(f"lower bound {low!r} is not a number")
        if kind in ("at_most", "between") and hi is None:
            problems.append(f"upper bound {high!r} is not a number")
        if rt is None or at is None or rt < 0 or at < 0:
            problems.append("tolerances must be numbers >= 0")
            rt, at = rt if rt and rt > 0 else 0.0, at if at and at > 0 else 0.0
        if not why:
            problems.append("no reason given for the tolerance (why=...)")
        if any(c.name == name for c in self.claims):
            problems.append("a claim with this name was already recorded")
        passed = not problems and _holds(kind, m, e, lo, hi, rt, at)
        claim = Claim(name=name, kind=kind, measured=m, expected=e, low=lo, high=hi, rtol=rt, atol=at,
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
            f"<td>{_fmt(c.measured)}</td><td>{html.escape(c.target)}</td>"
            f"<td>{'✔' if c.passed else '✘ ' + html.escape(c.problem)}</td><td>{html.escape(c.why)}</td></tr>"
            for c in self.claims)
        n_pass = len(self.claims) - len(self.failed)
        return (f"<table class='theorylab-claims'><caption>{n_pass} of {len(self.claims)} claims hold"
                f"</caption><thead><tr><th>claim</th><th>measured</th><th>expected</th><th>holds</th>"
                f"<th>why this tolerance</th></tr></thead><tbody>{rows}</tbody></table>")

    def to_text(self) -> str:
        lines = [f"{len(self.claims) - len(self.failed)} of {len(self.claims)} claims hold"]
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


def _holds(kind: str, m: float, e: float | None, lo: float | None, hi: float | None,
           rtol: float, atol: float) -> bool:
    if kind == "close":
        return abs(m - e) <= (atol + rtol * abs(e)) * (1 + 1e-12)  # up to float rounding
    if kind == "at_least":
        return m >= lo
    if kind == "at_most":
        return m <= hi
    return lo <= m <= hi
