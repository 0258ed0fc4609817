"""The built site in a real browser (headless Chromium): pages load without console errors,
images have a size, math is typeset by the self-hosted MathJax, internal links resolve.
Screenshots go to _build/screenshots/. Needs `make book` first (`make test` does it)."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("DNT_SITE", ROOT / "_build" / "html"))  # override: another build
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _pages() -> list[Path]:
    if not SITE.exists():
        return []
    return sorted(
        p for p in SITE.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts
    )


@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (install Debian's chromium; `make test` does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def test_site_was_built():
    assert (SITE / "index.html").exists(), "no _build/html: run `make book` first"
    assert len(_pages()) >= 8


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(SITE)))
def test_page_in_chromium(page, server, browser):
    rel = page.relative_to(SITE).as_posix()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = ctx.new_page()
    errors: list[str] = []

    def on_console(m) -> None:
        # the browser's own request for /favicon.ico is not a page error
        if m.type == "error" and not m.location.get("url", "").endswith("favicon.ico"):
            errors.append(f"{m.text} ({m.location.get('url', '')})")

    tab.on("console", on_console)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    tab.on("requestfailed", lambda r: failed.append(r.url))
    missing: list[str] = []
    tab.on(
        "response",
        lambda r: (
            missing.append(r.url) if r.status >= 400 and not r.url.endswith("favicon.ico") else None
        ),
    )
    # "load" covers the page's scripts, styles and images. No "networkidle" wait: Playwright
    # discourages it and it timed out once in CI on a fully loaded page. Readiness is checked
    # below with explicit conditions (MathJax typeset, fonts ready, every image decoded).
    tab.goto(f"{server}/{rel}", wait_until="load")
    refresh = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', page.read_text(), re.I)
    if refresh:  # jupyter-book's top-level index.html only redirects to the first page
        target = urljoin(f"{server}/{rel}", refresh.group(1))
        tab.wait_for_url(target, wait_until="load")
    has_math = tab.evaluate("document.querySelectorAll('.math').length") > 0
    if has_math:
        tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        tab.evaluate("MathJax.startup.promise")
        tab.wait_for_function(
            "[...document.querySelectorAll('.math')].every(e => e.querySelector('mjx-container'))",
            timeout=20000,
        )
        assert tab.evaluate("document.querySelectorAll('mjx-merror').length") == 0
        raw = tab.evaluate(
            "[...document.querySelectorAll('.math')].filter(e => /\\\\\\(|\\\\\\[|\\$\\$/"
            ".test(e.innerText)).length"
        )
        assert raw == 0, "raw TeX left on the page"
    # nothing a kernel wrote to stderr (warnings, the builder's paths) reaches a reader
    assert tab.evaluate("document.querySelectorAll('.stderr').length") == 0, "stderr on the page"
    tab.evaluate("document.fonts.ready.then(() => true)")  # the MathJax fonts, if any
    tab.wait_for_function("[...document.images].every(i => i.complete)", timeout=20000)
    sizes = tab.evaluate("[...document.images].map(i => [i.src, i.naturalWidth])")
    assert all(w > 0 for _, w in sizes), [s for s, w in sizes if w == 0]
    hrefs = tab.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    broken = []
    for href in hrefs:
        parts = urlsplit(href)
        if not parts.netloc.startswith("127.0.0.1"):
            continue  # external links are not followed (no network)
        target = SITE / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(href)
    assert not broken, broken
    # headings and the contents entries are short, plain text: no escaped newline or other
    # backslash escape, nothing longer than a title should be; no visible literal "\\n"
    titles = tab.evaluate(
        "[...document.querySelectorAll('h1, h2, h3, h4, nav a, .toc-entry a, .bd-toc a')]"
        ".map(e => e.innerText.trim())"
    )
    bad_titles = [t for t in titles if re.search(r"\\[a-zA-Z]", t) or len(t) > 120]
    assert not bad_titles, bad_titles
    text = tab.evaluate(  # prose and headings: code listings may hold "\\n" legitimately
        "(() => { const b = document.body.cloneNode(true);"
        " b.querySelectorAll('pre, code, script, style').forEach(e => e.remove());"
        " return b.innerText; })()"
    )
    assert "\\n" not in text, text[max(text.find("\\n") - 80, 0) : text.find("\\n") + 80]
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / (rel.replace("/", "__") + ".png")), full_page=True)
    assert not failed, failed
    assert not missing, missing
    assert not errors, errors
    ctx.close()
