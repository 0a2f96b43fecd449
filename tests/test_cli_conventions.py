"""lm-eval's conventions in our commands, through the real console scripts: every subcommand's
--help, --output_path, lists and gen_kwargs in lm-eval's forms, one boolean style, and old
spellings that still work with a one-line note naming the new one.

    pytest tests/test_cli_conventions.py
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from s1_eval import cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from make_runs import row, write_run  # noqa: E402

#: s1-train's commands and what each one's help must name
TRAIN_HELP = {
    (): "s1-train estimate --config RECIPE",
    ("estimate",): "--gpu_memory_gib",
    ("select",): "--reference_args",
    ("train",): "--learning_rate",  # TRL's own options, only where asked for
}


def script(name: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name}: console script not installed next to {sys.executable}"
    return [found]


def call(*words: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(w) for w in words], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def subcommands() -> list[str]:
    parser = cli.build_parser()
    [choices] = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(choices)


def test_every_s1_eval_subcommand_has_its_own_help():
    names = subcommands()
    assert {"sweep", "report", "plot", "compare", "verify", "submit", "demo", "run"} <= set(names)
    with ThreadPoolExecutor(4) as pool:
        done = dict(
            zip(
                names, pool.map(lambda n: call(*script("s1-eval"), n, "--help"), names), strict=True
            )
        )
    top = call(*script("s1-eval"), "--help")
    assert top.returncode == 0 and all(name in top.stdout for name in names)
    for name, proc in done.items():
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
        assert proc.stdout.startswith("usage: "), name
        if name == "run":  # lm_eval's own help, with our backends registered
            assert "--output_path" in proc.stdout and "--gen_kwargs" in proc.stdout
        else:
            assert f"s1-eval {name}" in proc.stdout.splitlines()[0], name
            assert "--output " not in proc.stdout, f"{name}: --output is --output_path"


def test_every_s1_train_command_has_a_short_help_of_its_own():
    with ThreadPoolExecutor(4) as pool:
        done = dict(
            zip(
                TRAIN_HELP,
                pool.map(lambda words: call(*script("s1-train"), *words, "--help"), TRAIN_HELP),
                strict=True,
            )
        )
    for words, proc in done.items():
        assert proc.returncode == 0, (words, proc.stderr[-2000:])
        assert TRAIN_HELP[words] in proc.stdout, words
    for words in [(), ("estimate",), ("select",)]:
        lines = done[words].stdout.splitlines()
        assert len(lines) < 50 and "--learning_rate" not in done[words].stdout, words
    assert len(done[("train",)].stdout.splitlines()) > 100  # every TRL option


def test_no_words_prints_the_usage_and_fails():
    proc = call(*script("s1-train"))
    assert proc.returncode == 2 and proc.stdout.startswith("usage: s1-train")


def _run(tmp_path: Path) -> Path:
    rows = [row(i, i % 2, 50, 64) for i in range(4)]
    write_run(tmp_path / "run", "s1_aime24", {"max_tokens_thinking": 64}, rows)
    return tmp_path / "run"


def test_old_spellings_still_work_with_one_line_naming_the_new(tmp_path):
    run = _run(tmp_path)
    proc = call(*script("s1-eval"), "report", run, "--output", tmp_path / "board")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: s1-eval report: --output is now --output_path (the old spelling still works)"
    ]
    assert (tmp_path / "board" / "leaderboard.md").is_file()
    new = call(*script("s1-eval"), "report", run, "--output_path", tmp_path / "board2")
    assert new.returncode == 0 and "note:" not in new.stderr


@pytest.mark.parametrize(
    ("argv", "old", "new"),
    [
        (["compare", "a", "b", "--seed", "3"], "--seed", "--bootstrap_seed"),
        (["plot", "r", "--output", "p.png"], "--output", "--output_path"),
        (["submit", "r", "--output=b"], "--output", "--output_path"),
        (
            ["sweep", "--tasks", "t", "--budgets", "8", "--no-fewshot_as_multiturn"],
            "--no-fewshot_as_multiturn",
            "--fewshot_as_multiturn=false",
        ),
    ],
)
def test_each_renamed_option_parses_to_the_new_one(argv, old, new, capsys):
    args = cli.build_parser().parse_args(argv)
    note = f"note: s1-eval {argv[0]}: {old} is now {new} (the old spelling still works)\n"
    assert capsys.readouterr().err == note
    dest = new.lstrip("-").split("=")[0]
    given = argv[-1].split("=")[-1]
    expected = {"bootstrap_seed": 3, "output_path": given, "fewshot_as_multiturn": False}[dest]
    assert getattr(args, dest) == expected


def test_lists_and_gen_kwargs_take_lm_evals_forms():
    base = ["sweep", "--model_args", "pretrained=m"]
    spaced = cli.build_parser().parse_args(
        [
            *base,
            "--tasks",
            "a",
            "b,c",
            "--budgets",
            "8",
            "16",
            "--gen_kwargs",
            "do_sample=true",
            "temperature=0.6",
        ]
    )
    commas = cli.build_parser().parse_args(
        [
            *base,
            "--tasks",
            "a,b,c",
            "--budgets",
            "8,16",
            "--gen_kwargs",
            '{"do_sample": true, "temperature": 0.6}',
        ]
    )
    for args in (spaced, commas):
        config, _ = cli.sweep_config_from_args(args)
        assert config.tasks == ("a", "b", "c") and len(config.settings) == 2
        assert config.gen_kwargs == {"do_sample": True, "temperature": 0.6}


def test_one_boolean_style(capsys):
    parse = cli.build_parser().parse_args
    base = ["sweep", "--tasks", "t", "--budgets", "8"]
    assert parse(base).fewshot_as_multiturn is True
    assert parse([*base, "--fewshot_as_multiturn", "false"]).fewshot_as_multiturn is False
    assert parse([*base, "--fewshot_as_multiturn"]).fewshot_as_multiturn is True
    with pytest.raises(SystemExit):
        parse([*base, "--fewshot_as_multiturn", "maybe"])
    assert capsys.readouterr().err.count("\n") == 1  # one line: 'maybe': give true or false
    from s1_eval.trainer.select_config import parse_select_args

    words = ["--pool", "p.jsonl", "--output_dir", "o"]
    assert (
        parse_select_args([*words, "--apply_chat_template", "false"]).apply_chat_template is False
    )
    assert parse_select_args([*words, "--no-apply_chat_template"]).apply_chat_template is False
    assert parse_select_args(words).apply_chat_template is True
