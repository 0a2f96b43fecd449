"""The docs site in a real headless Chromium: built by mkdocs, served on localhost, opened.

    S1_EVAL_UPDATE_SCREENSHOT=1 .venv/bin/pytest tests/test_docs_browser.py  # also retakes the PNGs

Every page reachable from the home page loads with no console error, every internal link and
image answers 200 (and every #anchor exists on its page), and the site's search finds a
gen_kwarg on the generated reference page. docs/images/site-home.png and
docs/images/site-reference.png are screenshots of two pages; each carries the page's text in a
PNG text chunk, and the test fails when the page built now shows other text.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from s1_eval.common.files import write_atomic
from tests.test_html_browser import browser  # noqa: F401  (the headless Chromium fixture)

REPO = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).with_name("mkdocs")
#: (page, committed screenshot): the home page and one generated reference page
SCREENSHOTS = {
    "": REPO / "docs" / "images" / "site-home.png",
    "reference/gen-kwargs/": REPO / "docs" / "images" / "site-reference.png",
}
TEXT_KEY = "s1-eval page text"
UPDATE = os.environ.get("S1_EVAL_UPDATE_SCREENSHOT") == "1"
UPDATE_HOW = "S1_EVAL_UPDATE_SCREENSHOT=1 pytest tests/test_docs_browser.py"
ARTICLE_TEXT = 'return document.querySelector("article").innerText;'


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports failures itself
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built now by the strict build, served on a free localhost port."""
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [str(MKDOCS), "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(folder)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _Links(HTMLParser):
    """The href/src of every element, and every id, of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        for key in ("href", "src"):
            if values.get(key):
                self.links.append(values[key])


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read(), answer.headers.get_content_type()
    except urllib.error.HTTPError as error:
        return error.code, b"", ""


def crawl(base: str) -> tuple[list[str], list[str]]:
    """Every HTML page reachable from ``base`` by internal links, and every broken link
    (not 200, or a #fragment its page lacks), as 'page -> link (why)'."""
    pages: dict[str, _Links] = {}
    answers: dict[str, tuple[int, bytes, str]] = {}
    queue, broken, fragments = [base], [], []
    while queue:
        url = queue.pop()
        if url in pages:
            continue
        status, body, kind = answers.get(url) or _get(url)
        parsed = _Links()
        pages[url] = parsed
        if kind != "text/html":
            continue
        parsed.feed(body.decode("utf-8"))
        for link in parsed.links:
            target, fragment = urldefrag(urljoin(url, link))
            if urlparse(target).netloc != urlparse(base).netloc:
                continue  # the outside world (lm-eval's repository, the paper) is not ours
            if target not in answers:
                answers[target] = _get(target)
            status, _, target_kind = answers[target]
            if status != 200:
                broken.append(f"{url} -> {link} (HTTP {status})")
                continue
            if fragment:
                fragments.append((url, link, target, fragment))
            if target_kind == "text/html" and target not in pages:
                queue.append(target)
    for url, link, target, fragment in fragments:
        if fragment not in pages[target].ids:
            broken.append(f"{url} -> {link} (no id {fragment!r} there)")
    return sorted(pages), broken


def severe(browser) -> list[dict]:  # noqa: F811
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_every_internal_link_resolves_and_every_page_loads_without_a_console_error(
    browser,  # noqa: F811
    site,
):
    pages, broken = crawl(site)
    assert not broken, "\n".join(broken)
    # every page of the nav, the generated ones included
    for page in ("reference/cli/", "reference/gen-kwargs/", "results/demo/", "training/"):
        assert site + page in pages, page
    for url in pages:
        browser.get_log("browser")
        browser.get(url)
        assert severe(browser) == [], url


def test_the_crawl_reports_a_dead_link_and_a_missing_anchor(tmp_path):
    """Guards the test above: a page linking to nothing and to a missing id is reported."""
    (tmp_path / "index.html").write_text(
        '<html><body id="top"><a href="gone/">x</a><a href="other.html#nowhere">y</a>'
        '<a href="#top">z</a></body></html>'
    )
    (tmp_path / "other.html").write_text('<html><body id="here"></body></html>')
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, broken = crawl(f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
    assert len(broken) == 2
    assert "gone/ (HTTP 404)" in broken[0] and "no id 'nowhere'" in broken[1]


def test_the_search_finds_a_gen_kwarg_on_the_reference_page(browser, site):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")
    browser.get(site)
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()  # the header's search box (the window is desktop-wide)
    box.send_keys("thinking_n_ignore")

    def found(driver):
        items = driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item a")
        return [a.get_attribute("href") for a in items] or False

    hrefs = WebDriverWait(browser, 30).until(found)
    assert any("/reference/gen-kwargs/" in href for href in hrefs), hrefs
    assert severe(browser) == []


def _screenshot(browser) -> bytes:  # noqa: F811
    """The window as a PNG, with the page's article text in a chunk."""
    from PIL import Image, PngImagePlugin

    image = Image.open(io.BytesIO(browser.get_screenshot_as_png()))
    info = PngImagePlugin.PngInfo()
    info.add_text(TEXT_KEY, browser.execute_script(ARTICLE_TEXT), zip=True)
    info.add_text("Software", f"mkdocs build; {browser.name}")
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


@pytest.mark.parametrize("page", list(SCREENSHOTS), ids=["home", "reference"])
def test_the_committed_screenshot_shows_the_page_built_now(browser, site, page):  # noqa: F811
    from PIL import Image

    browser.get(site + page)
    png = _screenshot(browser)
    fresh = Image.open(io.BytesIO(png))
    assert fresh.convert("L").getextrema()[0] < 128  # something dark was drawn: text
    path = SCREENSHOTS[page]
    if UPDATE:
        write_atomic(path, png)
    assert path.is_file(), f"{path.name} is missing: rerun with {UPDATE_HOW}"
    committed = Image.open(path).text.get(TEXT_KEY)
    assert committed == fresh.text[TEXT_KEY], (
        f"docs/images/{path.name} shows an older page: rerun with {UPDATE_HOW}"
    )
