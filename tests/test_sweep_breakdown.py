"""The sweep benchmark's time breakdown (bench/sweep_breakdown.py) and its tables, no vLLM.

    pytest tests/test_sweep_breakdown.py

A whole benchmark path runs on the s1_scripted backend (real lm-eval, forcing, sharing and cell
writing; a toy model), so every new field is checked for presence and for what it must add up
to; never for timings. The renderers are checked with and without a breakdown in the JSON.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from s1_eval.backends.lm import S1Scripted
from tests.test_pass_times import SCRIPTED_SWEEP

ROOT = Path(__file__).resolve().parents[1]
PHASES = {"record", "engine", "forcing loop", "cells", "other"}


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # sweep_bench imports its neighbours by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return _load("sweep_bench")
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.fixture(scope="module")
def runs(bench):
    config = SCRIPTED_SWEEP
    lm = S1Scripted(patience=600, wait_tokens=200)
    manager = None
    shared = bench.run_path(lm, config, True, manager)
    independent = bench.run_path(lm, config, False, manager)
    return {"shared": shared, "independent": independent}


def test_every_path_records_its_phases_and_engine_counts(runs):
    for name, run in runs.items():
        parts = run["breakdown"]
        assert set(parts["phases_s"]) == PHASES, name
        assert all(seconds >= 0 for seconds in parts["phases_s"].values())
        # the phases split the run's wall time (rounding aside)
        assert sum(parts["phases_s"].values()) == pytest.approx(parts["wall_s"], abs=0.02)
        engine = parts["engine"]
        assert engine["generated_tokens"] == run["tokens"] > 0
        assert engine["prefill_tokens"] == engine["prompt_tokens"] - engine["cached_prompt_tokens"]
        assert "vllm_metrics" not in parts  # the scripted engine has no vLLM to ask
        json.dumps(run)
    assert runs["shared"]["breakdown"]["phases_s"]["record"] > 0
    assert runs["independent"]["breakdown"]["phases_s"]["record"] == 0
    # sharing generates fewer tokens than cell after cell, the same samples
    assert runs["shared"]["tokens"] < runs["independent"]["tokens"]
    assert runs["shared"]["samples"] == runs["independent"]["samples"] == 8


def test_generate_timer_counts_callbacks_apart(bench):
    class Model:
        def generate_many(self, request_lists, on_done=None, **kwargs):
            for which, _ in enumerate(request_lists):
                on_done(which, 0, "x")
            return [["x"]]

    model, seen = Model(), []
    timer = _load("sweep_breakdown").GenerateTimer.around(model)
    assert _load("sweep_breakdown").GenerateTimer.around(model).inner == timer.inner  # no nesting
    model.generate_many([[1], [2]], on_done=lambda *args: seen.append(args))
    assert seen == [(0, 0, "x"), (1, 0, "x")]
    assert 0 <= timer.callbacks <= timer.seconds


def test_vllm_counters_sum_labels_and_subtract(bench):
    breakdown = _load("sweep_breakdown")
    counter = lambda name, value: SimpleNamespace(name=name, value=value)  # noqa: E731
    histogram = lambda name, n, s: SimpleNamespace(name=name, count=n, sum=s)  # noqa: E731
    readings = iter(
        [
            [counter("vllm:prefix_cache_hits", 10), counter("vllm:prefix_cache_hits", 5),
             histogram("vllm:iteration_tokens_total", 3, 30)],
            [counter("vllm:prefix_cache_hits", 40), counter("vllm:prefix_cache_hits", 5),
             histogram("vllm:iteration_tokens_total", 7, 70)],
        ]
    )  # fmt: skip
    llm = SimpleNamespace(get_metrics=lambda: next(readings))
    before = breakdown.vllm_counters(llm)
    assert before == {"prefix_cache_hits": 15, "iteration_tokens_count": 3,
                      "iteration_tokens_sum": 30}  # fmt: skip
    grown = breakdown.vllm_counters(llm, since=before)
    assert grown == {"prefix_cache_hits": 30, "iteration_tokens_count": 4,
                     "iteration_tokens_sum": 40}  # fmt: skip

    def off():
        raise AssertionError("Stat logging disabled")

    assert breakdown.vllm_counters(SimpleNamespace(get_metrics=off)) is None


def test_tables_show_the_breakdown_only_when_the_json_has_it(bench, runs):
    tables = _load("bench_tables")
    committed = json.loads((ROOT / "results" / "bench" / "sweep_bench.json").read_text())
    for path in committed["paths"].values():  # as a result written before the breakdown
        path.pop("breakdown", None)
    old = tables.sweep_markdown(committed) + tables.sweep_section(committed)
    assert "Seconds per phase" not in old and "prefix-cache hits" not in old
    record = json.loads(json.dumps(committed))
    record["paths"]["shared"]["breakdown"] = runs["shared"]["breakdown"]
    record["paths"]["largest alone"]["breakdown"] = runs["independent"]["breakdown"]
    for text in (tables.sweep_markdown(record), tables.sweep_section(record)):
        assert "Seconds per phase" in text and "prefix-cache hits" in text
        assert "| shared | " in text and "in vLLM engine seconds" in text
        for label in tables.SWEEP_PHASES.values():
            assert label in text
