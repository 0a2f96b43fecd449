"""`s1-eval compare --traces`: where two runs' token traces part, on real runs.

    pytest tests/test_trace_diff.py

On the committed real runs of results/reproducibility/runs (bench/reproducibility.py): SmolLM2-
135M-Instruct on s1_vllm, s1_demo_arithmetic, 8 problems, budgets 16 and 64 with one "Wait",
plain preset, in float32 (vllm-fp32) and in bfloat16 (vllm-bf16), otherwise the same.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_cli import ROOT, assert_one_line_error, s1_eval

TRACES = ROOT / "results" / "reproducibility" / "runs"
B64 = "budget=64,n_ignore=1,str=Wait"
B16 = "budget=16,n_ignore=1,str=Wait"
FP32, BF16 = f"{TRACES / 'vllm-fp32'}:{B64}", f"{TRACES / 'vllm-bf16'}:{B64}"


def traces(*argv):
    proc = s1_eval("compare", "--traces", *argv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_a_run_against_itself_is_identical_everywhere():
    lines = traces(FP32, FP32)
    assert lines[1] == "differs: nothing recorded"
    assert lines[-1] == "identical: 8 / 8 (100.0 %)"


def test_float32_against_bfloat16_parts_early_in_thinking():
    lines = traces(FP32, BF16)
    assert lines[1] == "differs: dtype: float32 (A) vs bfloat16 (B)"
    assert "doc 0: parts at token 5 (thinking); score 1 -> 0" in lines
    doc0 = lines.index("doc 0: parts at token 5 (thinking); score 1 -> 0")
    assert lines[doc0 + 1] == "    A: 38 1232 216 41 | 446 216 33 37"
    assert lines[doc0 + 2] == "    B: 38 1232 216 41 | 314 253 8170 1732"
    assert lines[-1] == (
        "identical: 3 / 8 (37.5 %); first divergence of 5: median token 5, quartiles 5-5; "
        "where: thinking 5; score changed in B: 1 won, 4 lost"
    )


def test_json_and_the_phase_after_a_suppression(tmp_path):
    proc = s1_eval("compare", "--traces", f"{TRACES / 'vllm-fp32'}:{B16}", f"{TRACES / 'vllm-fp32'}:{B64}",
                   "--json")  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["differences"] == [
        "gen_kwargs.max_tokens_thinking: 16 (A) vs 64 (B)",
        f"setting: {B16} (A) vs {B64} (B)",
    ]
    summary = data["summary"]
    assert (summary["problems"], summary["identical"]) == (8, 0)
    assert summary["first_divergence"] == {"q1": 16.0, "median": 16.0, "q3": 16.0}
    assert summary["score_changed"] == {"won": 1, "lost": 2}
    # the 16-token cap closes thinking where the 64-token run thinks on after its "Wait"
    phases = {(p["phase_a"], p["phase_b"]) for p in data["problems"]}
    assert phases == {
        ("closing text", "thinking"),
        ("closing text", "thinking after inserted string 1"),
    }


def test_plain_lm_eval_output_folders_compare_too(smollm2_dir):
    # a sweep cell's folder is an lm_eval --log_samples output folder
    [a] = (TRACES / "vllm-fp32" / "cells").glob(f"*{B64}")
    [b] = (TRACES / "vllm-bf16" / "cells").glob(f"*{B64}")
    lines = traces(a, b, "--tokenizer", smollm2_dir)
    doc0 = lines.index("doc 0: parts at token 5 (thinking); score 1 -> 0")
    assert lines[doc0 + 1] == "    A: '6' ' +' ' ' '9' | ' =' ' ' '1' '5'"
    assert lines[doc0 + 2] == "    B: '6' ' +' ' ' '9' | ' is' ' a' ' classic' ' problem'"


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(TRACES / name, target)
    return target


def _edit_rows(run: Path, edit) -> None:
    [samples] = run.glob(f"cells/*{B64}/*/samples_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    samples.write_text("".join(json.dumps(edit(r)) + "\n" for r in rows))


def test_refusals_are_one_line(tmp_path):
    demo = ROOT / "results" / "demo"
    proc = s1_eval("compare", "--traces", f"{demo}:budget=16,n_ignore=0", FP32)
    assert_one_line_error(proc, "no token-level trace in 50 of 50 rows", "s1_vllm, s1_hf")
    edits = [
        (lambda r: {**r, "prompt_hash": "0" * 64} if r["doc_id"] == 3 else r,
         "different prompts: doc 3's prompt_hash"),
        (lambda r: {**r, "doc_hash": "1" * 64}, "different problems: doc 0's doc_hash"),
        (lambda r: {**r, "trace_tokens": "t1:junk"}, "trace_tokens: unreadable token trace"),
    ]  # fmt: skip
    for number, (edit, error) in enumerate(edits):
        other = _copy(tmp_path / str(number), "vllm-bf16")
        _edit_rows(other, edit)
        proc = s1_eval("compare", "--traces", FP32, f"{other}:{B64}")
        assert_one_line_error(proc, error)
    proc = s1_eval("compare", "--traces", FP32, BF16, "--tokenizer", tmp_path / "nothing")
    assert_one_line_error(proc, "--tokenizer=", "not a folder")


def test_runs_of_different_tasks_are_refused(tmp_path):
    other = _copy(tmp_path, "vllm-bf16")
    [results] = other.glob(f"cells/*{B64}/*/results_*.json")
    [samples] = other.glob(f"cells/*{B64}/*/samples_*.jsonl")
    results.write_text(results.read_text().replace("s1_demo_arithmetic", "s1_demo_sums"))
    samples.rename(samples.with_name(samples.name.replace("s1_demo_arithmetic", "s1_demo_sums")))
    proc = s1_eval("compare", "--traces", FP32, results.parent)
    assert_one_line_error(proc, "A ran s1_demo_arithmetic, B ran s1_demo_sums")


def test_the_reproducibility_report_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "reproducibility", ROOT / "bench" / "reproducibility.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "results" / "reproducibility" / "README.md").read_text() == module.report_text()
