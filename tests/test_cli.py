"""The s1-eval command line: argument parsing, report/plot/demo, run, and a sweep end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from make_runs import row, write_run, write_sweep  # noqa: E402

from s1_eval import cli  # noqa: E402
from s1_eval.runs.folder import Setting  # noqa: E402
from tests.conftest import s1_eval_command  # noqa: E402


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def test_sweep_arguments_to_config():
    args = parse(
        "sweep",
        "--model_args",
        "pretrained=/m/s1-32B,dtype=bfloat16",
        "--tasks",
        "s1_aime24,s1_math500",
        "--budgets",
        "512,none",
        "--n_ignore",
        "0,2",
        "--ignore_str",
        "Wait",
        "--ignore_str",
        "Hmm,",
        "--gen_kwargs",
        "temperature=0,max_gen_toks=4096",
        "--limit",
        "0.5",
        "--preset",
        "s1",
        "--apply_chat_template",
    )
    config, output = cli.sweep_config_from_args(args)
    assert config.tasks == ("s1_aime24", "s1_math500")
    assert config.model == "s1_vllm" and config.model_args.endswith(",preset=s1")
    assert Setting(512, 2, "Hmm,") in config.settings and Setting(None, 0) in config.settings
    assert len(config.settings) == 6
    assert config.gen_kwargs == {"temperature": 0, "max_gen_toks": 4096}
    assert config.limit == 0.5 and config.apply_chat_template is True
    assert output == Path("runs") / "s1-32B__s1_aime24+s1_math500"
    config, _ = cli.sweep_config_from_args(
        parse("sweep", "--tasks", "t", "--budgets", "8", "--limit", "3")
    )
    assert config.limit == 3 and isinstance(config.limit, int) and config.gen_kwargs == {}


def test_metadata_is_parsed_as_lm_eval_does():
    base = ("sweep", "--tasks", "t", "--budgets", "8", "--model_args", "pretrained=m")
    config, _ = cli.sweep_config_from_args(
        parse(*base, "--metadata", "demo_num_problems=3", "s1_data_dir=data")
    )
    assert config.metadata == {"demo_num_problems": 3, "s1_data_dir": "data"}
    assert config.task_metadata() == {
        "pretrained": "m",
        "demo_num_problems": 3,
        "s1_data_dir": "data",
    }
    config, _ = cli.sweep_config_from_args(parse(*base, "--metadata", '{"demo_seed": 7}'))
    assert config.metadata == {"demo_seed": 7}
    assert cli.sweep_config_from_args(parse(*base))[0].metadata == {}


def test_report_and_plot_commands(tmp_path, capsys):
    write_run(tmp_path / "run", "s1_aime24", {"max_tokens_thinking": 64}, [row(0, 1, 60, 64)])
    assert (
        cli.main(
            [
                "report",
                str(tmp_path / "run"),
                "--output_path",
                str(tmp_path / "board"),
                "--plot",
                "--reference",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "acc. points per 1k thinking tokens" in out and "budget=64" in out
    assert (tmp_path / "board" / "scaling.png").is_file()
    assert (tmp_path / "board" / "leaderboard.json").is_file()
    assert cli.main(["plot", str(tmp_path / "run"), "--output_path", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").is_file()
    (tmp_path / "empty").mkdir()
    assert cli.main(["report", str(tmp_path / "empty"), "--output_path", str(tmp_path / "e")]) == 1
    assert not (tmp_path / "e").exists()  # nothing to report: nothing written


def test_run_is_lm_eval_with_our_models(monkeypatch):
    import lm_eval.__main__

    seen = {}

    def fake_cli():
        # lm-eval's CLI resolves the model name like this; the startup hook registers ours
        from lm_eval.api.registry import get_model

        seen["argv"] = list(sys.argv)
        seen["registered"] = get_model("s1_vllm").__name__ == "S1VLLM"

    monkeypatch.setattr(lm_eval.__main__, "cli_evaluate", fake_cli)
    monkeypatch.setattr(sys, "argv", ["s1-eval"])
    assert cli.main(["run", "--model", "s1_vllm", "--tasks", "s1_aime24"]) == 0
    assert seen == {
        "argv": ["lm_eval", "--model", "s1_vllm", "--tasks", "s1_aime24"],
        "registered": True,
    }


def test_missing_required_arguments():
    with pytest.raises(SystemExit):
        parse("sweep", "--tasks", "t")
    with pytest.raises(SystemExit):
        cli.main([])


def test_sweep_command_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    argv = [
        "sweep",
        "--model",
        "dummy",
        "--tasks",
        "s1_fake",
        "--budgets",
        "32,64",
        "--include_path",
        "tests/fixtures/s1_fake_task",
        "--limit",
        "2",
        "--output_path",
        str(tmp_path / "run"),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "| dummy | s1_fake | budget=32 | 2 |" in out
    for name in (
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.json",
        "cells.csv",
        "scaling.png",
        "sweep.json",
    ):
        assert (tmp_path / "run" / name).is_file(), name
    assert len(list((tmp_path / "run").glob("cells/*/cell.json"))) == 2
    assert cli.main(argv) == 0  # resumed: nothing left to run
    assert "2 of 2 cells already finished" in capsys.readouterr().out
    labelled = [*argv[:-1], str(tmp_path / "labelled"), "--label", "my model (dummy)"]
    assert cli.main(labelled) == 0
    assert "| my model (dummy) | s1_fake | budget=32 | 2 |" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The real command line: bad input is one line and exit 2, reports never clobber
# ---------------------------------------------------------------------------------------------

TASK_DIR = "tests/fixtures/s1_fake_task"


def s1_eval(*argv, cwd=ROOT):
    """Run the installed `s1-eval` command (the console script beside this interpreter)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(
        [*s1_eval_command(), *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(proc, *expected):
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == proc.stderr.strip().splitlines()[-1], proc.stderr
    for text in expected:
        assert text in errors[0], errors[0]


SWEEP = ("sweep", "--tasks", "s1_fake", "--include_path", TASK_DIR, "--budgets")
BAD_INPUT = [
    pytest.param(
        [*SWEEP, "8", "--limit", "x"], ["error: --limit: 'x': give a positive"], id="limit"
    ),
    pytest.param(
        [*SWEEP, "8,0"], ["error: budgets='0' is invalid: expected a positive integer"], id="budget"
    ),
    pytest.param([*SWEEP, "8", "--n_ignore", "a"], ["error: n_ignore: 'a'"], id="n_ignore"),
    pytest.param(
        [*SWEEP, "8", "--gen_kwargs", "max_token_thinking=8"],
        ["error: gen_kwargs: ", "'max_token_thinking'", "Did you mean 'max_tokens_thinking'"],
        id="gen_kwargs-typo",
    ),
    pytest.param(
        [*SWEEP, "8", "--metadata", "{bad"], ["error: --metadata: Invalid JSON"], id="metadata"
    ),
    pytest.param([*SWEEP, "8", "--model", "nope"], ["error: model: 'nope'"], id="model"),
    pytest.param(["report", "no/such/run"], ["error: no/such/run: no such run folder"], id="runs"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2(tmp_path, argv, expected):
    proc = s1_eval(*argv, "--output_path", tmp_path / "out")
    assert_one_line_error(proc, *expected)
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


def test_debug_shows_the_traceback():
    proc = s1_eval("--debug", "report", "no/such/run")
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: no/such/run")


def test_a_corrupt_results_file_never_clobbers_the_leaderboard(tmp_path):
    results = write_run(
        tmp_path / "run", "s1_aime24", {"max_tokens_thinking": 64}, [row(0, 1, 60, 64)]
    )
    board = tmp_path / "board"
    assert s1_eval("report", tmp_path / "run", "--output_path", board, "--plot").returncode == 0
    before = {p.name: p.read_bytes() for p in board.iterdir()}
    assert set(before) == {
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.json",
        "cells.csv",
        "scaling.png",
    }
    results.write_text(results.read_text()[:40])  # cut short
    proc = s1_eval("report", tmp_path / "run", "--output_path", board, "--plot")
    assert_one_line_error(proc, f"error: {results}: unreadable results file")
    assert {p.name: p.read_bytes() for p in board.iterdir()} == before  # untouched, no temp files


def test_a_partial_runs_folder_stays_readable(tmp_path):
    from s1_eval.runs.folder import Setting

    run = write_sweep(
        tmp_path / "sweep",
        [
            ("s1_aime24", Setting(64), [row(0, 1, 60, 64), row(1, 0, 64, 64)]),
            ("s1_aime24", Setting(128), [row(0, 1, 100, 128), row(1, 1, 120, 128)]),
        ],
    )
    # a plain lm-eval folder whose samples file was cut by a kill
    plain = write_run(
        tmp_path / "plain", "s1_math500", {"max_tokens_thinking": 64}, [row(0, 1, 9, 64)]
    )
    samples = next(plain.parent.glob("samples_*.jsonl"))
    samples.write_text(samples.read_text()[:30])
    proc = s1_eval("report", run, tmp_path / "plain", "--output_path", tmp_path / "board")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "budget=64" in proc.stdout and "budget=128" in proc.stdout
    assert f"{samples}: incomplete" in proc.stdout  # noted, skipped
    data = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert [c["setting"] for c in data["cells"]] == ["budget=64", "budget=128"]


def test_sweep_metadata_reaches_the_task_through_the_command_line(tmp_path):
    proc = s1_eval(
        "sweep", "--model", "dummy", "--tasks", "s1_demo_arithmetic", "--include_path",
        "tasks/demo", "--budgets", "8", "--metadata", "demo_num_problems=3", "--output_path",
        tmp_path / "run", "--no_report",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (samples,) = tmp_path.glob("run/cells/*/*/samples_*.jsonl")
    assert len(samples.read_text().splitlines()) == 3
