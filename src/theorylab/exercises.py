"""Self-checks for exercises: a learner checks an answer without the answer being written anywhere.

A chapter's exercise can end with a code cell such as::

    from theorylab import exercises
    exercises.check("ex-wi-hand", answer)   # answer: a number or a short text

:func:`check` says whether the answer is right and returns ``True`` or ``False``. The registry
(``answers.json`` next to this module) holds, for every exercise, only a salted SHA-256 hash of the
expected answer in a normal form, never the answer, so neither the page, the notebook nor the
package shows it.

Normal forms:

- **number** (``kind="number"``): rounded to ``digits`` significant digits (default 3) and written
  in scientific notation. A learner's number passes when its rounding, or the rounding one unit
  away in the last digit, hashes to the stored value: a tolerance of about one unit in the
  ``digits``-th significant digit, so 0.1234 and 0.1236 both pass an answer of 0.1235 at 3 digits.
- **text** (``kind="text"``): lower case, spaces and surrounding punctuation removed; several
  accepted spellings can be registered.

Authors register an answer with ``python -m theorylab.exercises add ex-id 0.1235 --digits 3`` (or
``--text "gcn"``), which writes a fresh salt and the hash into ``answers.json``.
"""

from __future__ import annotations

import argparse
import decimal
import hashlib
import json
import math
import re
import secrets
import sys
from pathlib import Path
from typing import Any

REGISTRY = Path(__file__).with_name("answers.json")
DIGITS = 3


def _digest(salt: str, exercise: str, normal: str) -> str:
    return hashlib.sha256(f"{salt}\x00{exercise}\x00{normal}".encode()).hexdigest()


def _number_forms(value: float, digits: int, neighbours: bool) -> list[str]:
    """``value`` rounded to ``digits`` significant digits (and its two neighbours) as text."""
    if isinstance(value, bool):
        raise TypeError("a yes/no answer is text: pass 'yes' or 'no'")
    x = float(value)
    if not math.isfinite(x):
        return ["nan"]
    if x == 0.0:
        return ["0"]
    exponent = math.floor(math.log10(abs(x))) - (digits - 1)
    step = decimal.Decimal(1).scaleb(exponent)
    d = decimal.Decimal(repr(x)).quantize(step, rounding=decimal.ROUND_HALF_EVEN)
    forms = [d] + ([d - step, d + step] if neighbours else [])
    return [format(f.normalize(), "e") for f in forms]


def _text_form(value: Any) -> str:
    text = str(value).strip().lower()
    text = re.sub(r"\s+", "", text)
    return text.strip(".,;:!?\"'`")


def load(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The registry: exercise id -> ``{"kind", "salt", "hashes", "digits"}``."""
    path = path or REGISTRY
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def matches(exercise: str, answer: Any, *, registry: dict[str, dict[str, Any]] | None = None) -> bool:
    """Whether ``answer`` is an accepted answer of ``exercise`` (no output); unknown ids raise ``KeyError``."""
    registry = load() if registry is None else registry
    if exercise not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise KeyError(f"no self-check is registered for {exercise!r}; registered: {known}")
    entry = registry[exercise]
    if entry["kind"] == "number":
        try:
            forms = _number_forms(answer, int(entry.get("digits", DIGITS)), neighbours=True)
        except (TypeError, ValueError):
            return False
    else:
        forms = [_text_form(answer)]
    wanted = set(entry["hashes"])
    return any(_digest(entry["salt"], exercise, f) in wanted for f in forms)


def check(exercise: str, answer: Any, *, registry: dict[str, dict[str, Any]] | None = None) -> bool:
    """Check a learner's answer to ``exercise``, print the verdict and return it.

    ``answer=None`` (the cell as the book ships it) only says what to do.
    """
    if answer is None:
        matches(exercise, 0, registry=registry)  # an unknown id still raises
        print(f"{exercise}: set `answer` to your value and run this cell again.")
        return False
    ok = matches(exercise, answer, registry=registry)
    entry = (load() if registry is None else registry)[exercise]
    if ok:
        print(f"{exercise}: correct.")
    elif entry["kind"] == "number":
        print(f"{exercise}: not yet. {answer!r} does not agree with the answer to "
              f"{entry.get('digits', DIGITS)} significant digits; check the derivation and try again.")
    else:
        print(f"{exercise}: not yet. {answer!r} is not the expected answer; try again.")
    return ok


def register(exercise: str, answers: list[Any], *, kind: str, digits: int = DIGITS,
             path: Path | None = None) -> dict[str, Any]:
    """Store salted hashes of ``answers`` for ``exercise`` in the registry (replacing an old entry)."""
    if kind not in ("number", "text"):
        raise ValueError(f"kind must be 'number' or 'text'; got {kind!r}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", exercise):
        raise ValueError(f"exercise ids are lower-case words joined by '-', like 'ex-wi-hand'; got {exercise!r}")
    salt = secrets.token_hex(16)
    if kind == "number":
        normals = [_number_forms(a, digits, neighbours=False)[0] for a in answers]
    else:
        normals = [_text_form(a) for a in answers]
    entry: dict[str, Any] = {"kind": kind, "salt": salt, "hashes": sorted({_digest(salt, exercise, n) for n in normals})}
    if kind == "number":
        entry["digits"] = digits
    path = path or REGISTRY
    registry = load(path)
    registry[exercise] = entry
    path.write_text(json.dumps(dict(sorted(registry.items())), indent=1) + "\n")
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theorylab.exercises",
                                     description="Register or try the self-check answer of an exercise.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="register an answer (stored as a salted hash)")
    add.add_argument("exercise")
    add.add_argument("answers", nargs="+", help="numbers, or with --text accepted spellings")
    add.add_argument("--text", action="store_true", help="the answer is text, not a number")
    add.add_argument("--digits", type=int, default=DIGITS, help="significant digits a number must match")
    tryit = sub.add_parser("check", help="check an answer")
    tryit.add_argument("exercise")
    tryit.add_argument("answer")
    sub.add_parser("list", help="the exercises with a self-check")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, entry in load().items():
            print(f"{name}  ({entry['kind']})")
        return 0
    if args.command == "check":
        entry = load().get(args.exercise, {})
        answer: Any = args.answer
        if entry.get("kind") == "number":
            answer = float(answer)
        return 0 if check(args.exercise, answer) else 1
    answers: list[Any] = args.answers if args.text else [float(a) for a in args.answers]
    register(args.exercise, answers, kind="text" if args.text else "number", digits=args.digits)
    print(f"registered {args.exercise} in {REGISTRY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
