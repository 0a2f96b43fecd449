"""Control methods side by side: each method's cells, prompts and bounds; the real CLI on the
scripted model (which obeys prompted budgets); and a real engine running two methods in one
command, killed and resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from s1_eval.demo.run import STOCK_GEN_KWARGS, STOCK_TASK
from s1_eval.report.control import level_rank, run_bounds
from s1_eval.report.metrics import RunPoint, control_pct
from s1_eval.runs.folder import Setting
from s1_eval.sweep.methods import (
    MethodGrid,
    method_settings,
    parse_template_levels,
    prompt_sentence,
    template_variables,
)
from tests.conftest import engine_args_string, kill_after_first_cell, read_samples, rows_by_cell
from tests.test_cli import assert_one_line_error, s1_eval

FORCING = (Setting(32), Setting(64), Setting(32, 2, "Wait"))


def _grid(*methods, budgets=(32, 64), **extra):
    return method_settings(MethodGrid(tuple(methods), budgets, **extra), FORCING)


def test_each_method_turns_the_budgets_into_its_own_cells():
    tokens = _grid("prompt-tokens")
    assert [s.name for s in tokens] == [
        "method=prompt-tokens,budget=32",
        "method=prompt-tokens,budget=64",
    ]
    assert tokens[0].gen_kwargs() == {}, "a budget stated in the prompt is not forced"
    assert prompt_sentence(tokens[1]) == "Think for up to 64 tokens."
    forced = _grid("prompt-tokens+forcing")[0]
    assert forced.gen_kwargs() == {"max_tokens_thinking": 32}
    assert prompt_sentence(forced) == "Think for up to 32 tokens."

    steps = _grid("prompt-steps+forcing", step_tokens=10)
    assert [(s.level, s.budget, s.gen_kwargs()) for s in steps] == [
        ("3", 30, {"max_tokens_thinking": 30}),
        ("6", 60, {"max_tokens_thinking": 60}),
    ]
    assert prompt_sentence(steps[0]) == "Think for up to 3 steps."

    baseline, short, long = _grid("prompt-class")
    assert baseline == Setting(), "the classes are judged against the run without a prompt"
    assert prompt_sentence(short).startswith("Answer after a short amount of thinking.")
    assert prompt_sentence(long).startswith("Answer after a long amount of thinking.")
    assert short.gen_kwargs() == long.gen_kwargs() == {}

    rejection = _grid("rejection")[0]
    assert rejection.gen_kwargs() == {"max_tokens_thinking": 32, "rejection_sample": True}

    levels = parse_template_levels("enable_thinking=false,true")
    off, on = _grid("chat-template", template_levels=levels)
    assert template_variables(off) == {"enable_thinking": False}
    assert template_variables(on) == {"enable_thinking": True}
    assert prompt_sentence(on) is None

    assert _grid("forcing") == FORCING, "forcing is the sweep's own grid, names unchanged"
    for setting in _grid("forcing", "prompt-steps", "prompt-class", "rejection", step_tokens=8):
        assert Setting.from_dict(setting.to_dict()) == setting


def test_bad_method_grids_name_the_option():
    with pytest.raises(
        ValueError, match=r"'prompt-token' is not a method\. Did you mean 'prompt-tokens'"
    ):
        MethodGrid(("prompt-token",), (32,))
    with pytest.raises(ValueError, match="prompt-tokens needs numeric --budgets"):
        MethodGrid(("prompt-tokens",), (None,))
    with pytest.raises(ValueError, match="chat-template needs --template_levels"):
        MethodGrid(("chat-template",), (32,))
    with pytest.raises(ValueError, match="at least two values"):
        parse_template_levels("reasoning_effort=high")


def test_class_control_is_judged_against_the_run_without_a_prompt():
    """The paper's class-conditional Control: "short" must not think longer than no prompt,
    "long" not shorter; a model that thinks longer under both prompts gets 50 %."""
    short, long = (
        Setting(method="prompt-class", level="short"),
        Setting(method="prompt-class", level="long"),
    )
    thinking = {Setting(): 100.0, short: 120.0, long: 150.0}
    assert run_bounds(short, thinking) == (None, 100.0)
    assert run_bounds(long, thinking) == (100.0, None)
    points = [
        RunPoint(
            thinking[s], 50.0, a_min=run_bounds(s, thinking)[0], a_max=run_bounds(s, thinking)[1]
        )
        for s in (short, long)
    ]
    assert control_pct(points) == 50.0
    assert run_bounds(short, {short: 1.0, long: 2.0}) == (None, None), "no baseline: unbounded"


def test_chat_template_levels_must_think_in_their_intended_order():
    low, medium, high = (
        Setting(method="chat-template", level=f"reasoning_effort={v}")
        for v in ("low", "medium", "high")
    )
    thinking = {low: 50.0, medium: 40.0, high: 90.0}
    assert run_bounds(low, thinking) == (None, 40.0)  # low thinks more than medium: out
    assert run_bounds(medium, thinking) == (50.0, 90.0)
    assert run_bounds(high, thinking) == (40.0, None)
    assert level_rank("enable_thinking=false") < level_rank("enable_thinking=true")
    assert level_rank("n=8") < level_rank("n=16")
    odd = Setting(method="chat-template", level="style=terse")
    assert run_bounds(odd, {odd: 1.0, low: 2.0}) == (None, None), "no known order: unbounded"


def test_budgeted_methods_are_bounded_by_their_budget():
    for setting in _grid("prompt-tokens", "prompt-steps", "rejection", step_tokens=16):
        assert run_bounds(setting, {}) == (None, float(setting.budget))


SCRIPTED = ("sweep", "--model", "s1_scripted", "--tasks", "s1_demo_arithmetic", "--limit", "6")


def test_methods_sweep_and_table_through_the_cli(tmp_path):
    """Three methods in one command: each prompted cell's questions carry its sentence, the
    chat-template level reaches the template, cell.json records both, and the obedient toy
    gets Control 100 % in the Table 3 layout."""
    out = tmp_path / "run"
    proc = s1_eval(*SCRIPTED, "--budgets", "32,96", "--methods", "prompt-tokens,prompt-class,chat-template",
                   "--template_levels", "reasoning_effort=low,high", "--apply_chat_template",
                   "--output_path", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    cells = {p.name: p for p in (out / "cells").iterdir()}
    assert len(cells) == 2 + 3 + 2, sorted(cells)

    def prompts(cell: str) -> set[str]:
        rows = read_samples(cells[f"s1_demo_arithmetic__{cell}"], "s1_demo_arithmetic")
        return {r["arguments"]["gen_args_0"]["arg_0"] for r in rows}

    assert all(
        "Think for up to 32 tokens.<|im_end|>" in p
        for p in prompts("method=prompt-tokens,budget=32")
    )
    assert all("Answer after a long amount" in p for p in prompts("method=prompt-class,level=long"))
    assert not any("Answer after" in p or "Think for" in p for p in prompts("budget=none"))
    high = "method=chat-template,level=reasoning_effort=high"
    assert all(p.startswith("<|im_start|>system\nReasoning: high") for p in prompts(high))
    marker = json.loads((cells[f"s1_demo_arithmetic__{high}"] / "cell.json").read_text())
    assert marker["control"] == {
        "method": "chat-template",
        "prompt_suffix": None,
        "chat_template_variables": {"reasoning_effort": "high"},
    }
    [results] = cells[f"s1_demo_arithmetic__{high}"].rglob("results_*.json")
    assert json.loads(results.read_text())["config"]["s1_chat_template_args"] == {
        "reasoning_effort": "high"
    }

    table = s1_eval("report", out, "--methods", "--reference")
    assert table.returncode == 0, table.stderr[-3000:]
    section = table.stdout.split("## Control methods")[1].split("The paper's Table 3")[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| s1_scripted")]
    methods = {cells[2]: cells[4] for cells in rows}
    assert methods["prompt-tokens"] == "100%" and methods["prompt-class"] == "100%", table.stdout
    assert methods["chat-template"] == "100%", table.stdout
    assert "| token-conditional | 40% | -24 | 40.0 | 5 |" in table.stdout, "the paper's rows beside"
    written = json.loads((out / "methods.json").read_text())
    assert {r["method"] for r in written} == {
        "forcing",
        "prompt-tokens",
        "prompt-class",
        "chat-template",
    }


@pytest.mark.parametrize(
    ("extra", "env", "expected"),
    [
        (["--methods", "prompt-tokens,bogus"], {}, "methods: 'bogus' is not a method"),
        (["--methods", "chat-template", "--template_levels", "enable_thinking=false,true"], {},
         "methods: chat-template renders each level with the chat template; add --apply_chat_template"),
        (["--methods", "prompt-tokens"], {"PROMPTTOKEN": "512"}, "methods: PROMPTTOKEN is set"),
        (["--step_tokens", "8"], {}, "step_tokens: only used with --methods"),
        (["--methods", "rejection", "--gen_kwargs", "temperature=0"], {}, "rejection_sample=true needs temperature > 0"),
    ],
    ids=["unknown", "template-without-chat", "fork-variable", "stray-option", "greedy-rejection"],
)  # fmt: skip
def test_bad_methods_input_is_one_line_before_any_engine(tmp_path, extra, env, expected):
    os.environ.update(env)
    try:
        proc = s1_eval(*SCRIPTED, "--budgets", "32", *extra, "--output_path", tmp_path / "run")
    finally:
        for key in env:
            os.environ.pop(key)
    assert_one_line_error(proc, expected)
    assert not (tmp_path / "run" / "cells").exists(), "nothing written"


@pytest.mark.engine
def test_two_methods_in_one_command_resume_after_sigkill(smollm2_dir, tmp_path):
    """Stock SmolLM2 (plain delimiters): prompted token budgets and class prompts in one pass
    of one loaded model; SIGKILL after the first finished cell, the same command finishes."""
    out = tmp_path / "run"
    gen_kwargs = ",".join(f"{k}={v}" for k, v in STOCK_GEN_KWARGS.items())
    command = [sys.executable, "-m", "s1_eval.cli", "sweep", "--model_args",
               engine_args_string(smollm2_dir, preset="plain"), "--tasks", STOCK_TASK,
               "--budgets", "32,64", "--limit", "6", "--methods", "prompt-tokens,prompt-class",
               "--apply_chat_template", "--gen_kwargs", gen_kwargs, "--output_path", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kill_after_first_cell(command, env)  # mid-pass: the other cells are still generating
    kept = rows_by_cell(out, STOCK_TASK)
    assert len(kept) == 1

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert "1 of 5 cells already finished" in resumed.stdout
    rows = rows_by_cell(out, STOCK_TASK)
    assert len(rows) == 5 and all(rows[name] == kept[name] for name in kept)
    prompted = read_samples(
        out / "cells" / f"{STOCK_TASK}__method=prompt-tokens,budget=64", STOCK_TASK
    )
    assert all(
        r["arguments"]["gen_args_0"]["arg_0"].count("Think for up to 64 tokens.") == 1
        for r in prompted
    )
    assert "## Control methods" in resumed.stdout or (out / "methods.md").is_file()
    table = (out / "methods.md").read_text()
    assert (
        "| prompt-tokens | token-conditional |" in table
        and "| prompt-class | class-conditional |" in table
    )
