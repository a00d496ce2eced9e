"""Command line: ``python -m theorylab build [options]`` executes the chapters and builds the book.

Examples::

    python -m theorylab build                      # every chapter, fast profile, then the HTML
    python -m theorylab build --only walk-index    # one chapter (and the HTML)
    python -m theorylab build --profile full --device auto --no-html
    python -m theorylab build --edition student    # site and notebooks without solutions, in book/_build/student
    python -m theorylab list                       # the chapters, in book order
    python -m theorylab calibrate --only walk-index --seeds 0-19   # every claim over 20 seeds
"""

from __future__ import annotations

import argparse
import signal
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theorylab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute the chapters (cached) and build the HTML book")
    b.add_argument("--only", action="append", metavar="SLUG", help="run only this chapter (repeatable)")
    b.add_argument("--profile", default="fast", help="fast (default) or full")
    b.add_argument("--seed", default="0", help="base seed, an integer >= 0 (default 0)")
    b.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    b.add_argument("--force", action="store_true", help="re-run chapters even when up to date")
    b.add_argument("--jobs", type=int, default=None, help="chapters in parallel (default: CPU cores)")
    b.add_argument("--no-html", action="store_true", help="execute only; do not build the HTML")
    b.add_argument("--edition", default="full", choices=("full", "student"),
                   help="full (default) or student: solutions removed, built into book/_build/student")
    b.add_argument("--timeout", default="profile", metavar="SECONDS",
                   help="wall-clock limit per chapter (default: the profile's, fast 300 s, full none; 0: none)")
    sub.add_parser("list", help="list the chapters in book order")
    c = sub.add_parser("calibrate", help="run chapters over many seeds; per claim: pass rate, spread, margin")
    c.add_argument("--only", action="append", metavar="SLUG", help="calibrate this chapter (repeatable; default all)")
    c.add_argument("--seeds", default="0-19", help="seeds, e.g. 0-19 (default) or 0,3,5-7")
    c.add_argument("--profile", default="fast", help="fast (default) or full")
    c.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    c.add_argument("--jobs", type=int, default=None, help="runs in parallel (default: CPU cores)")
    c.add_argument("--force", action="store_true", help="re-run seeds even when up to date")
    c.add_argument("--timeout", default="profile", metavar="SECONDS",
                   help="wall-clock limit per run (default: the profile's, fast 300 s, full none; 0: none)")
    c.add_argument("--no-write", action="store_true", help="print only; do not write book/calibration/<slug>.json")
    args = parser.parse_args(argv)
    try:
        signal.signal(signal.SIGTERM, _terminate)  # stop as Ctrl-C does: kernels and children killed
    except ValueError:  # not the main thread
        pass
    try:
        return _main(args)
    except KeyboardInterrupt as exc:  # outside the chapters' executions (which raise Interrupted)
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        print(f"\nInterrupted ({signal.Signals(signum).name}).", file=sys.stderr)
        return 128 + int(signum)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(signum)


def _main(args: argparse.Namespace) -> int:
    if args.command == "calibrate":
        return _calibrate(args)

    from . import execute as build

    if args.command == "list":
        for chapter in build.chapters():
            print(chapter.slug)
        return 0

    try:  # bad values fail here, before any chapter starts
        seed = int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed
        parameters = build.validate_parameters(args.profile, seed, args.device)
        selected = build.select(build.chapters(), args.only)
        timeout = _jobs_and_timeout(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # one build per checkout: the chapters and the HTML
    return _locked(build, lambda: _build(build, args, selected, parameters, timeout))


def _jobs_and_timeout(args: argparse.Namespace) -> float | str | None:
    """Check ``--jobs`` and parse ``--timeout`` (a ``ValueError`` names the bad option)."""
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {args.jobs}")
    return parse_timeout(args.timeout)


def _locked(execute, work) -> int:
    """Run ``work()`` holding the checkout's build lock: exit 3 when another build holds it, and
    128 + signal when interrupted."""
    try:
        with execute.lock():
            return work()
    except execute.Busy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except execute.Interrupted as exc:
        return interrupted(exc)


def parse_timeout(text: str) -> float | str | None:
    """``--timeout``: "profile" (the profile's default), seconds, or 0 / "none" for no limit."""
    if text in ("profile", None):
        return "profile"
    if str(text).lower() in ("none", "0", "0.0"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, or 0 / none for no limit; got {text!r}")
    return value


def interrupted(exc: Exception) -> int:
    """Say what an interrupt stopped; exit 128 + the signal number, as a shell does."""
    print(f"\nInterrupted ({exc}): every kernel was stopped.", file=sys.stderr, flush=True)
    if exc.running:
        print(f"Interrupted chapters (not recorded; they run again next time): {', '.join(map(str, exc.running))}",
              file=sys.stderr)
    if exc.pending:
        print(f"Not started: {', '.join(map(str, exc.pending))}", file=sys.stderr)
    return 128 + int(exc.signum)


def _build(build, args: argparse.Namespace, selected, parameters, timeout) -> int:
    start = time.perf_counter()
    print(f"Executing {len(selected)} chapter(s), profile={parameters['profile']}, seed={parameters['seed']}, "
          f"device={parameters['device']}", flush=True)
    records = build.run(selected, parameters, force=args.force, jobs=args.jobs, timeout=timeout,
                        echo=lambda s: print(s, flush=True))
    failed = [r["slug"] for r in records if r["status"] != "passed"]
    print(f"Chapters done in {time.perf_counter() - start:.1f} s; report: {build.REPORT.relative_to(build.ROOT)}",
          flush=True)
    code = 1 if failed else 0
    if not args.no_html:
        from . import site

        t0 = time.perf_counter()
        html_code = site.build_html(echo=lambda s: print(s, flush=True), edition=args.edition)
        where = site.html_dir(args.edition).relative_to(build.ROOT) / "index.html"
        if args.edition != "full":
            print(f"{args.edition} edition: notebooks in "
                  f"{(site.BUILD / args.edition / 'notebooks').relative_to(build.ROOT)}", flush=True)
        print(f"HTML {'built' if html_code == 0 else 'FAILED'} in {time.perf_counter() - t0:.1f} s: {where}"
              + ("" if html_code == 0 else " (see html-build.log next to it)"), flush=True)
        code = code or (html_code and 1)
    if failed:
        print(f"Failed chapters: {', '.join(failed)}", file=sys.stderr)
    return code


def _calibrate(args: argparse.Namespace) -> int:
    from . import calibrate, execute

    try:
        seeds = calibrate.parse_seeds(args.seeds)
        execute.validate_parameters(args.profile, seeds[0], args.device)
        selected = execute.select(execute.chapters(), args.only)
        timeout = _jobs_and_timeout(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _locked(execute, lambda: _calibrate_all(calibrate, execute, args, seeds, selected, timeout))


def _calibrate_all(calibrate, execute, args, seeds, selected, timeout) -> int:
    code = 0
    for chapter in selected:
        print(f"Calibrating {chapter.slug} over {len(seeds)} seeds ({args.seeds}), profile={args.profile}", flush=True)
        records = calibrate.run_seeds(chapter, seeds, args.profile, args.device, jobs=args.jobs, force=args.force,
                                      timeout=timeout, echo=lambda s: print(s, flush=True))
        summary = calibrate.summarize(chapter.slug, records, args.profile)
        print(calibrate.table(summary), flush=True)
        if not args.no_write:
            path = calibrate.write(summary)
            print(f"  written to {path.relative_to(execute.ROOT)}", flush=True)
        code = code or (0 if calibrate.healthy(summary) else 1)
    return code


if __name__ == "__main__":
    sys.exit(main())
