"""What `lm_eval` prints after a run of our tasks, through the real command (s1_scripted backend,
offline data): the score first, thinking tokens beside it, no placeholder rows, no "no cap"
marker averaged; every per-sample field still in the samples file, `verify` and `report`.

    pytest tests/test_lm_eval_table.py
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from s1_eval.tasks.scoring import TEXT_FIELDS
from s1_eval.trace import SAMPLE_FIELDS, TRACE, UNKNOWN, flat_row
from tests.conftest import lm_eval_command, s1_eval_command

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "fixtures" / "data"
TASKS = ("s1_aime24", "s1_aime24_n8")
#: the rows lm-eval prints per task, in its (alphabetical) order
EXPECTED_ROWS = {
    "s1_aime24": ["exact_match", "no_answer", "thinking_tokens", TRACE],
    "s1_aime24_n8": [
        "exact_match",
        *[f"maj@{k}" for k in (1, 2, 4, 8)],
        "no_answer",
        *[f"pass@{k}" for k in (1, 2, 4, 8)],
        "thinking_tokens",
        TRACE,
    ],
}


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "S1_EVAL_DATA_DIR": str(DATA),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    """One uncapped lm_eval run of a greedy task and its sampling variant: (folder, stdout)."""
    out = tmp_path_factory.mktemp("lm_eval_run")
    proc = subprocess.run(
        [*lm_eval_command(), "--model", "s1_scripted", "--model_args", "patience=600",
         "--tasks", ",".join(TASKS), "--limit", "2", "--gen_kwargs", "max_tokens_thinking=none",
         "--output_path", str(out), "--log_samples"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def table_rows(printed: str) -> dict[str, list[list[str]]]:
    """{task: [[metric, value, stderr], ...]} from the markdown table lm_eval printed."""
    rows: dict[str, list[list[str]]] = {}
    task = ""
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9 or cells[4] in ("Metric", "") or set(cells[4]) <= {"-"}:
            continue
        task = cells[0] or task
        rows.setdefault(task, []).append([cells[4], cells[6], cells[8]])
    return rows


def test_the_table_shows_the_score_first_and_thinking_beside_it(run):
    _, printed = run
    rows = table_rows(printed)
    assert {task: [r[0] for r in rows[task]] for task in TASKS} == EXPECTED_ROWS
    values = [value for task in TASKS for _, value, _ in rows[task]]
    assert "999.0" not in values and all(float(v) >= 0 for v in values)  # no -1 "no cap" mean
    # the score has a standard error; the trace row is the share of samples with a trace
    assert all(stderr != "N/A" for metric, _, stderr in rows["s1_aime24"] if metric != TRACE)
    assert [float(v) for metric, v, _ in rows["s1_aime24"] if metric == TRACE] == [1.0]


def test_every_per_sample_field_stays_in_the_samples_file(run):
    out, _ = run
    [greedy] = out.rglob("samples_s1_aime24_2*.jsonl")
    rows = [json.loads(line) for line in greedy.read_text().splitlines()]
    table = ["exact_match", "thinking_tokens", "no_answer", TRACE]
    assert [list(row)[-4:] for row in rows] == [table] * 2
    for row in map(flat_row, rows):
        assert set(TEXT_FIELDS) | set(SAMPLE_FIELDS) | {"has_trace"} <= set(row)
        assert row["max_tokens_thinking"] == UNKNOWN and row["thinking_tokens"] > 0
    [sampled] = out.rglob("samples_s1_aime24_n8_*.jsonl")
    for row in map(flat_row, (json.loads(x) for x in sampled.read_text().splitlines())):
        assert len(row["thinking_tokens_each"]) == len(row["extracted_answers"]) == 8
        assert {"n_correct", "cov@8", "sample_correct", "grading_failures"} <= set(row)
    [results_file] = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]
    assert not any("max_tokens_thinking" in key for task in TASKS for key in results[task])


def test_verify_and_report_read_the_new_rows_and_catch_an_edit(run, tmp_path):
    out, _ = run
    verify = subprocess.run(
        [*s1_eval_command(), "verify", str(out)], cwd=ROOT, env=_env(),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verify.returncode == 0 and "verify: OK - 2 cells" in verify.stdout, verify.stdout
    report = subprocess.run(
        [*s1_eval_command(), "report", str(out), "--output_path", str(tmp_path / "board")],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    with (tmp_path / "board" / "cells.csv").open() as f:
        cells = list(csv.DictReader(f))
    # read from the trace dict: answer tokens (in generated_mean), cap firing, suppressions
    assert {c["task"] for c in cells} == set(TASKS)
    for cell in cells:
        assert float(cell["generated_mean"]) > float(cell["thinking_mean"]) > 0
        assert cell["cap_fired_pct"] == "0.0" and cell["suppressions_mean"] == "0.0"

    edited = tmp_path / "edited"
    shutil.copytree(out, edited)
    [samples] = edited.rglob("samples_s1_aime24_2*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    rows[0][TRACE]["extracted_answer"] = "12345"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    [results_file] = edited.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    results["results"]["s1_aime24"][f"{TRACE},none"] = 0.5
    results_file.write_text(json.dumps(results))
    verify = subprocess.run(
        [*s1_eval_command(), "verify", str(edited)], cwd=ROOT, env=_env(),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verify.returncode == 1
    assert "extracted_answer recorded '12345'" in verify.stdout
    assert f"{TRACE}: results say 0.5, samples give 1.0" in verify.stdout
