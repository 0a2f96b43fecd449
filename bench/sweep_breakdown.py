"""Where a sweep's time goes: phases, the engine's counters and vLLM's own metrics, per run.

    timer = GenerateTimer.around(lm); before = engine_counters(lm.engine); ...; breakdown(...)

Used by bench/sweep_bench.py. The phases of one ``run_sweep``, in wall seconds:
``record`` (lm-eval building every cell's requests with the recording model; shared pass only),
``engine`` (inside vLLM's ``LLMEngine.step``: scheduling, prefill, decode, detokenizing),
``forcing loop`` (the rest of the generation passes: forcing state machines, step sharing,
submitting), ``cells`` (lm-eval per cell outside generation: building requests, metrics,
writing files; for a shared pass, replaying and writing each cell), ``other`` (the rest:
checks, the run folder's lock and plan). Tokens come from vLLM's reports: each finished
request's prompt length, ``num_cached_tokens`` and output ids (the adapter's ``stats``), and,
when stat logging is on, vLLM's Prometheus counters (prefix-cache queries and hits, preemptions).
"""

from __future__ import annotations

import time
from typing import Any

#: the adapter's counters (s1_eval.engines.vllm.VLLMEngine.stats) a breakdown reads
ENGINE_STATS = ("steps", "prompt_tokens", "cached_prompt_tokens", "generated_tokens",
                "iterations", "engine_s", "iteration_requests")  # fmt: skip

#: vLLM's Prometheus counters (LLM.get_metrics, stat logging on) -> our names
VLLM_COUNTERS = {
    "vllm:prompt_tokens": "prompt_tokens",
    "vllm:prompt_tokens_cached": "cached_prompt_tokens",
    "vllm:generation_tokens": "generated_tokens",
    "vllm:prefix_cache_queries": "prefix_cache_queries",
    "vllm:prefix_cache_hits": "prefix_cache_hits",
    "vllm:num_preemptions": "preemptions",
}
#: histograms whose count and sum matter: tokens per iteration, each request's prefill/decode
VLLM_HISTOGRAMS = {
    "vllm:iteration_tokens_total": "iteration_tokens",
    "vllm:request_prefill_time_seconds": "request_prefill_s",
    "vllm:request_decode_time_seconds": "request_decode_s",
}


class GenerateTimer:
    """Times an lm's ``generate_many`` and, inside it, its ``on_done`` callbacks (where a shared
    pass writes each finished cell), by wrapping the method on the instance."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0
        self.callbacks = 0.0

    @classmethod
    def around(cls, lm) -> GenerateTimer:
        inner = lm.generate_many
        inner = getattr(inner, "inner", inner)  # a timer from an earlier run: wrap its method
        timer = cls(inner)
        lm.generate_many = timer  # generate_until calls self.generate_many: it goes through us
        return timer

    def __call__(self, request_lists, on_done=None, **kwargs):
        if on_done is not None:
            done = on_done

            def on_done(*args):
                started = time.perf_counter()
                try:
                    done(*args)
                finally:
                    self.callbacks += time.perf_counter() - started

        started = time.perf_counter()
        try:
            return self.inner(request_lists, on_done=on_done, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started

    @property
    def generating(self) -> float:
        return self.seconds - self.callbacks


def engine_counters(engine, since: dict[str, float] | None = None) -> dict[str, float]:
    """The adapter's counters now, or what they grew by ``since`` an earlier reading."""
    now = {key: engine.stats.get(key, 0) for key in ENGINE_STATS}
    return now if since is None else {key: now[key] - since[key] for key in ENGINE_STATS}


def vllm_counters(llm, since: dict[str, float] | None = None) -> dict[str, float] | None:
    """vLLM's own counters (summed over label sets), or their growth ``since``; None when its
    stat logging is off (``disable_log_stats``, the default of ``LLM``)."""
    try:
        snapshot = llm.get_metrics()
    except (AssertionError, AttributeError):  # vLLM asserts that stat logging is on
        return None
    now: dict[str, float] = {}
    for metric in snapshot:
        if metric.name in VLLM_COUNTERS and hasattr(metric, "value"):
            key = VLLM_COUNTERS[metric.name]
            now[key] = now.get(key, 0) + metric.value
        elif metric.name in VLLM_HISTOGRAMS and hasattr(metric, "sum"):
            key = VLLM_HISTOGRAMS[metric.name]
            now[f"{key}_count"] = now.get(f"{key}_count", 0) + metric.count
            now[f"{key}_sum"] = now.get(f"{key}_sum", 0) + metric.sum
    if since is None:
        return now
    return {key: value - since.get(key, 0) for key, value in now.items()}


def breakdown(
    wall: float,
    shared: bool,
    times,
    timer: GenerateTimer,
    cell_seconds: float,
    engine: dict[str, float],
    metrics: dict[str, float] | None,
) -> dict[str, Any]:
    """One run's phases (seconds), the engine's counters and vLLM's, as the JSON stores them.

    ``times`` is the shared pass's ``PassTimes``; ``cell_seconds`` the sum of the outcomes'
    seconds (a shared cell's is its writing, an independent cell's its whole run).
    """
    generating = timer.generating
    record = times.record if shared else 0.0
    cells = cell_seconds if shared else max(0.0, cell_seconds - timer.seconds)
    in_engine = min(engine["engine_s"], generating)
    phases = {
        "record": record,
        "engine": in_engine,
        "forcing loop": generating - in_engine,
        "cells": cells,
        "other": max(0.0, wall - record - generating - cells),
    }
    iterations = engine["iterations"]
    counts = {key: int(engine[key]) for key in ENGINE_STATS if key != "engine_s"}
    counts["prefill_tokens"] = counts["prompt_tokens"] - counts["cached_prompt_tokens"]
    counts["requests_per_iteration"] = (
        round(engine["iteration_requests"] / iterations, 2) if iterations else 0.0
    )
    counts["engine_tokens_per_s"] = (
        round(counts["generated_tokens"] / in_engine, 1) if in_engine else 0.0
    )
    result: dict[str, Any] = {
        "wall_s": round(wall, 3),
        "phases_s": {name: round(value, 3) for name, value in phases.items()},
        "engine": counts,
    }
    if metrics is not None:
        result["vllm_metrics"] = {key: round(value, 3) for key, value in sorted(metrics.items())}
    return result
