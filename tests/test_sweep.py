"""Sweeps through lm-eval itself with the s1_scripted backend (real forcing, sharing and cell
writing, a toy model): files, resume after failures and kills, extension."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from s1_eval.backends.lm import S1Scripted
from s1_eval.core.settings import parse_budget
from s1_eval.runs.folder import Setting
from s1_eval.runs.samples import load_cells
from s1_eval.sweep.run import (
    SweepConfig,
    cell_folder,
    make_settings,
    run_sweep,
    settings_from_strings,
)

ROOT = Path(__file__).resolve().parent.parent
TASK_DIR = "tests/fixtures/s1_fake_task"
#: the fixture task's prompts say how much thinking they need (100 to 1200 tokens); the toy
#: model gives up at 600 and each "Wait" buys 200 more
MODEL_ARGS = "patience=600,wait_tokens=200"


def config(budgets=(200, 800), n_ignore=(0, 2), tasks=("s1_fake",), **kwargs):
    return SweepConfig(
        tasks=tasks,
        settings=make_settings(budgets, n_ignore, ["Wait"]),
        model="s1_scripted",
        model_args=MODEL_ARGS,
        include_path=(TASK_DIR,),
        **kwargs,
    )


def scripted(fail_after_steps=None, error=RuntimeError):
    """The backend; with ``fail_after_steps`` its engine raises ``error`` at that step."""
    lm = S1Scripted(patience=600, wait_tokens=200)
    if fail_after_steps is not None:
        engine = lm.lazy.get()
        run = engine._run

        def failing(step):
            if engine.stats["steps"] >= fail_after_steps:
                raise error(f"scripted failure at step {fail_after_steps}")
            return run(step)

        engine._run = failing
    return lm


def records(run_dir):
    """(setting, thinking tokens and correctness per sample) of every finished cell."""
    cells, warnings = load_cells([run_dir])
    assert warnings == []
    return {c.setting: [(r.thinking_tokens, r.correct) for r in c.records] for c in cells}


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the fixture task's data path is relative to the repository root


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        lm = scripted()
        logs = []
        outcomes = run_sweep(config(), out, lm=lm, log=logs.append)
    return out, outcomes, lm, logs


def test_settings_grid():
    assert parse_budget("none") is None and parse_budget("auto") == "auto"
    assert parse_budget(" 64 ") == 64
    for bad in ("0", "-3", "lots"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    grid = settings_from_strings("64,128", "0,2", ["Wait", "Hmm"])
    assert grid == (
        Setting(64, 0),
        Setting(64, 2, "Wait"),
        Setting(64, 2, "Hmm"),
        Setting(128, 0),
        Setting(128, 2, "Wait"),
        Setting(128, 2, "Hmm"),
    )
    assert settings_from_strings("none,32") == (Setting(None), Setting(32))


def test_sweep_writes_lm_eval_files_per_cell(finished):
    out, outcomes, lm, logs = finished
    assert [o.status for o in outcomes] == ["done"] * 4
    # one model object; the four cells' requests ran in one pass that shared their steps
    assert any("32 requests of 4 cells in one pass" in line for line in logs)
    assert lm.last_sharing["engine_steps"] < lm.last_sharing["asked"]
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["fixed"]["model_args"] == MODEL_ARGS and len(sweep["settings"]) == 4
    folder = cell_folder(out, "s1_fake", Setting(800, 2, "Wait"))
    marker = json.loads((folder / "cell.json").read_text())
    assert marker["gen_kwargs"]["thinking_n_ignore_str"] == "Wait"
    results = json.loads((folder / marker["results_file"]).read_text())
    assert results["config"]["gen_kwargs"]["max_tokens_thinking"] == 800
    assert results["config"]["s1_forcing"]["max_tokens_thinking"] == 800
    assert results["config"]["model"] == "S1Scripted"
    assert results["results"]["s1_fake"]["exact_match,none"] == 0.75
    assert not list((out / "cells").glob(".tmp-*"))


NEEDS = (100, 200, 300, 400, 500, 700, 900, 1200)


def test_sweep_cells_read_back(finished):
    out, _, _, _ = finished
    by_setting = records(out)
    # thinks min(need, 600) tokens, cut at the cap; right iff it thought at least its need
    assert by_setting[Setting(200, 0)] == [(100, 1), (200, 1)] + [(200, 0)] * 6
    assert by_setting[Setting(800, 0)] == [(n, 1) for n in NEEDS[:5]] + [(600, 0)] * 3
    # each "Wait" buys 200 tokens: 100 -> 300 -> 500; the cap stops the rest at 800
    waited = by_setting[Setting(800, 2, "Wait")]
    assert waited == [(500, 1), (600, 1), (700, 1)] + [(800, 1)] * 3 + [(800, 0)] * 2


def test_separate_cells_equal_the_shared_pass(finished, tmp_path):
    from tests.conftest import rows_by_cell

    out, _, _, _ = finished
    run_sweep(config(), tmp_path, lm=scripted(), log=lambda _: None, share=False)
    assert rows_by_cell(tmp_path, "s1_fake") == rows_by_cell(out, "s1_fake")


def test_rerun_skips_finished_cells(finished):
    out, _, _, _ = finished
    lm = scripted()
    outcomes = run_sweep(config(), out, lm=lm, log=lambda _: None)
    assert [o.status for o in outcomes] == ["skipped"] * 4 and not lm.lazy.started
    # a finished sweep does not even build its model
    assert run_sweep(config(), out, lm=None, log=lambda _: None)[0].status == "skipped"


#: the shared pass of config() writes its first cell after 24 engine steps (two more after 40,
#: of 53): failing at 30 leaves one finished cell and three in flight
FAIL_AT_STEP = 30


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_pass_keeps_finished_cells_and_work_and_resumes(finished, tmp_path, error):
    with pytest.raises(error):
        run_sweep(config(), tmp_path, lm=scripted(FAIL_AT_STEP, error), log=lambda _: None)
    assert len(list(tmp_path.glob("cells/*/cell.json"))) == 1
    assert not list((tmp_path / "cells").glob(".tmp-*"))  # the failed cells cleaned up
    assert (tmp_path / "trajectories.jsonl").stat().st_size > 0  # the steps generated so far
    resumed = scripted()
    logs = []
    outcomes = run_sweep(config(), tmp_path, lm=resumed, log=logs.append)
    assert sorted(o.status for o in outcomes) == ["done"] * 3 + ["skipped"]
    assert "1 of 4 cells already finished" in logs[0]
    assert resumed.last_sharing["from_store"] > 0
    assert records(tmp_path) == records(finished[0])  # as if it never failed


@pytest.mark.slow
def test_killed_process_loses_no_finished_cell(finished, tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_sweep import config, scripted
        from s1_eval.sweep.run import run_sweep
        kill = lambda _: os.kill(os.getpid(), signal.SIGKILL)
        run_sweep(config(), {str(tmp_path)!r}, lm=scripted({FAIL_AT_STEP}, kill))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert len(list(tmp_path.glob("cells/*/cell.json"))) == 1
    assert len(records(tmp_path)) == 1
    logs = []
    resumed = scripted()
    run_sweep(config(), tmp_path, lm=resumed, log=logs.append)
    assert not list((tmp_path / "cells").glob(".tmp-*"))
    assert resumed.last_sharing["from_store"] > 0
    assert records(tmp_path) == records(finished[0])


def test_extend_and_refuse_changed_options(finished, tmp_path):
    out, _, _, _ = finished
    with pytest.raises(ValueError, match="limit"):
        run_sweep(config(limit=2), out, lm=scripted(), log=lambda _: None)
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    lm = scripted()
    outcomes = run_sweep(config(budgets=(200, 800, 400)), copy, lm=lm, log=lambda _: None)
    assert sorted(o.status for o in outcomes).count("done") == 2
    assert len(json.loads((copy / "sweep.json").read_text())["settings"]) == 6
    # the new budget's thinking is the stored 800-budget thinking, cut: nothing thought again
    assert lm.last_sharing["from_store"] > 0
    assert records(copy)[Setting(400, 0)] == [(n, 1) for n in NEEDS[:4]] + [(400, 0)] * 4


def test_dummy_model_by_name_without_traces(tmp_path):
    cfg = SweepConfig(
        tasks=("s1_fake",),
        settings=(Setting(100),),
        model="dummy",
        include_path=(TASK_DIR,),
        limit=2,
    )
    outcomes = run_sweep(cfg, tmp_path, log=lambda _: None)  # builds lm-eval's dummy model
    assert outcomes[0].status == "done"
    (cell,), _ = load_cells([tmp_path])
    assert cell.model == "dummy" and len(cell.records) == 2
    assert all(r.correct == 0.0 and not r.has_trace for r in cell.records)


def test_sweep_needs_tasks_and_settings(tmp_path):
    with pytest.raises(ValueError):
        run_sweep(SweepConfig(tasks=(), settings=(Setting(1),)), tmp_path)
    assert not os.listdir(tmp_path)


def test_bad_gen_kwargs_are_refused_before_anything_is_written(tmp_path):
    cfg = SweepConfig(
        tasks=("s1_fake",),
        settings=make_settings([8]),
        model="s1_vllm",
        gen_kwargs={"max_token_thinking": 8},
        include_path=(TASK_DIR,),
    )
    with pytest.raises(ValueError, match=r"gen_kwargs: .*'max_token_thinking'"):
        run_sweep(cfg, tmp_path / "run", log=lambda _: None)
    assert not (tmp_path / "run").exists()


def test_unknown_task_or_model_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="tasks: unknown task"):
        run_sweep(config(tasks=("s1_fakee",)), tmp_path / "a", lm=scripted(), log=lambda _: None)
    with pytest.raises(ValueError, match="model: 'no_such_model'"):
        run_sweep(SweepConfig(("s1_fake",), (Setting(8),), model="no_such_model"), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_folder_without_finished_cells_takes_new_options(tmp_path):
    with pytest.raises(RuntimeError):
        run_sweep(config(), tmp_path, lm=scripted(fail_after_steps=0), log=lambda _: None)
    assert (tmp_path / "sweep.json").is_file() and not list(tmp_path.glob("cells/*/cell.json"))
    outcomes = run_sweep(config(limit=2), tmp_path, lm=scripted(), log=lambda _: None)
    assert [o.status for o in outcomes] == ["done"] * 4
    assert json.loads((tmp_path / "sweep.json").read_text())["fixed"]["limit"] == 2
    # now that cells are finished, the options are fixed
    with pytest.raises(ValueError, match=r"output: .*other options \(limit\)"):
        run_sweep(config(limit=3), tmp_path, lm=scripted(), log=lambda _: None)


def test_metadata_reaches_the_tasks_and_is_part_of_the_options(tmp_path):
    cfg = SweepConfig(
        tasks=("s1_demo_arithmetic",),
        settings=(Setting(8),),
        model="dummy",
        include_path=("tasks/demo",),
        metadata={"demo_num_problems": 3},
    )
    run_sweep(cfg, tmp_path, log=lambda _: None)
    (cell,), _ = load_cells([tmp_path])
    assert len(cell.records) == 3
    assert json.loads((tmp_path / "sweep.json").read_text())["fixed"]["metadata"] == {
        "demo_num_problems": 3
    }
    assert "metadata" not in config().fixed()  # older folders (no metadata) still resume
