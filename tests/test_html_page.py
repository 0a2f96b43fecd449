"""`s1-eval report --html` on a copy of the demo run, read back with html.parser."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_runs import row as sample_row
from make_runs import write_run

from s1_eval.report.metrics import SCALING_KEY

DEMO = Path(__file__).resolve().parents[1] / "results" / "demo"


def s1_eval(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "s1_eval.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


class Page(HTMLParser):
    """Links, inline svgs, scripts and the leaderboard table's rows of (key, value) cells."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.svgs = 0
        self.script_srcs: list[str | None] = []
        self.tables: list[str] = []
        self.rows: list[dict[str, str]] = []
        self.svg_text: list[str] = []
        self._in_board = self._in_body = self._in_svg = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [v for k, v in attrs.items() if k in ("src", "href", "xlink:href") and v]
        if tag == "svg":
            self.svgs += 1
            self._in_svg = True
        if tag == "script":
            self.script_srcs.append(attrs.get("src"))
        if tag == "table":
            self.tables.append(attrs.get("class", ""))
            self._in_board = "leaderboard" in attrs.get("class", "")
        if tag == "tbody" and self._in_board:
            self._in_body = True
        if tag == "tr" and self._in_body:
            self.rows.append({})
        if tag == "td" and self._in_body and "data-key" in attrs:
            self.rows[-1][attrs["data-key"]] = attrs["data-value"]

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        if tag == "table":
            self._in_board = False
        if tag == "svg":
            self._in_svg = False

    def handle_data(self, data):
        if self._in_svg:
            self.svg_text.append(data)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    run = Path(shutil.copytree(DEMO, folder / "demo"))
    page = folder / "board.html"
    done = s1_eval(
        "report",
        str(run),
        "--output_path",
        str(folder / "board"),
        "--html",
        str(page),
        "--reference",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    parsed = Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    data = json.loads((folder / "board" / "leaderboard.json").read_text())
    return parsed, data, page.read_text(encoding="utf-8")


def test_the_page_names_no_external_url(board):
    page, _, _ = board
    external = [u for u in page.links if u.startswith(("http:", "https:", "//"))]
    assert external == []
    assert page.script_srcs == [None]  # the sorting script is inline


def test_one_table_row_per_leaderboard_row_with_the_same_numbers(board):
    page, data, _ = board
    assert len(page.rows) == len(data["curves"]) > 0
    for row, curve in zip(page.rows, data["curves"], strict=True):
        for key, text in row.items():
            expected = curve[SCALING_KEY if key == "scaling" else key]
            if expected is None or (isinstance(expected, float) and math.isnan(expected)):
                assert text == "", key
            else:
                assert math.isclose(float(text), expected, rel_tol=1e-12), key
        assert {"performance_pct", "control_pct", "scaling", "tokens_per_correct"} <= set(row)


def test_the_scaling_curves_are_inline_svg_one_line_per_setting(board):
    page, data, _ = board
    assert page.svgs == len({c["task"] for c in data["cells"]})
    text = " ".join(page.svg_text)
    for series in {c["series"] for c in data["cells"]}:
        assert series in text, series


def test_the_reference_rows_the_intervals_and_the_versions_are_on_the_page(board):
    page, _, html = board
    assert page.tables.count("sortable reference") == 2
    assert "s1-32B, budget forcing" in html
    assert "<td>0.4.13</td>" in html  # lm-eval version the demo recorded


def test_different_lm_eval_versions_are_stated_on_the_page(tmp_path):
    run = Path(shutil.copytree(DEMO, tmp_path / "demo"))
    results = sorted(run.rglob("results_*.json"))[0]
    data = json.loads(results.read_text())
    data["lm_eval_version"] = "0.4.0"
    results.write_text(json.dumps(data))
    page = tmp_path / "board.html"
    done = s1_eval("report", str(run), "--html", str(page))
    assert done.returncode == 0, done.stdout + done.stderr
    html = page.read_text(encoding="utf-8")
    assert "runs recorded different lm-eval versions (0.4.0, 0.4.13)" in html
    assert "The paper&#x27;s reference rows" not in html  # only with --reference


def mismatched_runs(folder: Path) -> list[Path]:
    """The demo beside a plain lm-eval run of another task (another lm-eval version), one demo
    cell edited to another task version and s1-eval version."""
    run = Path(shutil.copytree(DEMO, folder / "demo"))
    results = sorted(run.rglob("results_*.json"))[0]
    data = json.loads(results.read_text())
    data["versions"]["s1_demo_counting"] = 2.0
    data["config"]["s1_eval_version"] = "0.0.9"
    results.write_text(json.dumps(data))
    other = write_run(
        folder / "aime", "s1_aime24", {"max_tokens_thinking": 1000}, [sample_row(0, 1, 800, 1000)]
    )
    data = json.loads(other.read_text())
    data.update({"versions": {"s1_aime24": 1.0}, "lm_eval_version": "0.4.9"})
    other.write_text(json.dumps(data))
    return [run, folder / "aime"]


#: what the page says above its table about mismatched_runs
MISMATCHES = (
    "rows cover different tasks (s1_aime24, s1_demo_counting): compare within a task",
    "s1_demo_counting: runs recorded different task versions (1.0, 2.0); its curves pool them",
    "runs recorded different s1-eval versions (0.0.9, 0.1.0)",
    "runs recorded different lm-eval versions (0.4.13, 0.4.9)",
)


def test_runs_of_other_tasks_and_versions_render_with_the_mismatch_stated_above_the_table(
    tmp_path,
):
    runs = mismatched_runs(tmp_path)
    page = tmp_path / "board.html"
    done = s1_eval("report", *map(str, runs), "--html", str(page))
    assert done.returncode == 0, done.stdout + done.stderr
    html = page.read_text(encoding="utf-8")
    parsed = Page()
    parsed.feed(html)
    assert len(parsed.rows) == 7 + 1  # the demo's curves and the other run's one
    assert parsed.svgs == 2  # one figure per task
    above = html[html.index('<div class="incompatible">') : html.index("<table")]
    for line in MISMATCHES:
        assert f"<li>{escape(line)}</li>" in above, line


def test_one_task_and_one_version_state_no_mismatch(board):
    _, _, html = board
    assert 'class="incompatible"' not in html
