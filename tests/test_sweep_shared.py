"""Shared-thinking sweeps on the real engine: interrupted and resumed, equal to separate cells.

The demo's trained model is checked the same way through the CLI in tests/test_demo.py; here
the stock SmolLM2 (which rarely closes thinking, so every cap binds) runs in-process on the
session's shared engine.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from s1_eval.sweep.run import SweepConfig, make_settings, run_sweep
from s1_eval.sweep.shared import can_share
from tests.conftest import engine_args_string, rows_by_cell

pytestmark = pytest.mark.engine

TASK = "s1_demo_counting"


class Interrupt(Exception):
    """Stands in for Ctrl-C once the first cell of the pass is written."""


def config(smollm2_dir) -> SweepConfig:
    return SweepConfig(
        tasks=(TASK,),
        settings=make_settings([8, 16], [0, 2], ["Wait"]),
        model_args=engine_args_string(smollm2_dir),
        gen_kwargs={"max_gen_toks": 60},
        limit=4,
        apply_chat_template=True,
    )


def test_interrupted_shared_pass_keeps_cells_and_work_then_equals_separate_cells(
    vllm_lm, smollm2_dir, tmp_path
):
    assert can_share(vllm_lm)
    cfg = config(smollm2_dir)
    shared_dir = tmp_path / "shared"

    def stop_after_first_cell(line: str) -> None:
        if line.startswith("[1/"):
            raise Interrupt(line)

    with pytest.raises(Interrupt):
        run_sweep(cfg, shared_dir, lm=vllm_lm, log=stop_after_first_cell)
    assert len(rows_by_cell(shared_dir, TASK)) == 1, "the finished cell is kept"
    stored = (shared_dir / "trajectories.jsonl").read_text().splitlines()
    assert len(stored) >= 4, "the steps generated before the interruption are kept"

    logs: list[str] = []
    run_sweep(cfg, shared_dir, lm=vllm_lm, log=logs.append)
    assert any("1 of 4 cells already finished" in line for line in logs)
    resumed = vllm_lm.last_sharing
    assert resumed["from_store"] > 0

    separate_dir = tmp_path / "separate"
    run_sweep(cfg, separate_dir, lm=vllm_lm, log=lambda _: None, share=False)
    shared, separate = rows_by_cell(shared_dir, TASK), rows_by_cell(separate_dir, TASK)
    assert len(shared) == 4 and shared == separate
    capped = sum(r[-1] for rows in shared.values() for r in rows)
    assert capped >= 4, "some caps bind, so thinking really was cut from a longer step"

    # one more, larger budget: only thinking past the stored steps is generated
    wider = replace(cfg, settings=make_settings([8, 16, 40], [0, 2], ["Wait"]))
    before = vllm_lm.engine.stats["generated_tokens"]
    run_sweep(wider, shared_dir, lm=vllm_lm, log=lambda _: None)
    extended = vllm_lm.engine.stats["generated_tokens"] - before
    before = vllm_lm.engine.stats["generated_tokens"]
    only_40 = replace(cfg, settings=make_settings([40], [0, 2], ["Wait"]))
    run_sweep(only_40, separate_dir, lm=vllm_lm, log=lambda _: None, share=False)
    alone = vllm_lm.engine.stats["generated_tokens"] - before
    print(f"budget 40 added to a 8/16 sweep: {extended} tokens generated, {alone} alone")
    assert rows_by_cell(shared_dir, TASK) == rows_by_cell(separate_dir, TASK)
    # requests capped at 16 continue their stored thinking: generated, but not from scratch
    assert 0 < extended < alone
