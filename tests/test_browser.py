"""The built site in a real Chromium with no network: charts draw, math typesets, nothing leaves the site.

Every chapter page is loaded at a phone's width (400 px) with every check (offline rendering and
chart fit). At a desktop's width (1280 px) a chapter is checked when its page can have changed: its
source, or a module it imports, changed in the last commit (for a merge: everything it merged); and
every chapter is, when anything else changed (the charts, the theme, the build, the requirements...),
when the change cannot be told (no history), with ``THEORYLAB_BROWSER=all``, or while the book has
at most ``DESKTOP_SAMPLE`` chapters. Otherwise ``DESKTOP_SAMPLE`` other chapters, rotating by the
day, are checked at 1280 px too, so every chapter is seen there within a few days. The browser's
work grows by one page load per chapter."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from theorylab.book import execute as build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI", "").lower() == "true"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(html, tmp_path_factory):
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("Chromium is missing: CI must install it (apt-get install chromium)")
        pytest.skip("Chromium not installed (apt-get install chromium); CI runs this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(html):
    root = build.BUILD / "html"
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def pages() -> list[str]:
    """Every page that is not a chapter (chapters: see :func:`chapter_pages`)."""
    return ["index.html", "book/notation.html", "book/syllabus.html", "book/reproducibility.html", "book/references.html"]


def chapter_pages() -> list[str]:
    return [f"notebooks/{c.slug}.html" for c in build.chapters()]


# each chart: its drawn width (the SVG's own width, before any CSS scaling), its column's width, and
# whether its legends lie inside the viewport
_MEASURE = """() => [...document.querySelectorAll('[id^=altair-viz-]')].map(div => {
  const svg = div.querySelector('svg.marks');
  const column = div.closest('.cell_output') || div.parentElement;
  const legends = [...div.querySelectorAll('.role-legend')].map(g => g.getBoundingClientRect());
  return {id: div.id, drawn: svg ? parseFloat(svg.getAttribute('width')) : -1,
          shown: svg ? svg.getBoundingClientRect().width : -1, column: column.clientWidth,
          legends_inside: legends.every(r => r.left >= -1 && r.right <= window.innerWidth + 1)};
})"""


def visit(browser, server, page: str, width: int = 1280) -> dict:
    """Load ``page`` once at ``width`` px with the network cut off outside the site; wait for MathJax
    and every chart; return what the checks need: requests that left the site, page and console
    errors, failed requests, typeset math and its errors, charts' sizes, sideways overflow."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    seen = {"outside": [], "console": [], "errors": [], "failed": []}

    def route(r):
        if r.request.url.startswith(server) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            seen["outside"].append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: seen["errors"].append(str(e)))
    tab.on("requestfailed", lambda r: seen["failed"].append(r.url))
    tab.goto(f"{server}/{page}", wait_until="load", timeout=90_000)  # a shared, busy machine is slow
    if tab.locator("script[src*='mathjax']").count():  # Sphinx loads MathJax only on pages with math
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        tab.evaluate("() => MathJax.startup.promise")
    charts = tab.locator("[id^=altair-viz-]")
    for i in range(charts.count()):
        charts.nth(i).locator("svg.marks, canvas.marks").first.wait_for(timeout=20_000)
    if charts.count():
        tab.wait_for_timeout(300)  # a chart that overflowed on its first draw is drawn again, narrower
    seen.update(math=tab.locator("mjx-container").count(), math_errors=tab.locator("mjx-merror").count(),
                sizes=tab.evaluate(_MEASURE),
                overflow=tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))
    context.close()
    return seen


def assert_renders_offline(seen: dict) -> None:
    assert not seen["outside"], f"requests left the site: {seen['outside']}"
    assert not seen["errors"], f"page errors: {seen['errors']}"
    assert not seen["console"], f"console errors: {seen['console']}"
    assert not seen["failed"], f"failed requests: {seen['failed']}"
    assert seen["math_errors"] == 0, "MathJax could not typeset some math"


@pytest.mark.parametrize("page", pages())
def test_page_renders_offline(browser, server, page):
    seen = visit(browser, server, page)
    assert_renders_offline(seen)
    if page == "book/notation.html":
        assert seen["math"] > 0, "no typeset math on a page that has math"


DESKTOP_SAMPLE = 12  # chapters checked at 1280 px besides the changed ones (all while the book has <= this)
# changed files that can alter only the chapters that import them (science modules) or no page at all
_LOCAL = ("notebooks/", "book/calibration/", "scripts/", "benchmarks/", "tests/test_", "README.md", "CONTRIBUTING.md")


def _changed_files() -> list[str] | None:
    """Files changed by the last commit (against its first parent); None when git cannot tell."""
    import subprocess

    try:
        out = subprocess.run(["git", "diff", "--name-only", "HEAD~1", "HEAD"], cwd=build.ROOT, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=build.ROOT,
                           capture_output=True, text=True).stdout
    return out.stdout.split() + [ln[3:].strip() for ln in dirty.splitlines() if ln.strip()]


_FROM_GIT = object()  # desktop_chapters' default: ask git what the last commit changed


def desktop_chapters(chapters=None, changed=_FROM_GIT, day: int | None = None) -> list[str]:
    """The slugs of the chapters whose page is checked at 1280 px in this run (see the module's note).

    ``changed`` lists the files the last commit changed (read from git by default); ``None`` means
    that cannot be told, and then every chapter is checked."""
    import datetime as dt

    chapters = build.chapters() if chapters is None else chapters
    slugs = [c.slug for c in chapters]
    if os.environ.get("THEORYLAB_BROWSER", "").lower() == "all" or len(slugs) <= DESKTOP_SAMPLE:
        return slugs
    changed = _changed_files() if changed is _FROM_GIT else changed
    if changed is None:
        return slugs
    package = {p.relative_to(build.ROOT).as_posix(): c.slug for c in chapters for p in build.modules(c)
               if p.is_relative_to(build.ROOT)}
    science = {f for f in changed if f in package and not f.startswith("src/theorylab/book/")
               and f.split("/")[-1] not in ("__init__.py", "charts.py", "claims.py", "runtime.py", "exercises.py")}
    if any((not f.startswith(_LOCAL) or f == "tests/test_browser.py") and f not in science for f in changed):
        return slugs  # anything shared may change every page
    picked = {s for s in slugs if any(f.startswith(f"notebooks/{s}.") for f in changed)}
    picked |= {c.slug for c in chapters if {p.relative_to(build.ROOT).as_posix() for p in build.modules(c)
                                            if p.is_relative_to(build.ROOT)} & science}
    day = dt.date.today().toordinal() if day is None else day
    start = (day * DESKTOP_SAMPLE) % len(slugs)
    picked |= {slugs[(start + i) % len(slugs)] for i in range(DESKTOP_SAMPLE)}
    return [s for s in slugs if s in picked]


def _chapter_loads() -> list[tuple[str, int]]:
    desktop = set(desktop_chapters())
    return [(f"notebooks/{c.slug}.html", w) for c in build.chapters() for w in (400, 1280)
            if w == 400 or c.slug in desktop]


@pytest.mark.parametrize("page, width", _chapter_loads())
def test_chapter_renders_offline_and_its_charts_fit(browser, server, page, width):
    """One load per chapter and width (a phone's, a desktop's) carries every check: nothing leaves the
    site, no page or console error, no failed request, math typeset, every chart drawn, and each
    chart within its column with its legends on screen and no sideways scrolling."""
    seen = visit(browser, server, page, width)
    assert_renders_offline(seen)
    assert seen["math"] > 0, "no typeset math on a page that has math"
    assert _chart_count(page) > 0, "a chapter without a chart"
    sizes = seen["sizes"]
    assert sizes and all(s["drawn"] > 0 for s in sizes), sizes
    too_wide = [s for s in sizes if s["drawn"] > s["column"] + 1]
    assert not too_wide, f"charts wider than their column at {width} px: {too_wide}"
    assert all(s["legends_inside"] for s in sizes), f"a legend is off-screen at {width} px: {sizes}"
    assert seen["overflow"] <= 1, f"the page scrolls sideways by {seen['overflow']} px at {width} px"


def _chart_count(page: str) -> int:
    return (build.BUILD / "html" / page).read_text().count('id="altair-viz-')


def _open(browser, server, page, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(f"{server}/{page}", wait_until="load")
    return context, tab, errors


def test_report_table_scrolls_inside_the_column(browser, server):
    context, tab, errors = _open(browser, server, "book/reproducibility.html", 400)
    overflow = tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    scrollers = tab.evaluate("""() => [...document.querySelectorAll('article table')].map(t => {
        let el = t; while (el && el.tagName !== 'ARTICLE') {
          const s = getComputedStyle(el);
          if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && el.clientWidth < el.scrollWidth + 1) return true;
          el = el.parentElement; }
        return t.scrollWidth <= t.closest('article').clientWidth + 1; })""")
    context.close()
    assert overflow <= 1, f"the report scrolls the page sideways by {overflow} px"
    assert scrollers and all(scrollers), "a wide table neither fits nor scrolls in its own box"


@pytest.mark.parametrize("query, slug", [("walk index", "walk-index"), ("model collapse Zipf tail", "tail-collapse")])
def test_search_ranks_the_chapter_first(browser, server, query, slug):
    if slug not in [c.slug for c in build.chapters()]:
        pytest.skip(f"{slug} is not in this book")
    context, tab, errors = _open(browser, server, f"search.html?q={query.replace(' ', '+')}", 1280)
    tab.locator("#search-results li").first.wait_for(timeout=20_000)
    first = tab.locator("#search-results li a").first.get_attribute("href")
    context.close()
    assert f"notebooks/{slug}.html" in first, f"first result for {query!r}: {first}"


def test_the_desktop_sample_covers_what_changed_and_rotates():
    """The choice of chapters checked at 1280 px (no browser needed)."""
    from types import SimpleNamespace

    book = [SimpleNamespace(slug=f"c{i:02d}", source=None) for i in range(30)]
    mods = {f"c{i:02d}": ([f"src/theorylab/linear/m{i % 3}.py"]) for i in range(30)}
    original = build.modules
    build.modules = lambda c: [build.ROOT / m for m in mods[c.slug]] if c.slug in mods else original(c)
    try:
        assert len(desktop_chapters(book[:DESKTOP_SAMPLE], changed=[])) == DESKTOP_SAMPLE  # small book: all
        assert desktop_chapters(book, changed=None) == [c.slug for c in book]  # cannot tell: all
        for shared in ("src/theorylab/charts.py", "book/_static/x.js", "requirements.txt", "_config.yml",
                       "src/theorylab/book/site.py", "tests/test_browser.py"):
            assert len(desktop_chapters(book, changed=[shared])) == 30, shared
        one = desktop_chapters(book, changed=["notebooks/c07.md", "book/calibration/c07.json"], day=0)
        assert "c07" in one and len(one) in (DESKTOP_SAMPLE, DESKTOP_SAMPLE + 1)
        by_module = desktop_chapters(book, changed=["src/theorylab/linear/m1.py"], day=0)
        assert {f"c{i:02d}" for i in range(1, 30, 3)} <= set(by_module)
        seen = set()
        for day in range(3):  # 30 chapters, 12 a day: all seen within three days
            seen |= set(desktop_chapters(book, changed=[], day=day))
        assert seen == {c.slug for c in book}
        assert len(desktop_chapters(book, changed=["tests/test_graphs.py", "README.md"], day=0)) == DESKTOP_SAMPLE
    finally:
        build.modules = original
