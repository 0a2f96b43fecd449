"""The docs site: every generated page is what scripts/build_docs.py renders now, the reference
tables cover exactly what the code accepts, the strict build fails on a dead link, and the
examples on the pages agree with each other.

    pytest tests/test_docs.py

No engine. The site itself is opened in a browser by tests/test_docs_browser.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MKDOCS = Path(sys.executable).with_name("mkdocs")


def _load_build_docs():
    # scripts/ is not a package: load the script by its path, as it runs
    spec = importlib.util.spec_from_file_location("build_docs", REPO / "scripts" / "build_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_docs = _load_build_docs()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    """Every generated file, written by the script into a temporary folder."""
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_docs.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_generated_file_is_current(regenerated):
    written = sorted(str(p.relative_to(regenerated)) for p in regenerated.rglob("*") if p.is_file())
    assert "docs/reference/cli.md" in written and "README.md" in written
    stale = [p for p in written if (REPO / p).read_bytes() != (regenerated / p).read_bytes()]
    assert not stale, f"stale: {', '.join(stale)}: run python scripts/build_docs.py"


def test_a_stale_page_is_named_by_the_check(tmp_path):
    """Guards the test above: --check fails naming a page that differs from its render."""
    expected = {"docs/reference/gen-kwargs.md": b"new text\n", "docs/paper.md": b"same\n"}
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    (tmp_path / "docs" / "reference" / "gen-kwargs.md").write_bytes(b"old text\n")
    (tmp_path / "docs" / "paper.md").write_bytes(b"same\n")
    assert build_docs.stale(expected, tmp_path) == ["docs/reference/gen-kwargs.md"]


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = re.findall(r":\s*(\S+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.MULTILINE)
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages


# -- the reference tables are the code's --------------------------------------------------------


def test_the_gen_kwargs_table_is_what_validation_accepts():
    from dataclasses import fields

    from s1_eval.core import settings

    assert set(settings.SAMPLING_GEN_KWARGS) == {f.name for f in fields(settings.Sampling)} | {
        "do_sample"
    }
    page = (DOCS / "reference" / "gen-kwargs.md").read_text()
    for key in settings.ACCEPTED_KEYS:
        assert f"`{key}`" in page, key
    with pytest.raises(ValueError, match="Unknown gen_kwarg 'thinking_n_ignores'"):
        settings.parse_gen_kwargs({"thinking_n_ignores": 1})


def test_every_model_arg_a_backend_accepts_has_a_meaning_and_no_other():
    from s1_eval.backends.model_args import MEANINGS

    accepted = set()
    for cls in build_docs._backend_classes().values():
        accepted |= set(cls.accepted_model_args())
    assert set(MEANINGS) == accepted, (
        f"without a meaning: {sorted(accepted - set(MEANINGS))}; "
        f"accepted by no backend: {sorted(set(MEANINGS) - accepted)}"
    )


def test_the_cli_reference_names_every_option_of_every_command():
    from s1_eval.cli import build_parser

    page = (DOCS / "reference" / "cli.md").read_text()
    for name, _, parser in build_docs._subcommands(build_parser()):
        assert f"### `s1-eval {name}`" in page
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue  # every command has -h / --help
            for option in action.option_strings:
                assert f"`{option}`" in page, f"s1-eval {name} {option}"


# -- the strict build -----------------------------------------------------------------------------


def _build(site_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "-f", str(site_root / "mkdocs.yml"), "-d",
         str(site_root / "site")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    "link, complaint",
    [
        ("[gone](no-such-page.md)", "no-such-page.md', but the target is not found"),
        ("[gone](training.md#no-such-part)", "does not contain an anchor '#no-such-part'"),
    ],
)
def test_the_strict_build_fails_on_a_dead_link(tmp_path, link, complaint):
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with (tmp_path / "docs" / "install.md").open("a") as page:
        page.write(f"\nSee {link}.\n")
    done = _build(tmp_path)
    assert done.returncode != 0
    assert complaint in done.stdout + done.stderr


# -- the examples agree ---------------------------------------------------------------------------


def _commands(text: str) -> list[list[str]]:
    """Every command line in the page's bash blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(shlex.split(line))
    return commands


def _examples() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", _examples(), ids=lambda p: p.name)
def test_a_compare_example_uses_settings_its_sweep_creates(page):
    """`s1-eval compare RUN:SETTING` on a page names a setting that the `s1-eval sweep` writing
    RUN on the same page creates."""
    from s1_eval.cli import build_parser
    from s1_eval.sweep.args import sweep_config_from_args

    sweeps: dict[str, set[str]] = {}
    for words in _commands(page.read_text()):
        if words[:2] == ["s1-eval", "sweep"]:
            config, output = sweep_config_from_args(build_parser().parse_args(words[1:]))
            sweeps[str(output)] = {s.name for s in config.settings}
        if words[:2] == ["s1-eval", "compare"]:
            for side in [w for w in words[2:4] if ":" in w]:
                run, setting = side.split(":", 1)
                if run in sweeps:
                    assert setting in sweeps[run], f"{page.name}: {side} is not among {sweeps[run]}"


def test_the_example_check_sees_a_setting_the_sweep_never_creates(tmp_path):
    """Guards the test above with the old example: budget=none from a sweep of fixed budgets."""
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\ns1-eval sweep --model_args pretrained=M --tasks s1_aime24 \\\n"
        "    --budgets 512,1024 --n_ignore 0,2 --ignore_str Wait --output_path runs/s1\n"
        "s1-eval compare runs/s1:budget=none,n_ignore=0 runs/s1:budget=512,n_ignore=0\n```\n"
    )
    with pytest.raises(AssertionError, match="budget=none,n_ignore=0 is not among"):
        test_a_compare_example_uses_settings_its_sweep_creates(page)
