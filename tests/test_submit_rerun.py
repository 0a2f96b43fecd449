"""A bundle's own re-run command, run as written on the real engine: `s1-eval sweep` on SmolLM2,
`s1-eval submit`, then the `rerun` line of submission.json in the bundle folder (as the Leaderboard
docs page's "Verify and submit" says), which must re-generate the same greedy samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from s1_eval.demo.run import STOCK_GEN_KWARGS, STOCK_TASK
from tests.conftest import engine_args_string, read_results, read_samples
from tests.test_cli import s1_eval


@pytest.mark.engine
def test_bundle_rerun_command_regenerates_the_same_greedy_samples(smollm2_dir, tmp_path):
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    # the demo's stock ignore string, comma and all: a value lm-eval's key=value form would split
    swept = s1_eval("sweep", "--model_args", engine_args_string(smollm2_dir, preset="plain"),
                    "--tasks", STOCK_TASK, "--budgets", "32", "--n_ignore", "1", "--ignore_str",
                    STOCK_GEN_KWARGS["thinking_n_ignore_str"], "--limit", "6",
                    "--apply_chat_template", "--gen_kwargs", "max_gen_toks=256",
                    "--output_path", run)  # fmt: skip
    assert swept.returncode == 0, swept.stdout[-2000:] + swept.stderr[-3000:]
    [cell] = sorted(run.glob("cells/*/cell.json"))
    submitted = {r["doc_id"]: r["resps"][0][0] for r in read_samples(cell.parent, STOCK_TASK)}
    assert sorted(submitted) == list(range(6))

    packed = s1_eval("submit", run, "--output_path", bundle)
    assert packed.returncode == 0, packed.stderr[-3000:]
    [command] = json.loads((bundle / "submission.json").read_text())["rerun"]

    # as written, in the bundle folder; the model is at its recorded path; `s1-eval` on PATH
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    rerun = subprocess.run(
        command, shell=True, cwd=bundle, env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, command + "\n" + rerun.stdout[-3000:] + rerun.stderr[-3000:]

    [ids] = json.loads(re.search(r"--samples '([^']*)'", command)[1]).values()
    [out] = (bundle / "rerun").iterdir()
    recorded = json.loads(cell.read_text())["gen_kwargs"]
    assert recorded["thinking_n_ignore_str"] == STOCK_GEN_KWARGS["thinking_n_ignore_str"]
    assert read_results(out)["config"]["gen_kwargs"] == recorded, "the cell's own gen_kwargs"
    again = {r["doc_id"]: r["resps"][0][0] for r in read_samples(out, STOCK_TASK)}
    assert sorted(again) == ids and len(ids) == 5
    assert again == {i: submitted[i] for i in ids}, "greedy: the same responses"
    report = rerun.stdout
    assert "problems both scored: 5" in report, report
    assert "B - A: +0.0 points" in report and "won 0 / lost 0 / tied 5" in report, report
    assert "verdict: within noise" in report, report
