"""Repeated seeds: `s1-eval sweep --seeds`, the report's per-seed table, and a sampled sweep
killed with SIGKILL mid-pass that resumes from its step store on the real engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_runs import row, write_sweep

from s1_eval import cli
from s1_eval.demo.run import STOCK_GEN_KWARGS, STOCK_TASK
from s1_eval.report.build import build_report
from s1_eval.report.leaderboard import to_markdown
from s1_eval.runs.folder import Setting
from s1_eval.runs.seeds import lm_eval_seeds, parse_seed_option, seed_option, stored_seed
from s1_eval.sweep.args import parse_seeds
from tests.conftest import (
    REPO,
    engine_args_string,
    kill_after_first_cell,
    lm_eval_command,
    rows_by_cell,
)
from tests.test_cli import assert_one_line_error, s1_eval

#: lm-eval's own default for its --seed
DEFAULT_SEED = "0,1234,1234,1234"


def test_parse_seeds():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,5,9") == [0, 5, 9]
    for bad in ("0", "x", "1,1", "-1", ""):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_seeds_repeat_every_setting_with_its_seed_in_the_gen_kwargs():
    args = cli.build_parser().parse_args(
        ["sweep", "--tasks", "t", "--budgets", "8,16", "--n_ignore", "0,2", "--ignore_str",
         "Wait", "--gen_kwargs", "temperature=0.6", "--seeds", "3"]
    )  # fmt: skip
    config, _ = cli.sweep_config_from_args(args)
    assert len(config.settings) == 12
    seeded = Setting(8, 2, "Wait", seed=1)
    assert seeded in config.settings and seeded.name == "budget=8,n_ignore=2,str=Wait,seed=1"
    assert config.cell_gen_kwargs(seeded)["seed"] == 1
    assert Setting.from_dict(seeded.to_dict()) == seeded
    assert Setting.from_gen_kwargs(config.cell_gen_kwargs(seeded)) == seeded
    assert "seed" not in Setting(8).to_dict(), "unseeded folders are written as before"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--seeds", "3"], "the cells are greedy"),
        (["--seeds", "3", "--gen_kwargs", "temperature=0.6,seed=1"], "already fix seed"),
        (["--seeds", "2,x", "--gen_kwargs", "temperature=0.6"], "--seeds=2,x"),
    ],
)
def test_bad_seeds_are_one_line(tmp_path, extra, expected):
    proc = s1_eval(
        "sweep", "--tasks", "t", "--budgets", "8", *extra, "--output_path", tmp_path / "o"
    )
    assert_one_line_error(proc, expected)
    assert not (tmp_path / "o").exists()


def test_report_gives_mean_stderr_and_per_seed_values(tmp_path):
    cells = []
    for seed, correct in ((0, 2), (1, 3), (2, 4)):  # 2, 3 and 4 of 5 correct
        rows = [row(i, int(i < correct), 10, 16) for i in range(5)]
        cells.append(("t", Setting(16, 0, seed=seed), rows))
    cells.append(("t", Setting(32, 0, seed=0), [row(i, 1, 20, 32) for i in range(5)]))
    report = build_report([write_sweep(tmp_path / "run", cells, leftover=False)])
    [repeats] = report.seeds  # budget 32 ran under one seed only: no row
    assert repeats.setting == "budget=16,n_ignore=0" and repeats.seeds == (0, 1, 2)
    assert repeats.accuracy_pct == (40.0, 60.0, 80.0) and repeats.mean_pct == 60.0
    assert repeats.stderr_pct == pytest.approx(20.0 / 3**0.5)  # stddev 20 over sqrt(3)
    assert "| budget=16,n_ignore=0 | 3 | 60.0 ± 11.5 | 0: 40.0, 1: 60.0, 2: 80.0 |" in (
        to_markdown(report)
    )
    assert {c.series for c in report.curves} >= {"n_ignore=0,seed=0", "n_ignore=0,seed=1"}


def test_seeds_on_a_task_that_says_do_sample_false_are_refused(tiny_task_dir, tmp_path):
    # the tiny task's YAML has do_sample: false, which wins over a temperature in lm-eval
    proc = s1_eval("sweep", "--tasks", "s1_test_arith", "--include_path", tiny_task_dir,
                   "--budgets", "8", "--gen_kwargs", "temperature=1.0", "--seeds", "2",
                   "--model_args", "pretrained=unused", "--output_path", tmp_path / "o")  # fmt: skip
    assert_one_line_error(proc, "--seeds: task s1_test_arith generates greedily", "do_sample=true")
    assert not (tmp_path / "o").exists()


@pytest.mark.engine
def test_sampled_seeds_differ_and_resume_after_sigkill(smollm2_dir, tmp_path):
    """Stock SmolLM2 on the demo's arithmetic (which it partly solves), sampled at T=1."""
    out = tmp_path / "run"
    gen_kwargs = {**STOCK_GEN_KWARGS, "do_sample": "true", "temperature": 1.0}
    command = [sys.executable, "-m", "s1_eval.cli", "sweep", "--model_args",
               engine_args_string(smollm2_dir, preset="plain"), "--tasks", STOCK_TASK,
               "--budgets", "32", "--limit", "16", "--seeds", "3", "--apply_chat_template",
               "--gen_kwargs", ",".join(f"{k}={v}" for k, v in gen_kwargs.items()),
               "--output_path", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kill_after_first_cell(command, env)  # mid-pass: the other cells are still generating
    kept = rows_by_cell(out, STOCK_TASK)
    assert len(kept) == 1, "the finished cell survives the kill"
    assert (out / "trajectories.jsonl").read_text().splitlines(), "seeded steps are stored"

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert "1 of 3 cells already finished" in resumed.stdout
    [(from_store, _)] = re.findall(r"(\d+) from the store; (\d+) tokens generated", resumed.stdout)
    assert int(from_store) > 0, "steps generated before the kill are not generated again"
    rows = rows_by_cell(out, STOCK_TASK)
    assert all(rows[name] == kept[name] for name in kept), "the finished cell is untouched"
    responses = {name: tuple(r[1] for r in cell) for name, cell in rows.items()}
    assert len(set(responses.values())) == 3, "each seed samples its own answers"
    [repeats] = build_report([out]).seeds
    print(f"per-seed accuracy (16 problems): {repeats.accuracy_pct}")
    assert repeats.seeds == (0, 1, 2) and len(set(repeats.accuracy_pct)) >= 2, repeats
    assert repeats.stderr_pct > 0


@pytest.mark.parametrize("text", ["42", "0,None,8,52", "1,2,3", "None", "7,7,7,7"])
def test_seed_option_reads_as_lm_evals_own(text):
    from lm_eval._cli.utils import _int_or_none_list_arg_type

    assert list(parse_seed_option(text)) == _int_or_none_list_arg_type(3, 4, DEFAULT_SEED, text)


@pytest.mark.parametrize("text", ["x", "1,2", "1,2,3,4,5", "", "1.5"])
def test_a_seed_option_lm_eval_refuses_is_refused_naming_it(text):
    from lm_eval._cli.utils import _int_or_none_list_arg_type

    with pytest.raises(ValueError):
        _int_or_none_list_arg_type(3, 4, DEFAULT_SEED, text)
    with pytest.raises(ValueError, match=f"--seed={re.escape(text)}: give one integer"):
        parse_seed_option(text)


def test_sweep_json_keeps_its_old_integer_form_where_it_means_the_same():
    """Folders written when --seed was python's seed alone (`seed: 0`) resume as they are."""
    assert stored_seed(parse_seed_option(DEFAULT_SEED)) == 0 and stored_seed(0) == 0
    assert lm_eval_seeds(5) == (5, 1234, 1234, 1234) and stored_seed((5, 1234, 1234, 1234)) == 5
    assert stored_seed(parse_seed_option("5")) == [5, 5, 5, 5]
    assert seed_option(5) == "5,1234,1234,1234" and seed_option([0, None, 8, 52]) == "0,None,8,52"


def test_a_sweep_runs_under_the_seeds_lm_eval_runs_under(tmp_path):
    """`s1-eval sweep --seed 7` and `lm_eval --seed 7` record the same four seeds (the sweep
    used to set python's alone)."""
    seed = "7"
    task = ("--tasks", "s1_fake", "--include_path", "tests/fixtures/s1_fake_task", "--limit", "1")
    sweep = s1_eval("sweep", "--model", "dummy", *task, "--budgets", "32", "--seed", seed,
                    "--no_report", "--output_path", tmp_path / "sweep")  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    plain = subprocess.run(
        [*lm_eval_command(), "--model", "dummy", *task, "--seed", seed,
         "--output_path", str(tmp_path / "plain")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr[-3000:]

    def seeds(folder: Path) -> list:
        [results] = folder.rglob("results_*.json")
        recorded = json.loads(results.read_text())["config"]
        return [
            recorded[key] for key in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")
        ]

    assert seeds(tmp_path / "sweep") == seeds(tmp_path / "plain") == list(parse_seed_option(seed))
    fixed = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["fixed"]
    assert lm_eval_seeds(fixed["seed"]) == parse_seed_option(seed)


def test_a_bad_seed_is_one_line_before_anything_runs(tmp_path):
    proc = s1_eval("sweep", "--model", "dummy", "--tasks", "t", "--budgets", "8", "--seed", "1,2",
                   "--output_path", tmp_path / "o")  # fmt: skip
    assert_one_line_error(proc, "error: --seed=1,2: give one integer (all four seeds)")
    assert not (tmp_path / "o").exists()
