"""The s1-eval command line: argument parsing, report/plot/demo, run, and a sweep end to end."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from make_runs import row, write_run  # noqa: E402

from s1_eval import cli  # noqa: E402
from s1_eval.run_folder import Setting  # noqa: E402


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
                "--output",
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
    assert cli.main(["plot", str(tmp_path / "run"), "--output", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").is_file()
    assert cli.main(["report", str(tmp_path / "nothing")]) == 1


def test_run_is_lm_eval_with_our_models(monkeypatch):
    import lm_eval.__main__

    seen = {}

    def fake_cli():
        from lm_eval.api.registry import model_registry

        seen["argv"] = list(sys.argv)
        seen["registered"] = "s1_vllm" in model_registry

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
        "--output",
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
