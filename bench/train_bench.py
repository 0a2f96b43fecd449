"""Training throughput of the tiny CPU recipe on this machine: tokens/s and peak memory.

    python bench/train_bench.py [--steps 8] [--model PATH] [s1-train flags ...]

Not a test: numbers depend on the machine and on what else runs on it. Steady-state tokens/s
leaves the first step out (allocator warm-up, first-touch of the weights).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from s1_eval.common.bundled import TRAINER_DIR
from s1_eval.trainer import sft

RECIPE = TRAINER_DIR / "recipes" / "tiny_cpu.yaml"


class StepClock(TrainerCallback):
    """(time, cumulative tokens) at each log; the recipe logs every step."""

    def __init__(self):
        self.marks: list[tuple[float, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            self.marks.append((time.perf_counter(), float(logs["num_tokens"])))


def default_model() -> str:
    from s1_eval.demo.smollm2 import ensure_smollm2

    return str(ensure_smollm2())


def peak_memory() -> str:
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB
    text = f"peak process RSS {rss_gib:.2f} GiB"
    if torch.cuda.is_available():
        text += f", peak GPU allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--model", default=None, help="default: the local SmolLM2-135M-Instruct")
    known, extra = parser.parse_known_args()
    output_dir = tempfile.mkdtemp(prefix="s1-train-bench-")
    argv = [
        "--config", str(RECIPE),
        "--model_name_or_path", known.model or default_model(),
        "--dataset_name", str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "s1k_tiny.jsonl"),
        "--max_steps", str(known.steps),
        "--output_dir", output_dir,
        *extra,
    ]  # fmt: skip
    args, config = sft.parse_config(argv)
    trainer = sft.build_trainer(args, config)
    clock = StepClock()
    trainer.add_callback(clock)
    result = trainer.train()
    (t0, n0), (t1, n1) = clock.marks[0], clock.marks[-1]
    print("\n== s1-train benchmark (tiny CPU recipe) ==")
    print(f"model {args.model_name_or_path}")
    print(
        f"device {'cuda' if torch.cuda.is_available() else 'cpu'}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}"
    )
    print(
        f"steps {result.global_step}, batch {config.per_device_train_batch_size}, tokens {n1:.0f}"
    )
    print(f"tokens/s overall {n1 / result.metrics['train_runtime']:.1f}")
    if len(clock.marks) > 1:
        print(f"tokens/s steady (steps 2..{len(clock.marks)}) {(n1 - n0) / (t1 - t0):.1f}")
    print(peak_memory())


if __name__ == "__main__":
    main()
