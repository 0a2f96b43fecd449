"""A budget sweep three ways on one vLLM engine: shared thinking, independent cells, largest alone.

    python bench/sweep_bench.py --budgets 32,64,128,256 --limit 16 --repeats 3 --out results/bench

Runs ``s1_eval.sweep.run.run_sweep`` with the stock demo's setup (``s1-eval demo --stock``: SmolLM2
on the arithmetic task, plain preset, one "Wait"), where thinking often runs into the cap, as
on hard problems:
(a) ``independent``: cell after cell, each generating its own thinking (``--independent``);
(b) ``shared``: all cells in one pass, each common step generated once (the default);
(c) ``largest alone``: only the largest budget's cell. The engine starts once, before timing,
and its prefix cache is emptied before every path. Prints wall time and generated tokens
(counted by the engine) per path and the ratios, and where each path's time went
(``sweep_breakdown``). Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # stat logging stays on for the breakdown's vLLM counters; its periodic log line would only
    # interleave with ours
    os.environ.setdefault("VLLM_LOG_STATS_INTERVAL", "1000000")

from dataclasses import replace

from bench_tables import sweep_markdown
from sweep_breakdown import GenerateTimer, breakdown, engine_counters, vllm_counters

from s1_eval.demo.run import STOCK_TASK, stock_config
from s1_eval.demo.smollm2 import ensure_smollm2
from s1_eval.runs.hardware import hardware_summary, vllm_version
from s1_eval.sweep.run import SweepConfig, build_lm, make_task_manager, run_sweep
from s1_eval.sweep.shared import PassTimes
from s1_eval.trace import flat_row


def timed_sweep(lm, config: SweepConfig, share: bool, task_manager) -> tuple[float, dict, list]:
    """Run one sweep into a scratch folder: (wall seconds, its breakdown, sample rows)."""
    engine = lm.engine
    llm = getattr(engine, "llm", None)  # None: an engine without vLLM (the tests' scripted one)
    if llm is not None:
        llm.reset_prefix_cache()
    timer = GenerateTimer.around(lm)
    counters, metrics = engine_counters(engine), vllm_counters(llm)
    times = PassTimes()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        outcomes = run_sweep(
            config, out, lm=lm, log=lambda _: None, task_manager=task_manager, share=share,
            times=times,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        rows = [
            flat_row(json.loads(line))
            for path in Path(out).rglob("samples_*.jsonl")
            for line in path.read_text().splitlines()
        ]
    parts = breakdown(
        seconds, share, times, timer, sum(o.seconds for o in outcomes),
        engine_counters(engine, since=counters), vllm_counters(llm, since=metrics),
    )  # fmt: skip
    return seconds, parts, rows


def run_path(lm, config: SweepConfig, share: bool, task_manager) -> dict:
    seconds, parts, rows = timed_sweep(lm, config, share, task_manager)
    return {
        "seconds": round(seconds, 2),
        "tokens": parts["engine"]["generated_tokens"],
        "samples": len(rows),
        "capped": sum(row["cap_fired"] for row in rows),
        # a pass needs about one engine iteration per token of its longest request
        "longest_request_tokens": max(
            (row["thinking_tokens"] + row["answer_tokens"] for row in rows), default=0
        ),
        "breakdown": parts,
    }


def median_run(done: list[dict]) -> dict:
    """The run with the median wall time (the lower one of an even count): its breakdown."""
    return sorted(done, key=lambda r: r["seconds"])[(len(done) - 1) // 2]


def model_args(base: str, dtype: str | None, engine_args: list[str]) -> str:
    """The stock model_args with ``dtype`` and ``KEY=VALUE`` engine args replaced or added."""
    args = dict(item.split("=", 1) for item in base.split(","))
    args["disable_log_stats"] = "False"  # vLLM's prefix-cache and token counters
    if dtype:
        args["dtype"] = dtype
    args.update(item.split("=", 1) for item in engine_args)
    return ",".join(f"{k}={v}" for k, v in args.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="32,64,128,256")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="runs per path; the median counts")
    parser.add_argument("--dtype", default=None, help="default: the stock demo's float32")
    parser.add_argument("--engine-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="vLLM engine arg to set, e.g. enforce_eager=False on a GPU")  # fmt: skip
    parser.add_argument("--out", default=None, help="folder for sweep_bench.{json,md}")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    model_dir = ensure_smollm2()

    def config(caps) -> SweepConfig:
        base = stock_config(model_dir, budgets=caps, limit=args.limit)
        return replace(
            base,
            model_args=model_args(base.model_args, args.dtype, args.engine_arg),
            gen_kwargs={**base.gen_kwargs, "max_gen_toks": max(budgets) + 64},
        )

    lm = build_lm("s1_vllm", config(budgets).model_args)
    task_manager = make_task_manager(config(budgets))
    run_path(lm, config(budgets[:1]), False, task_manager)  # warm-up: engine start, first batch
    plans = {
        "independent": (config(budgets), False),
        "shared": (config(budgets), True),
        "largest alone": (config(budgets[-1:]), False),
    }
    runs: dict[str, list[dict]] = {name: [] for name in plans}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every path alike
        for name, (cfg, share) in plans.items():
            runs[name].append(run_path(lm, cfg, share, task_manager))
    paths = {
        name: {**median_run(done), "seconds": statistics.median(r["seconds"] for r in done),
               "every_run_s": [r["seconds"] for r in done]}
        for name, done in runs.items()
    }  # fmt: skip
    shared, largest = paths["shared"], paths["largest alone"]
    ratios = {
        "shared / independent": round(shared["seconds"] / paths["independent"]["seconds"], 3),
        "shared / largest alone": round(shared["seconds"] / largest["seconds"], 3),
    }
    vllm_config = lm.engine.llm.llm_engine.vllm_config
    record = {
        "budgets": budgets,
        "limit": args.limit,
        "task": STOCK_TASK,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "device": hardware_summary(),
        "dtype": str(vllm_config.model_config.dtype).removeprefix("torch."),
        "block_size": vllm_config.cache_config.block_size,
        "vllm": vllm_version(),  # the distribution says which build: vllm or vllm-cpu
        "paths": paths,
        "ratios": ratios,
    }
    text = sweep_markdown(record)
    print(text, end="")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "sweep_bench.json").write_text(json.dumps(record, indent=2) + "\n")
        (out / "sweep_bench.md").write_text(text)


if __name__ == "__main__":
    main()
