"""Run a chapter's code with a planted bug and report which claims catch it.

The chapter (notebooks/<slug>.md) is read as a list of code cells (jupytext's MyST format), the
bug's patch is executed first (it monkeypatches a library function), and the cells run in order in
one namespace, optionally only up to the first cell that contains ``stop_after`` and skipping the
cells that contain any string of ``skip``. The claims recorded so far are then compared with the
same run without the patch: a bug is *caught* when at least one claim that held without it fails.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]


def _cells(slug: str) -> list[str]:
    text = (ROOT / "notebooks" / f"{slug}.md").read_text()
    cells = re.findall(r"```\{code-cell\} ipython3\n(.*?)```", text, re.S)
    return ["\n".join(line for line in c.splitlines() if not line.startswith(":tags:")) for c in cells]


def run(slug: str, patch: Callable[[], None] | None, *, stop_after: str | None = None,
        skip: tuple[str, ...] = ()) -> dict[str, bool]:
    """Execute the chapter (with ``patch()`` applied first) and return {claim name: passed}."""
    import torch

    ns: dict = {"display": lambda *args, **kwargs: None}  # IPython's display, a no-op outside a kernel
    with contextlib.ExitStack() as stack:
        if patch is not None:
            stack.enter_context(_restore_modules())
            patch()
        for cell in _cells(slug):
            if cell.strip() == "ledger.check()":
                break
            if any(s in cell for s in skip):
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell, f"<{slug}>", "exec"), ns)
            if stop_after is not None and stop_after in cell:
                break
    torch.set_num_threads(1)
    return {c.name: c.passed for c in ns["ledger"].claims}


@contextlib.contextmanager
def _restore_modules():
    """Undo every attribute a patch sets on theorylab modules (so that bugs do not leak)."""
    import sys

    mods = {k: dict(vars(m)) for k, m in list(sys.modules.items()) if k.startswith("theorylab")}
    try:
        yield
    finally:
        for k, saved in mods.items():
            m = sys.modules[k]
            for name in list(vars(m)):
                if name not in saved:
                    delattr(m, name)
            for name, value in saved.items():
                setattr(m, name, value)


def _alarm(_signum, _frame):
    raise TimeoutError("planted-bug run exceeded its time limit")


def report(slug: str, bugs: dict[str, tuple[Callable[[], None], dict]], timeout: int | None = None) -> int:
    """Run the chapter clean and with each bug; print the claims that catch each. Returns 1 if a bug slips.

    With ``timeout`` (seconds), a bug whose runs take longer is reported as TIMED OUT and counts as
    slipped (no claim ran to catch it); a bug that makes the chapter raise is reported as caught by a
    crash (the build would stop on it).
    """
    import signal

    if timeout:
        signal.signal(signal.SIGALRM, _alarm)
    slipped, clean_runs = 0, {}
    for name, (patch, opts) in bugs.items():
        tic = time.perf_counter()
        key = repr(sorted(opts.items()))
        try:
            signal.alarm(timeout or 0)
            if key not in clean_runs:
                clean_runs[key] = run(slug, None, **opts)
            clean = clean_runs[key]
            buggy = run(slug, patch, **opts)
            signal.alarm(0)
        except TimeoutError as err:
            print(f"{name}: TIMED OUT ({err})", flush=True)
            slipped += 1
            continue
        except Exception as err:  # noqa: BLE001 - a bug that crashes the chapter is caught by the build
            signal.alarm(0)
            if not timeout:
                raise
            print(f"{name}: CAUGHT by a crash ({type(err).__name__}: {err}) ({time.perf_counter() - tic:.0f} s)",
                  flush=True)
            continue
        caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
        slipped += not caught
        print(f"{name}: {'CAUGHT by ' + ', '.join(caught) if caught else 'NOT CAUGHT'} "
              f"({len(buggy)} claims run, {time.perf_counter() - tic:.0f} s)", flush=True)
    return int(slipped > 0)


def main(slug: str, bugs: dict[str, tuple[Callable[[], None], dict]]) -> int:
    """Command line of a planted-bug script: ``--only TEXT`` (bugs whose name contains it), ``--timeout S``."""
    import argparse

    ap = argparse.ArgumentParser(description=f"planted bugs of the chapter {slug}")
    ap.add_argument("--only", default="", help="run only the bugs whose name contains this text")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per bug (clean run included)")
    args = ap.parse_args()
    chosen = {k: v for k, v in bugs.items() if args.only.lower() in k.lower()}
    return report(slug, chosen, timeout=args.timeout)


def source_patch(modules, old: str, new: str, private: dict | None = None) -> Callable[[], None]:
    """A patch that re-executes one module's source with ``old`` replaced by ``new``, as a typo would.

    ``old`` must occur exactly once in the sources of ``modules`` together. The patch installs the
    edited module's public names (``__all__``) and the names ``private[module]`` on the real module.
    """
    import inspect
    import types

    hits = [(mod, src) for mod in modules for src in [inspect.getsource(mod)] for _ in range(src.count(old))]
    if len(hits) != 1:
        names = ", ".join(m.__name__ for m in modules)
        raise SystemExit(f"planted bug does not match exactly one place in {names}: {old!r}")
    target, source = hits[0]
    bug = types.ModuleType(target.__name__ + "_bug")
    bug.__package__ = target.__package__
    sys.modules[bug.__name__] = bug                                   # dataclasses look their module up
    exec(compile(source.replace(old, new), bug.__name__ + ".py", "exec"), bug.__dict__)
    names = list(target.__all__) + list((private or {}).get(target, []))

    def patch() -> None:
        for name in names:
            setattr(target, name, getattr(bug, name))
    return patch


def report_source_bugs(slug: str, modules, bugs: dict[str, tuple[str, str]], selected: list[str], *,
                       limit_s: int = 600, private: dict | None = None) -> int:
    """Run the chapter clean, then once per source-edit bug ``name: (old, new)`` whose name contains one of
    ``selected`` (all when empty), under a time limit; print the claims each bug turns red. A bug that
    makes the chapter raise an arithmetic or value error is caught (the build stops on it). Returns 1
    if a bug slips."""
    import signal

    import numpy as np

    signal.signal(signal.SIGALRM, _alarm)
    clean = run(slug, None)
    broken = [k for k, ok in clean.items() if not ok]
    print(f"clean run: {len(clean)} claims, failing without a bug: {broken or 'none'}", flush=True)
    slipped = 0
    for name, (old, new) in bugs.items():
        if selected and not any(s in name for s in selected):
            continue
        tic = time.perf_counter()
        signal.alarm(limit_s)
        try:
            patch = source_patch(modules, old, new, private)          # a broken patch stops the script here
            buggy = run(slug, patch)
            caught = sorted(k for k, ok in buggy.items() if clean.get(k) and not ok)
            verdict = "CAUGHT by " + ", ".join(caught) if caught else "NOT CAUGHT"
        except TimeoutError:
            caught, verdict = [], f"TIMED OUT after {limit_s} s"
        except (ArithmeticError, ValueError, IndexError, np.linalg.LinAlgError) as err:   # the chapter stops
            caught, verdict = ["(exception)"], f"CAUGHT: the chapter raised {type(err).__name__}: {str(err)[:80]}"
        finally:
            signal.alarm(0)
        slipped += not caught
        print(f"{name}: {verdict} ({time.perf_counter() - tic:.0f} s)", flush=True)
    return int(slipped > 0)
