"""How reproducible a greedy run is: the same cells run again, in another dtype, on another engine,
compared token by token with `s1-eval compare --traces` (s1_eval.report.trace_diff).

    python bench/reproducibility.py run [NAME ...]  # the sweeps into results/reproducibility/runs/
    python bench/reproducibility.py report   # results/reproducibility/README.md from them

The runs are SmolLM2-135M-Instruct (untrained, plain preset) on s1_demo_arithmetic, 8 problems,
budgets 16 and 64 with one "Wait", greedy, each a separate process (a fresh engine). The
``-resumed`` runs are SIGKILLed as soon as their sweep reports its first finished cell and then
run again into the same folder, so the other cells continue from the steps stored before the
kill. Machine paths in the runs are replaced by the model's name before they are committed.
scripts/build_docs.py puts the same table into the docs; a test checks both are current.
"""

from __future__ import annotations

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
}
#: runs SIGKILLed once their sweep reported its first finished cell, then run again to the end
RESUMED = ("vllm-fp32-resumed", "vllm-bf16-resumed", "vllm-bf16-nocache-resumed")
#: (question, run A, run B)
PAIRS = (
    ("the same run twice (fresh engine, float32)", "vllm-fp32", "vllm-fp32-again"),
    ("the same run twice (fresh engine, bfloat16)", "vllm-bf16", "vllm-bf16-again"),
    ("float32 vs bfloat16 (s1_vllm)", "vllm-fp32", "vllm-bf16"),
    ("s1_vllm vs s1_hf (float32)", "vllm-fp32", "hf-fp32"),
    ("killed after one cell and resumed vs uninterrupted (float32)", "vllm-fp32",
     "vllm-fp32-resumed"),
    ("killed after one cell and resumed vs uninterrupted (bfloat16)", "vllm-bf16",
     "vllm-bf16-resumed"),
    ("the same, prefix caching off in both (bfloat16)", "vllm-bf16-nocache",
     "vllm-bf16-nocache-resumed"),
)  # fmt: skip


def sweep_command(name: str, model: str) -> list[str]:
    backend, args = RUN_ARGS[name]
    return ["s1-eval", "sweep", "--model", backend, "--model_args", f"pretrained={model},{args}",
            "--tasks", TASK, "--budgets", "16,64", "--n_ignore", "1", "--ignore_str", "Wait",
            "--gen_kwargs", "max_gen_toks=160", "--limit", "8", "--apply_chat_template",
            "--no_plot", "--output_path", str(RUNS / name)]  # fmt: skip


def run_all(names=None) -> None:
    from s1_eval.demo.smollm2 import ensure_smollm2

    model = ensure_smollm2()
    for name in names or RUN_ARGS:
        command = sweep_command(name, str(model))
        if name in RESUMED:
            kill_after_first_cell(command)
        subprocess.run(command, check=True)


def kill_after_first_cell(command: list[str]) -> None:
    """Run a sweep and SIGKILL it once it reports its first finished cell (the shared pass is
    still generating the others' steps, which its step store keeps)."""
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        for cell in CELLS:
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
    runs = ", ".join(f"`{name}` ({RUN_ARGS[name][0]}, {RUN_ARGS[name][1]})" for name in RUN_ARGS)
    return (
        "\n".join(lines)
        + f"\n\nRuns (results/reproducibility/runs/): {runs}; SmolLM2-135M-Instruct, {TASK}, "
        "8 problems, greedy, one process each. Token index counts from the first thinking token.\n"
    )


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
