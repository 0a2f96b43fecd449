"""`s1-eval verify` on the committed demo run and on copies tampered with by hand."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s1_eval.report.verify import verify_runs

DEMO = Path(__file__).resolve().parents[1] / "results" / "demo"
CELL = "s1_demo_counting__budget=32,n_ignore=0"


@pytest.fixture(scope="module")
def task_manager():
    from s1_eval.tasks.manager import task_manager_for

    return task_manager_for(["s1_demo_counting"])


def one_cell_run(tmp_path: Path) -> Path:
    """A copy of one finished cell of the demo sweep, as a sweep folder of its own."""
    run = tmp_path / "run"
    shutil.copytree(DEMO / "cells" / CELL, run / "cells" / CELL)
    shutil.copy(DEMO / "sweep.json", run / "sweep.json")
    return run


def files(run: Path) -> tuple[Path, Path]:
    [results] = run.rglob("results_*.json")
    [samples] = run.rglob("samples_*.jsonl")
    return results, samples


def edit_rows(samples: Path, change) -> None:
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    rows = change(rows)
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))


def edit_results(results: Path, change) -> None:
    data = json.loads(results.read_text())
    change(data)
    results.write_text(json.dumps(data))


def verify(run: Path, task_manager) -> list[str]:
    problems, _ = verify_runs([run], task_manager)
    return [str(p) for p in problems]


def s1_eval(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "s1_eval.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_committed_demo_run_verifies_through_the_cli():
    done = s1_eval("verify", str(DEMO))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("verify: OK - 18 cells, 900 samples re-graded")


def test_an_edited_answer_fails_through_the_cli(tmp_path):
    run = one_cell_run(tmp_path)
    _, samples = files(run)

    def wrong_answer(rows):
        row = next(r for r in rows if r["exact_match"] == 1)
        wrong = str(int(row["target"]) + 1)
        text = row["filtered_resps"][0].replace(f"boxed{{{row['target']}}}", f"boxed{{{wrong}}}")
        row["filtered_resps"], row["resps"] = [text], [[text]]
        return rows

    edit_rows(samples, wrong_answer)
    done = s1_eval("verify", str(run))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("verify: FAILED - ")
    assert any("exact_match recorded 1, re-graded 0" in line for line in lines[1:])


def test_the_untouched_copy_verifies(tmp_path, task_manager):
    assert verify(one_cell_run(tmp_path), task_manager) == []


def test_an_edited_metric_in_the_results(tmp_path, task_manager):
    run = one_cell_run(tmp_path)
    results, _ = files(run)
    edit_results(
        results, lambda d: d["results"]["s1_demo_counting"].update({"exact_match,none": 0.9})
    )
    [problem] = verify(run, task_manager)
    rows = [json.loads(line) for line in files(run)[1].read_text().splitlines()]
    from_samples = sum(row["exact_match"] for row in rows) / len(rows)
    assert from_samples != 0.9
    assert f"exact_match: results say 0.9, samples give {from_samples:g}" in problem


def test_a_deleted_sample(tmp_path, task_manager):
    run = one_cell_run(tmp_path)
    _, samples = files(run)
    edit_rows(samples, lambda rows: [r for r in rows if r["doc_id"] != 7])
    [problem] = verify(run, task_manager)
    assert "incomplete (49 of 50 rows) in a finished cell" in problem

    # read as plain lm_eval output (no cell.json to vouch for it): skipped, and said so
    (next(run.rglob("cell.json"))).unlink()
    results, _ = files(run)
    [problem] = verify(results.parent, task_manager)
    assert "incomplete (49 of 50 rows), skipped" in problem


def test_a_duplicated_sample(tmp_path, task_manager):
    run = one_cell_run(tmp_path)
    _, samples = files(run)
    edit_rows(samples, lambda rows: [*rows, rows[5]])
    problems = "\n".join(verify(run, task_manager))
    assert "51 samples, results say 50" in problems
    assert "a doc id appears more than once" in problems


def test_thinking_above_its_cap(tmp_path, task_manager):
    run = one_cell_run(tmp_path)
    _, samples = files(run)

    def overrun(rows):
        rows[3]["thinking_tokens"] = 40
        return rows

    edit_rows(samples, overrun)
    problems = "\n".join(verify(run, task_manager))
    assert "doc 3: 40 thinking tokens > cap" in problems
    assert "thinking_tokens: results say" in problems  # the mean no longer matches either


def test_a_changed_recorded_cap(tmp_path, task_manager):
    run = one_cell_run(tmp_path)
    results, _ = files(run)
    edit_results(results, lambda d: d["config"]["s1_forcing"].update({"max_tokens_thinking": 48}))
    problems = "\n".join(verify(run, task_manager))
    assert "the cap disagrees" in problems and "'the forcing config': 48" in problems


def test_missing_versions(tmp_path, task_manager):
    run = one_cell_run(tmp_path)
    results, _ = files(run)
    edit_results(results, lambda d: d.pop("lm_eval_version"))
    assert verify(run, task_manager) == [
        f"{files(run)[1]}: no lm_eval_version recorded",
    ]


def test_nothing_to_verify_is_one_line_and_exit_2(tmp_path):
    done = s1_eval("verify", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: runs: no finished results")
