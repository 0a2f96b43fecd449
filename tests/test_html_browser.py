"""The HTML leaderboard of the committed demo run in a real headless Chromium.

    S1_EVAL_UPDATE_SCREENSHOT=1 .venv/bin/pytest tests/test_html_browser.py  # also rewrites the PNG

Selenium drives Debian's ``chromium`` through its ``chromium-driver`` (``make install`` installs
both; the two packages share one version, so the driver always matches the browser). The page is
written by the real CLI, ``s1-eval report results/demo --html``. results/demo/leaderboard.png,
shown on the Leaderboard docs page, is a screenshot of that page; it carries the page's text outside the
figures in a PNG text chunk, and the test fails when the page built now shows other text.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s1_eval.common.files import write_atomic
from tests.test_html_page import MISMATCHES, mismatched_runs

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "results" / "demo"
SCREENSHOT = DEMO / "leaderboard.png"
#: the PNG text chunk holding what the page showed when the screenshot was taken
TEXT_KEY = "s1-eval page text"
UPDATE = os.environ.get("S1_EVAL_UPDATE_SCREENSHOT") == "1"
UPDATE_HOW = "S1_EVAL_UPDATE_SCREENSHOT=1 pytest tests/test_html_browser.py"
MISSING = (
    "headless Chromium is needed: `make install` installs Debian's chromium and chromium-driver "
    "(apt-get) and selenium (the test extra); found chromium={}, chromedriver={}"
)

# what the page shows outside its figures (matplotlib may place ticks differently across
# versions; the screenshot is current when the numbers and notes it shows are)
PAGE_TEXT = """return Array.prototype.filter.call(document.body.children, function (e) {
  return e.tagName !== "FIGURE" && e.tagName !== "SCRIPT";
}).map(function (e) { return e.innerText; }).join("\\n");"""

ROWS = """return Array.prototype.map.call(
  document.querySelectorAll("table.leaderboard tbody tr"), function (tr) {
    return [tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[2].textContent,
            tr.querySelector("td[data-key=performance_pct]").dataset.value];
  });"""


@pytest.fixture(scope="module")
def browser():
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail(MISSING.format(chromium, chromedriver))
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(MISSING.format(chromium, chromedriver) + "; selenium is not importable")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    # console messages and uncaught exceptions, read back with get_log("browser")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: Selenium Manager would otherwise try to download one
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory):
    """The demo's page and the leaderboard.json written beside it by the same command."""
    folder = tmp_path_factory.mktemp("browser")
    page = folder / "board.html"
    command = [sys.executable, "-m", "s1_eval.cli", "report", str(DEMO)]
    command += ["--output_path", str(folder / "board"), "--html", str(page)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    curves = json.loads((folder / "board" / "leaderboard.json").read_text())["curves"]
    return page, curves


def load(browser, page: Path) -> list[dict]:
    """Open the page; return what the console logged while it loaded (level, message)."""
    browser.get_log("browser")  # drop what an earlier page left
    browser.get(page.as_uri())
    return errors(browser)


def errors(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def click_performance(browser) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    headers = browser.find_elements(By.CSS_SELECTOR, "table.leaderboard thead th")
    (header,) = [h for h in headers if h.text.startswith("Performance")]
    header.click()
    return browser.execute_script(ROWS)


def screenshot(browser) -> bytes:
    """A PNG of the whole page (every column and the figures), with its text in a chunk."""
    from PIL import Image, PngImagePlugin

    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    width, height = round(size["width"]), round(size["height"])
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        data = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.size == (width, height)
    info = PngImagePlugin.PngInfo()
    info.add_text(TEXT_KEY, browser.execute_script(PAGE_TEXT), zip=True)
    info.add_text(
        "Software",
        f"s1-eval report results/demo --html; {browser.name} "
        f"{browser.capabilities.get('browserVersion', '')}",
    )
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


def test_the_console_capture_sees_errors(browser, tmp_path):
    """Guards the checks below: a page that logs an error and throws is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><script>console.error("logged");'
        "null.boom();</script></body></html>",
        encoding="utf-8",
    )
    messages = " ".join(e["message"] for e in load(browser, bad))
    assert '"logged"' in messages and "Uncaught TypeError" in messages


def test_the_demo_page_loads_with_one_row_per_setting_and_no_console_error(browser, demo_page):
    page, curves = demo_page
    assert load(browser, page) == []
    rows = browser.execute_script(ROWS)
    assert len(rows) == len(curves) > 1
    for (model, task, setting, performance), curve in zip(rows, curves, strict=True):
        assert (model, task, setting) == (curve["model"], curve["task"], curve["series"])
        assert float(performance) == pytest.approx(curve["performance_pct"], rel=1e-12)


def test_clicking_performance_sorts_ascending_then_descending(browser, demo_page):
    page, _ = demo_page
    assert load(browser, page) == []
    before = browser.execute_script(ROWS)

    def performance(rows):
        return [float(r[3]) for r in rows]

    ascending = click_performance(browser)
    assert performance(ascending) == sorted(performance(before))
    descending = click_performance(browser)
    assert performance(descending) == sorted(performance(before), reverse=True)
    # the same rows, moved: the demo lists its worst setting first
    assert sorted(descending) == sorted(before) and descending != before
    assert errors(browser) == []


def test_runs_that_do_not_compare_render_with_the_mismatch_shown_above_the_table(browser, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "board.html"
    command = [sys.executable, "-m", "s1_eval.cli", "report"]
    command += [*map(str, mismatched_runs(tmp_path)), "--html", str(page)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert load(browser, page) == []
    assert len(browser.execute_script(ROWS)) == 7 + 1
    box = browser.find_element(By.CSS_SELECTOR, "div.incompatible")
    assert (
        box.is_displayed()
        and box.location["y"]
        < browser.find_element(By.CSS_SELECTOR, "table.leaderboard").location["y"]
    )
    assert box.text.splitlines()[1:] == list(MISMATCHES)


def test_the_committed_screenshot_shows_the_page_built_now(browser, demo_page, tmp_path):
    from PIL import Image

    page, _ = demo_page
    assert load(browser, page) == []
    png = screenshot(browser)
    fresh = Image.open(io.BytesIO(png))
    assert fresh.width >= 1400 and fresh.height > 900  # the whole page, not the window
    assert fresh.convert("L").getextrema()[0] < 128  # something dark was drawn: text
    if UPDATE:
        write_atomic(SCREENSHOT, png)
    assert SCREENSHOT.is_file(), f"{SCREENSHOT.name} is missing: rerun with {UPDATE_HOW}"
    committed = Image.open(SCREENSHOT).text.get(TEXT_KEY)
    assert committed == fresh.text[TEXT_KEY], (
        f"results/demo/{SCREENSHOT.name} shows an older page: rerun with {UPDATE_HOW}"
    )
