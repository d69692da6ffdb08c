"""The built book in a real browser: Debian's headless chromium, driven by selenium.

The book is built from the notebooks' stored ``ci`` outputs (the ones nbval
checks) into a temporary folder, served over HTTP on localhost and loaded
page by page. Every page must load without console errors; every image
must have decoded; every chapter must show tables, keep its code folded
behind a toggle and fit its tables in the page. A screenshot of every page
(``build/test-artifacts/pages/``) and of the landing page is kept in
``build/test-artifacts/``.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian packages
``chromium`` and ``chromium-driver``; ``make test`` installs them).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "build" / "test-artifacts"
# Pages Sphinx writes besides the chapters (no tables expected there).
NOT_CHAPTERS = {"genindex.html", "search.html", "reproducing.html", "summary.html"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would bury the test's own report
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The book built from the stored notebooks, served on localhost: (base URL, html folder)."""
    book = tmp_path_factory.mktemp("book") / "book"
    shutil.copytree(REPO / "book", book, ignore=shutil.ignore_patterns("_build", "notebooks"))
    (book / "notebooks").mkdir()
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, book / "notebooks" / nb.name)
    jb = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run([str(jb), "build", str(book), "--builder", "html", "--warningiserror"],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, f"the book did not build:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    html = book / "_build" / "html"
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; `make test` does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def pages(html: Path) -> list[str]:
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html") if "_static" not in p.parts)


def test_every_page_loads_without_console_errors_and_renders_its_images_and_tables(site, browser):
    base, html = site
    found = pages(html)
    assert "notebooks/summary.html" in found and "notebooks/fanet.html" in found, found
    problems = []
    for page in found:
        browser.get(f"{base}/{page}")
        # Each page as a first-time visitor sees it: no theme mode or other state saved by earlier pages.
        browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
        browser.get_log("browser")  # (flushes the log of the page before)
        browser.refresh()
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        if errors:
            problems.append(f"{page}: console errors {errors[:3]}")
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        if broken:
            problems.append(f"{page}: images that did not load {broken[:3]}")
        if page.startswith("notebooks/") and Path(page).name not in NOT_CHAPTERS:
            rows = browser.execute_script("return document.querySelectorAll('main table tr').length")
            if rows == 0:
                problems.append(f"{page}: no table rendered")
        if page.startswith("notebooks/"):
            problems += [f"{page}: {p}" for p in layout_problems(browser)]
        shot = ARTIFACTS / "pages" / (page.replace("/", "_").removesuffix(".html") + ".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shot))
    assert not problems, "\n".join(problems)


# What a reader of a chapter should see: code folded away behind its toggle, and tables that fit the page
# (a table wider than the text column makes the reader scroll sideways, at the test's 1280 px window).
LAYOUT_SCRIPT = """
const main = document.querySelector('main');
const inputs = Array.from(main.querySelectorAll('.cell_input'));
const shown = inputs.filter(e => e.checkVisibility()).length;  // (false inside a closed toggle)
const toggles = main.querySelectorAll('details.above-input').length;
const right = main.getBoundingClientRect().right;
const wide = Array.from(main.querySelectorAll('table'))
    .filter(t => t.getBoundingClientRect().right > right + 1 || t.scrollWidth > t.clientWidth + 1
                 || (t.parentElement.scrollWidth > t.parentElement.clientWidth + 1))
    .map(t => (t.querySelector('th') || t).textContent.trim().slice(0, 40));
return {inputs: inputs.length, shown: shown, toggles: toggles, wide: wide};
"""


def layout_problems(browser) -> list[str]:
    """Code sources left open on the page, and tables wider than the page (by their first header)."""
    found = browser.execute_script(LAYOUT_SCRIPT)
    problems = []
    if found["shown"]:
        problems.append(f"{found['shown']} of {found['inputs']} code cells show their source (tag them hide-input)")
    if found["inputs"] and not found["toggles"]:
        problems.append("code cells but no toggle to show them")
    if found["wide"]:
        problems.append(f"tables wider than the page: {found['wide'][:5]}")
    return problems


def test_the_landing_page_shows_the_claims_table_and_links_to_every_chapter(site, browser):
    base, _ = site
    browser.get(f"{base}/index.html")  # redirects to the landing page
    assert browser.current_url.endswith("notebooks/summary.html"), browser.current_url
    links = set(browser.execute_script(
        "return Array.from(document.querySelectorAll('main table a')).map(a => a.getAttribute('href'))"))
    assert {"bgbias.html", "fanet.html", "ftn.html", "mgcam.html", "fmn.html"} <= links, links
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "landing-page.png"
    browser.save_screenshot(str(shot))
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] >= 800 and pixels.std() > 10, "the landing page screenshot looks blank"
