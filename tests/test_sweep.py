"""Sweeps through lm-eval itself with a scripted LM: files, resume, kills, extension."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from fake_lm import FakeS1LM  # noqa: E402

from s1_eval.budget import parse_budget  # noqa: E402
from s1_eval.run_folder import Setting  # noqa: E402
from s1_eval.samples import load_cells  # noqa: E402
from s1_eval.sweep import (  # noqa: E402
    SweepConfig,
    cell_folder,
    make_settings,
    run_sweep,
    settings_from_strings,
)

TASK_DIR = "tests/fixtures/s1_fake_task"


def config(budgets=(200, 800), n_ignore=(0, 2), tasks=("s1_fake",), **kwargs):
    return SweepConfig(
        tasks=tasks,
        settings=make_settings(budgets, n_ignore, ["Wait"]),
        model="fake",
        model_args="pretrained=fake-model",
        include_path=(TASK_DIR,),
        **kwargs,
    )


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the fixture task's data path is relative to the repository root


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        lm = FakeS1LM()
        outcomes = run_sweep(config(), out, lm=lm, log=lambda _: None)
    return out, outcomes, lm


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
    out, outcomes, lm = finished
    assert [o.status for o in outcomes] == ["done"] * 4
    assert len(lm.calls) == 4  # one model object, one generate_until call per cell
    assert lm.calls[1]["thinking_n_ignore"] == 2 and lm.calls[1]["max_tokens_thinking"] == 200
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["fixed"]["model_args"] == "pretrained=fake-model" and len(sweep["settings"]) == 4
    folder = cell_folder(out, "s1_fake", Setting(800, 2, "Wait"))
    marker = json.loads((folder / "cell.json").read_text())
    assert marker["gen_kwargs"]["thinking_n_ignore_str"] == "Wait"
    results = json.loads((folder / marker["results_file"]).read_text())
    assert marker["results_file"].startswith("fake-model/results_")
    assert results["config"]["gen_kwargs"]["max_tokens_thinking"] == 800
    assert results["results"]["s1_fake"]["exact_match,none"] == 0.75
    assert not list((out / "cells").glob(".tmp-*"))


def test_sweep_cells_read_back(finished):
    out, _, _ = finished
    cells, warnings = load_cells([out])
    assert warnings == []
    by_setting = {c.setting: c for c in cells}
    cell = by_setting[Setting(200, 0)]
    # fake model: thinks min(need, 600) tokens, cut at the cap; correct iff it reached need
    assert [r.thinking_tokens for r in cell.records] == [100, 200, 200, 200, 200, 200, 200, 200]
    assert [r.correct for r in cell.records] == [1, 1, 0, 0, 0, 0, 0, 0]
    assert by_setting[Setting(800, 2, "Wait")].records[-1].thinking_tokens == 800


def test_rerun_skips_finished_cells(finished):
    out, _, _ = finished
    lm = FakeS1LM(fail_on_call=1)  # would fail if anything ran
    outcomes = run_sweep(config(), out, lm=lm, log=lambda _: None)
    assert [o.status for o in outcomes] == ["skipped"] * 4 and lm.calls == []
    # a finished sweep does not even build its model
    assert run_sweep(config(), out, lm=None, log=lambda _: None)[0].status == "skipped"


@pytest.mark.parametrize("failure", ["fail_on_call", "interrupt_on_call"])
def test_failure_mid_run_keeps_finished_cells_and_resumes(tmp_path, failure):
    lm = FakeS1LM(**{failure: 2})
    with pytest.raises(KeyboardInterrupt if failure == "interrupt_on_call" else RuntimeError):
        run_sweep(config(), tmp_path, lm=lm, log=lambda _: None)
    assert len(list(tmp_path.glob("cells/*/cell.json"))) == 1
    assert not list((tmp_path / "cells").glob(".tmp-*"))  # the failed cell cleaned up
    assert len(load_cells([tmp_path])[0]) == 1
    resumed = FakeS1LM()
    outcomes = run_sweep(config(), tmp_path, lm=resumed, log=lambda _: None)
    assert sorted(o.status for o in outcomes) == ["done"] * 3 + ["skipped"]
    assert len(resumed.calls) == 3 and len(load_cells([tmp_path])[0]) == 4


@pytest.mark.slow
def test_killed_process_loses_no_finished_cell(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests" / "fixtures")!r})
        from fake_lm import FakeS1LM
        from s1_eval.sweep import SweepConfig, make_settings, run_sweep
        cfg = SweepConfig(tasks=("s1_fake",), settings=make_settings([200, 800], [0, 2], ["Wait"]),
                          model="fake", model_args="pretrained=fake-model",
                          include_path=({TASK_DIR!r},))
        run_sweep(cfg, {str(tmp_path)!r}, lm=FakeS1LM(kill_on_call=2))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert len(list(tmp_path.glob("cells/*/cell.json"))) == 1
    assert len(list((tmp_path / "cells").glob(".tmp-*"))) == 1  # the killed cell's leftovers
    assert len(load_cells([tmp_path])[0]) == 1  # ...are never read
    logs = []
    resumed = FakeS1LM()
    run_sweep(config(), tmp_path, lm=resumed, log=logs.append)
    assert any("removed unfinished cell" in line for line in logs)
    assert not list((tmp_path / "cells").glob(".tmp-*"))
    assert len(resumed.calls) == 3 and len(load_cells([tmp_path])[0]) == 4


def test_extend_and_refuse_changed_options(finished, tmp_path):
    out, _, _ = finished
    with pytest.raises(ValueError, match="limit"):
        run_sweep(config(limit=2), out, lm=FakeS1LM(), log=lambda _: None)
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    lm = FakeS1LM()
    outcomes = run_sweep(config(budgets=(200, 800, 400)), copy, lm=lm, log=lambda _: None)
    assert sorted(o.status for o in outcomes).count("done") == 2 and len(lm.calls) == 2
    assert len(json.loads((copy / "sweep.json").read_text())["settings"]) == 6


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
        run_sweep(config(tasks=("s1_fakee",)), tmp_path / "a", lm=FakeS1LM(), log=lambda _: None)
    with pytest.raises(ValueError, match="model: 'no_such_model'"):
        run_sweep(SweepConfig(("s1_fake",), (Setting(8),), model="no_such_model"), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_folder_without_finished_cells_takes_new_options(tmp_path):
    with pytest.raises(RuntimeError):
        run_sweep(config(), tmp_path, lm=FakeS1LM(fail_on_call=1), log=lambda _: None)
    assert (tmp_path / "sweep.json").is_file() and not list(tmp_path.glob("cells/*/cell.json"))
    outcomes = run_sweep(config(limit=2), tmp_path, lm=FakeS1LM(), log=lambda _: None)
    assert [o.status for o in outcomes] == ["done"] * 4
    assert json.loads((tmp_path / "sweep.json").read_text())["fixed"]["limit"] == 2
    # now that cells are finished, the options are fixed
    with pytest.raises(ValueError, match=r"output: .*other options \(limit\)"):
        run_sweep(config(limit=3), tmp_path, lm=FakeS1LM(), log=lambda _: None)


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
