"""Tests for s1_eval.grading.timeouts: limits in every mode, a dying worker, the warm spare.

pytest tests/test_timeouts.py
"""

from __future__ import annotations

import os
import time

import pytest

from s1_eval.grading.timeouts import run_with_timeout


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_timeout_is_enforced(mode):
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        run_with_timeout(time.sleep, (5,), timeout=0.3, mode=mode)
    assert time.monotonic() - began < 3


def test_values_and_errors_come_back():
    assert run_with_timeout(divmod, (7, 2), timeout=30) == (3, 1)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_with_timeout(divmod, (1, 0), timeout=30)
    assert run_with_timeout(divmod, (7, 2), timeout=30, mode="inline") == (3, 1)


def test_a_worker_that_dies_reports_it_and_is_replaced():
    with pytest.raises(RuntimeError, match="worker died"):
        run_with_timeout(os._exit, (3,), timeout=30, preload=("os",))
    assert run_with_timeout(divmod, (9, 4), timeout=30, preload=("os",)) == (2, 1)


def test_preload_runs_before_the_worker_takes_calls():
    # "module:function" is called at start (a warm-up); the calls then run in the worker
    pid = run_with_timeout(os.getpid, (), timeout=30, preload=("os:getpid",))
    assert pid != os.getpid()


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        run_with_timeout(divmod, (1, 1), timeout=1, mode="fork")
