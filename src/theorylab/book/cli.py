"""Command line: ``python -m theorylab build [options]`` executes the chapters and builds the book.

Examples::

    python -m theorylab build                      # every chapter, fast profile, then the HTML
    python -m theorylab build --only walk-index    # one chapter (and the HTML)
    python -m theorylab build --profile full --device auto --no-html
    python -m theorylab list                       # the chapters, in book order
"""

from __future__ import annotations

import argparse
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
    sub.add_parser("list", help="list the chapters in book order")
    args = parser.parse_args(argv)

    from . import execute as build

    if args.command == "list":
        for chapter in build.chapters():
            print(chapter.slug)
        return 0

    try:  # bad values fail here, before any chapter starts
        seed = int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed
        parameters = build.validate_parameters(args.profile, seed, args.device)
        selected = build.select(build.chapters(), args.only)
        if args.jobs is not None and args.jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1; got {args.jobs}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    print(f"Executing {len(selected)} chapter(s), profile={parameters['profile']}, seed={parameters['seed']}, "
          f"device={parameters['device']}", flush=True)
    records = build.run(selected, parameters, force=args.force, jobs=args.jobs,
                        echo=lambda s: print(s, flush=True))
    failed = [r["slug"] for r in records if r["status"] != "passed"]
    print(f"Chapters done in {time.perf_counter() - start:.1f} s; report: {build.REPORT.relative_to(build.ROOT)}",
          flush=True)
    code = 1 if failed else 0
    if not args.no_html:
        from . import site

        t0 = time.perf_counter()
        html_code = site.build_html(echo=lambda s: print(s, flush=True))
        where = site.BUILD.relative_to(build.ROOT) / "html" / "index.html"
        print(f"HTML {'built' if html_code == 0 else 'FAILED'} in {time.perf_counter() - t0:.1f} s: {where}"
              + ("" if html_code == 0 else f" (log: {site.BUILD.relative_to(build.ROOT)}/html-build.log)"), flush=True)
        code = code or (html_code and 1)
    if failed:
        print(f"Failed chapters: {', '.join(failed)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
