"""The generated sections of README.md and the docs pages equal what scripts/build_docs.py
renders from results/, and every test a page points at exists.

    pytest tests/test_readme.py

No engine: the Performance page's tables, the sentences quoting their numbers and the commands
that reproduce them are rendered from the committed results/bench/*.json (the demo's tables
from results/demo), so none of them can drift from the run it reports.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = ("forcing", "sweep", "server")


def _load_build_docs():
    # scripts/ is not a package: load the script by its path, as it runs
    spec = importlib.util.spec_from_file_location("build_docs", REPO / "scripts" / "build_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_docs = _load_build_docs()
PAGES = build_docs.marked_files()


def _placed() -> list[tuple[Path, str]]:
    """(page, section) for every generated section a page holds."""
    return [
        (page, name)
        for page in PAGES
        for name in build_docs.SECTIONS
        if build_docs.section(page.read_text(), name) is not None
    ]


def test_every_benchmark_has_a_generated_section_and_command():
    for bench in BENCHMARKS:
        assert f"bench-{bench}" in build_docs.SECTIONS
        assert f"bench-{bench}-command" in build_docs.SECTIONS


def test_every_generated_section_is_on_a_page():
    placed = {name for _, name in _placed()}
    assert placed == set(build_docs.SECTIONS), set(build_docs.SECTIONS) - placed


@pytest.mark.parametrize(
    ("page", "name"), _placed(), ids=lambda x: x.name if isinstance(x, Path) else x
)
def test_generated_section_equals_its_render(page, name):
    current = build_docs.section(page.read_text(), name)
    expected = build_docs.SECTIONS[name]()
    where = str(page.relative_to(REPO))
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True), expected.splitlines(keepends=True), where, name
        )
    )
    assert current == expected, (
        f"{where}: section '{name}' is stale: run scripts/build_docs.py\n{diff}"
    )


def test_rendering_leaves_a_current_page_unchanged():
    for page in PAGES:
        text = page.read_text()
        assert build_docs.render_sections(text, {}) == text, f"{page}: run scripts/build_docs.py"


def test_a_stale_section_is_replaced():
    """Guards the two tests above: an edited section is rendered back."""
    name = next(iter(build_docs.SECTIONS))
    text = f"prose\n<!-- generated: {name} -->\nedited by hand\n<!-- end: {name} -->\nmore prose\n"
    rendered = build_docs.render_sections(text, {})
    assert "edited by hand" not in rendered
    assert rendered.startswith("prose\n") and rendered.endswith("more prose\n")


@pytest.mark.parametrize("name", ["sweep_bench", "server_bench"])
def test_bench_markdown_comes_from_the_same_renderer(name):
    """The .md next to each JSON is what its bench script writes from that JSON."""
    tables = build_docs.bench_tables()
    results = REPO / "results" / "bench"
    record = json.loads((results / f"{name}.json").read_text())
    render = {"sweep_bench": tables.sweep_markdown, "server_bench": tables.server_markdown}[name]
    assert render(record) == (results / f"{name}.md").read_text(), f"results/bench/{name}.md"


def test_every_test_a_page_points_at_exists():
    """The "what survives what" table (and any other line) names real tests."""
    named = []
    for page in PAGES:
        named += re.findall(r"(tests/test_\w+\.py)(?: `(test_\w+)`)?", page.read_text())
    assert len(named) >= 9
    for path, test in named:
        assert (REPO / path).is_file(), path
        if test:
            assert f"def {test}(" in (REPO / path).read_text(), f"{path}::{test}"
