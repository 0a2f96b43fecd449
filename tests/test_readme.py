"""The README and the docs pages' generated sections: each equals what scripts/build_docs.py
renders from results/, every test a page points at exists, every number in the README comes
from a committed file, and the README stays short with its set-up commands as they were.

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


# -- the README's numbers -------------------------------------------------------------------------

#: numbers the README uses as words of a definition, not as results: the recipes' and headings'
#: numbering, "k > 0", the scaling unit (points per 1,000 thinking tokens), the 95 % intervals
#: the reports print, and the paper's citation
DEFINITIONS = {"0", "1", "2", "3", "1,000", "95", "2025", "2501.19393"}


def _prose(text: str) -> str:
    """The text without code blocks, generated sections, inline code and link targets."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"<!-- generated: (\S+) -->.*?<!-- end: \1 -->", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def _numbers(text: str) -> set[str]:
    """The numbers that stand alone in ``text`` (not part of a name such as s1.1-32B)."""
    found = re.findall(r"(?<![\w.\-/])(\d[\d,]*(?:\.\d+)?)(?![\w\-]|\.\d)", text)
    return {n.rstrip(",") for n in found}


def readme_claims() -> list[str]:
    """Each phrase of the README that quotes a number, rebuilt from the file the number is in."""
    import yaml

    from s1_eval.core.settings import AUTO_ANSWER_ROOM
    from s1_eval.demo.report import measure_demo, read_record
    from s1_eval.report.reference import load_reference
    from s1_eval.trainer import estimate_cmd

    pyproject = (REPO / "pyproject.toml").read_text()
    python = re.search(r'requires-python = ">=([\d.]+)"', pyproject).group(1)
    lm_eval = re.search(r'"lm-eval>=([\d.]+),', pyproject).group(1)
    paper = load_reference()
    accuracy = {row[0]: row[1] for row in paper["headline_greedy"]["rows"]}
    problems = paper["extrapolation_aime24_nofigures_s1_32b"]["problems"]
    task = (REPO / "tasks" / "s1_aime24.yaml").read_text()  # !function tags: not plain YAML
    max_gen_toks = int(re.search(r"^\s+max_gen_toks: (\d+)$", task, re.M).group(1))
    recipe_path = REPO / "trainer" / "recipes" / "s1_32b.yaml"
    recipe = yaml.safe_load(recipe_path.read_text())
    gib = estimate_cmd.estimate_parser().get_default("gpu_memory_gib")
    printed = {
        n: estimate_cmd.estimate_command(["--config", str(recipe_path), "--num_gpus", str(n)])
        for n in (8, 16)
    }
    params = re.search(r"([\d.]+) B parameters", printed[16]).group(1)
    weights = float(re.search(r"^full FT x1\s+([\d.]+)", printed[16], re.M).group(1))
    fsdp = {
        n: re.search(rf"^FSDP2 x{n}(?:\s+[\d.]+){{4}}\s+([\d.]+)\s+(yes|no)$", printed[n], re.M)
        for n in (8, 16)
    }
    assert (fsdp[16].group(2), fsdp[8].group(2)) == ("yes", "no")
    demo = measure_demo(REPO / "results" / "demo")
    held_out = len(demo.native.cell.records)
    minutes = round(read_record(REPO / "results" / "demo")["runs"][0]["train_seconds"] / 60)
    cpus = demo.native.cell.hardware.split()[0]
    s11 = accuracy["s1.1-32B, no budget forcing"]
    assert accuracy["s1.1-32B, budget forcing"] == s11
    return [
        f"lm-eval {lm_eval} with no",
        f"Python {python}+",
        f"s1.1-32B has {params} B parameters: about {weights:.0f} GiB of weights in bfloat16",
        f"for up to {max_gen_toks:,} generated tokens per problem, so give it two or more "
        f"{gib:g} GiB GPUs",
        f"the delimiters and {AUTO_ANSWER_ROOM} tokens",
        f"({problems} problems, so one problem is {100 / problems:.1f} points)",
        f"s1-32B {accuracy['s1-32B, no budget forcing']} % without budget forcing and "
        f"{accuracy['s1-32B, budget forcing']} % with it; s1.1-32B {s11} % with and without",
        f"the work is {problems} problems of up to {max_gen_toks:,} generated tokens each",
        f"about {minutes} minutes",
        f"{recipe['num_train_epochs']} epochs, block {recipe['max_length']}) needs **16 GPUs of "
        f"{gib:g} GiB**",
        f"puts FSDP2 at {fsdp[16].group(1)} GiB per GPU on 16 GPUs and "
        f"{float(fsdp[8].group(1)):.0f} GiB on 8, so one 8-GPU node does not fit it",
        f"on {cpus} CPU cores",
        f"evaluates {held_out} held-out problems",
    ]


def test_every_number_in_the_readme_comes_from_a_committed_file():
    readme = " ".join((REPO / "README.md").read_text().split())
    claims = readme_claims()
    for claim in claims:
        assert claim in readme, claim
    quoted = set().union(*(_numbers(claim) for claim in claims)) | DEFINITIONS
    unaccounted = _numbers(_prose(readme)) - quoted
    assert not unaccounted, f"README numbers with no source: {sorted(unaccounted)}"


def test_a_number_with_no_source_is_caught():
    """Guards the test above: a figure typed into the prose is found; code and names are not."""
    text = "s1.1-32B on 8 GPUs `tensor_parallel_size=4` scores 61.2 %\n```\nx = 77\n```\n"
    assert _numbers(_prose(text)) == {"8", "61.2"}


def test_the_readme_keeps_the_two_set_up_commands_word_for_word():
    readme = (REPO / "README.md").read_text()
    for line in (
        "make demo    # builds .venv, then s1 in miniature: train a tiny reasoner, cap and extend "
        "its thinking -> runs/demo/",
        "make test    # builds .venv, then the whole test suite on the real engine (same as CI)",
    ):
        assert f"\n{line}\n" in readme, line


def test_no_image_on_the_package_index_page_is_a_relative_path():
    """The README is the package's index page, where a path into the repository shows nothing."""
    readme = (REPO / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme)
    images += re.findall(r"<img[^>]*\bsrc=[\"']([^\"']+)", readme)
    assert all(re.match(r"https://", image) for image in images), images


def test_the_readme_is_short_and_links_every_docs_page_it_names():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / link).is_file(), link
