"""A shared pass's seconds per step (``sweep_shared.PassTimes``) on the s1_scripted backend.

    pytest tests/test_pass_times.py

The sweep benchmark reads these numbers; here they are checked for what they must add up to,
never for their size (that depends on the machine).
"""

from __future__ import annotations

import time

import pytest

from s1_eval.backends.lm import S1Scripted
from s1_eval.sweep.run import SweepConfig, make_settings, run_sweep
from s1_eval.sweep.shared import PassTimes

#: four cells on the toy model: two budgets, each alone and with two "Wait"s
SCRIPTED_SWEEP = SweepConfig(
    tasks=("s1_fake",),
    settings=make_settings((200, 800), (0, 2), ["Wait"]),
    model="s1_scripted",
    model_args="patience=600,wait_tokens=200",
    include_path=("tests/fixtures/s1_fake_task",),
    limit=2,
)


def test_shared_pass_reports_record_generate_and_write_seconds(tmp_path):
    config = SCRIPTED_SWEEP
    times, logs = PassTimes(), []
    started = time.perf_counter()
    outcomes = run_sweep(
        config, tmp_path, lm=S1Scripted(patience=600, wait_tokens=200), log=logs.append,
        times=times,
    )  # fmt: skip
    wall = time.perf_counter() - started
    assert len(outcomes) == 4 and all(o.status == "done" for o in outcomes)
    assert times.record > 0 and times.generate > 0 and times.write > 0
    # each cell's seconds are its writing; writes inside the pass are not counted as generating
    assert sum(o.seconds for o in outcomes) == pytest.approx(times.write)
    assert times.record + times.generate + times.write <= wall
    assert any(times.describe() in line and "tokens generated" in line for line in logs)


def test_describe_is_the_log_line_tail():
    times = PassTimes(record=1.0, generate=2.5, write=0.25)
    assert times.describe() == "recording 1.0 s, generating 2.5 s, writing cells 0.2 s"
