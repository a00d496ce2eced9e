"""The built site in a real Chromium with no network: charts draw, math typesets, nothing leaves the site."""

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
    return ["index.html", "book/notation.html", "book/reproducibility.html"] + [
        f"notebooks/{c.slug}.html" for c in build.chapters()]


@pytest.mark.parametrize("page", pages())
def test_page_renders_offline(browser, server, page):
    context = browser.new_context()
    outside, console, errors, failed = [], [], [], []

    def route(r):
        if r.request.url.startswith(server) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("requestfailed", lambda r: failed.append(r.url))
    tab.goto(f"{server}/{page}", wait_until="load")
    if tab.locator("script[src*='mathjax']").count():  # Sphinx loads MathJax only on pages with math
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        tab.evaluate("() => MathJax.startup.promise")
    charts = tab.locator("[id^=altair-viz-]")
    for i in range(charts.count()):
        charts.nth(i).locator("svg.marks, canvas.marks").first.wait_for(timeout=20_000)
    n_math = tab.locator("mjx-container").count()
    n_err = tab.locator("mjx-merror").count()
    context.close()

    assert not outside, f"requests left the site: {outside}"
    assert not errors, f"page errors: {errors}"
    assert not console, f"console errors: {console}"
    assert not failed, f"failed requests: {failed}"
    assert n_err == 0, "MathJax could not typeset some math"
    if page.startswith("notebooks/") or page == "book/notation.html":
        assert n_math > 0, "no typeset math on a page that has math"
    if page.startswith("notebooks/"):
        assert _chart_count(page) > 0, "a chapter without a chart"


def _chart_count(page: str) -> int:
    return (build.BUILD / "html" / page).read_text().count('id="altair-viz-')
