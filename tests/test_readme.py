"""README.md's generated sections equal what scripts/update_readme.py renders from results/.

    pytest tests/test_readme.py

No engine: the Performance part's tables, the sentences quoting their numbers and the commands
that reproduce them are rendered from the committed results/bench/*.json (the demo section from
results/demo), so none of them can drift from the run it reports.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = ("forcing", "sweep", "server")


def _load_update_readme():
    # scripts/ is not a package: load the script by its path, as it runs
    path = REPO / "scripts" / "update_readme.py"
    spec = importlib.util.spec_from_file_location("update_readme", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_readme = _load_update_readme()


def test_every_benchmark_has_a_generated_section_and_command():
    for bench in BENCHMARKS:
        assert f"bench-{bench}" in update_readme.SECTIONS
        assert f"bench-{bench}-command" in update_readme.SECTIONS


@pytest.mark.parametrize("name", list(update_readme.SECTIONS))
def test_readme_section_equals_its_render(name):
    readme = (REPO / "README.md").read_text()
    current = update_readme.section(readme, name)
    expected = update_readme.SECTIONS[name]()
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True), expected.splitlines(keepends=True), "README.md", name
        )
    )
    assert current == expected, (
        f"README section '{name}' is stale: run scripts/update_readme.py\n{diff}"
    )


def test_update_readme_leaves_a_current_readme_unchanged():
    readme = (REPO / "README.md").read_text()
    assert update_readme.render(readme) == readme, "run scripts/update_readme.py"


@pytest.mark.parametrize("name", ["sweep_bench", "server_bench"])
def test_bench_markdown_comes_from_the_same_renderer(name):
    """The .md next to each JSON is what its bench script writes from that JSON."""
    tables = update_readme.bench_tables()
    results = REPO / "results" / "bench"
    record = json.loads((results / f"{name}.json").read_text())
    render = {"sweep_bench": tables.sweep_markdown, "server_bench": tables.server_markdown}[name]
    assert render(record) == (results / f"{name}.md").read_text(), f"results/bench/{name}.md"


def test_every_test_the_readme_points_at_exists():
    """The "what survives what" table (and any other README line) names real tests."""
    import re

    readme = (REPO / "README.md").read_text()
    named = re.findall(r"(tests/test_\w+\.py)(?: `(test_\w+)`)?", readme)
    assert len(named) >= 9
    for path, test in named:
        assert (REPO / path).is_file(), path
        if test:
            assert f"def {test}(" in (REPO / path).read_text(), f"{path}::{test}"
