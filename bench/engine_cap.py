"""vLLM's own thinking cap against ours: the same budgets, the same problems, one engine.

    python bench/engine_cap.py run [MODEL_DIR]   # two sweeps into results/engine-cap/
    python bench/engine_cap.py report            # results/engine-cap/README.md from them

``engine-cap`` cells send one request per problem with vLLM's ``thinking_token_budget``; the
``forcing`` cells run our loop (thinking step, then the answer step). Both close the thinking
with the bare end delimiter (``thinking_cap_suffix`` empty), so the traces can be equal; ours
still starts the delimiter on a new line when the thinking does not end one. Each sweep is a
fresh process with ``--independent`` cells (no step shared between them); the second sweep runs
the methods in the other order, so neither gains from running second (prefix cache, warm-up).
Time per cell is the sweep's own ``seconds``; a method's time is the mean of its two cells.
MODEL_DIR defaults to stock SmolLM2-135M-Instruct with plain-text delimiters; the committed run
is the demo's trained model (s1 delimiters, ``s1_demo_counting``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results" / "engine-cap"
BUDGETS = (8, 16, 32, 64)
ENGINE = "dtype=float32,max_model_len=2048,block_size=32,enforce_eager=True,seed=0"
ORDERS = {"ours-first": "forcing,engine-cap", "engine-first": "engine-cap,forcing"}


def task_and_preset(model: Path) -> tuple[str, str]:
    """The demo's trained model thinks in s1 delimiters on counting; stock SmolLM2 in plain."""
    return ("s1_demo_counting", "s1") if model.name.startswith("mini-s1") else (
        "s1_demo_arithmetic", "plain")  # fmt: skip


def sweep_command(model: Path, methods: str, output: Path) -> list[str]:
    task, preset = task_and_preset(model)
    return ["s1-eval", "sweep", "--model", "s1_vllm", "--model_args",
            f"pretrained={model},preset={preset},{ENGINE}", "--tasks", task,
            "--budgets", ",".join(map(str, BUDGETS)), "--methods", methods, "--independent",
            "--gen_kwargs", "max_gen_toks=160,thinking_cap_suffix=", "--apply_chat_template",
            "--no_plot", "--label", model.name, "--output_path", str(output)]  # fmt: skip


def run_all(model: Path | None) -> None:
    if model is None:
        from s1_eval.demo.smollm2 import ensure_smollm2

        model = ensure_smollm2()
    for order, methods in ORDERS.items():  # paths relative to the repository, as committed
        output = (RESULTS / order).relative_to(REPO)
        subprocess.run(sweep_command(model, methods, output), check=True, cwd=REPO)


def cell_name(method: str, budget: int) -> str:
    return f"budget={budget}" if method == "forcing" else f"method={method},budget={budget}"


def seconds(run: Path, cell: str) -> float:
    [record] = run.glob(f"cells/*__{cell}/cell.json")
    return json.loads(record.read_text())["seconds"]


def beyond_budget(run: Path, cell: str, budget: int) -> list[int]:
    """Thinking tokens past the budget in each problem the cap closed."""
    from s1_eval.common.files import read_jsonl
    from s1_eval.trace import row_value

    [samples] = run.glob(f"cells/*__{cell}/**/samples_*.jsonl")
    rows = [row for _, row in read_jsonl(samples)]
    return [row_value(r, "thinking_tokens") - budget for r in rows if row_value(r, "cap_fired")]


def measure() -> list[dict]:
    """Per budget: traces identical (engine vs ours), where they part, each method's time and
    how far past the budget each cap let the thinking run."""
    from s1_eval.report.trace_diff import compare_traces

    rows = []
    for budget in BUDGETS:
        ours, engine = cell_name("forcing", budget), cell_name("engine-cap", budget)
        first = RESULTS / "ours-first"
        summary = compare_traces(f"{first}:{ours}", f"{first}:{engine}").summary()
        times = {
            method: statistics.mean(seconds(RESULTS / o, cell_name(method, budget)) for o in ORDERS)
            for method in ("forcing", "engine-cap")
        }
        past = {m: beyond_budget(first, cell_name(m, budget), budget) for m in times}
        rows.append({"budget": budget, **summary, "seconds": times, "past_budget": past})
    return rows


def section() -> str:
    lines = [
        "| thinking budget | identical traces | where they part (first token, phase) "
        "| score changed (won / lost) | capped: tokens past the budget, ours / vLLM's "
        "| our loop s | vLLM's cap s | vLLM / ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in measure():
        q = r["first_divergence"]
        parted = (
            f"median {q['median']:g} ({q['q1']:g}-{q['q3']:g}); "
            + ", ".join(f"{k} {v}" for k, v in r["phases"].items())
            if r["diverging"]
            else "-"
        )
        ours, engine = r["seconds"]["forcing"], r["seconds"]["engine-cap"]
        changed = r["score_changed"]
        past = " / ".join(_spread(r["past_budget"][m]) for m in ("forcing", "engine-cap"))
        lines.append(
            f"| {r['budget']} | {r['identical']} / {r['problems']} | {parted} "
            f"| {changed['won']} / {changed['lost']} | {past} | {ours:.1f} | {engine:.1f} "
            f"| {engine / ours:.2f} |"
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def _spread(values: list[int]) -> str:
    """'+1 (n=44)': the values seen past the budget and how many problems were capped."""
    if not values:
        return "none capped"
    low, high = min(values), max(values)
    shown = f"+{low}" if low == high else f"+{low}..+{high}"
    return f"{shown} (n={len(values)})"


def report_text() -> str:
    return (
        "# vLLM's thinking_token_budget against our cap\n\n"
        "Generated by `python bench/engine_cap.py report` from the two sweeps in this folder "
        "(`s1-eval compare --traces` between each budget's `forcing` and `engine-cap` cells of "
        "`ours-first`; seconds are the mean of the two sweeps, which ran the methods in opposite "
        "orders; one engine per sweep, 2 CPU cores, float32, greedy).\n\n" + section()
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        run_all(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:] == ["report"]:
        (RESULTS / "README.md").write_text(report_text())
        print(f"wrote {RESULTS / 'README.md'}")
    else:
        sys.exit("usage: python bench/engine_cap.py run [MODEL_DIR] | report")
