"""`s1-train select`: build an s1K-style set from your own pool (s1 §2: quality, difficulty,
diversity), as s1K-schema JSONL plus a selection report.

    s1-train select --pool pool.jsonl --output_dir sel --size 1000 --seed 0 \
        --decontaminate_task s1_math500 --reference_args pretrained=Qwen/Qwen2.5-7B-Instruct

Writes ``sel/selected.jsonl`` (the chosen rows as they were in the pool, in pool order) and
``sel/selection_report.json`` (counts per stage and domain, every dropped row with its
``file:line`` and reason, every candidate's trace length and draw number) together, and prints a short table. The reference
model's scoring cell stays in ``sel/difficulty/``. Everything that can be wrong with the options
or the pool fails before the reference model loads; the same seed and verdicts give
byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

from s1_eval.common.files import write_all_atomic
from s1_eval.trainer.select_config import SelectConfig, parse_select_args
from s1_eval.trainer.select_difficulty import difficulty_stage, length_counter, score_pool
from s1_eval.trainer.select_diversity import diversity_sample
from s1_eval.trainer.select_quality import PoolRow, benchmark_grams, quality_stage, read_pool

SELECTED_FILE = "selected.jsonl"
REPORT_FILE = "selection_report.json"
DIFFICULTY_DIR = "difficulty"
QUALITY_KINDS = ("malformed", "formatting", "duplicate", "contaminated")
#: the rows left after each stage, the columns of the per-domain table
STAGES = ("pool", "quality", "difficulty", "selected")


def select_command(argv: list[str]) -> dict:
    """Run the three stages for ``argv`` (the words after ``select``); returns the report."""
    config = parse_select_args(argv)
    pool = read_pool(config)
    benchmark = benchmark_grams(config)
    after_quality, dropped = quality_stage(pool, config, benchmark)
    count, unit = length_counter(config)  # a tokenizer at most: still no model loaded
    skipped = "no --reference_args" if not config.runs_difficulty else "no rows left to score"
    hard, difficulty = after_quality, {"run": False, "skipped": skipped}
    if config.runs_difficulty and after_quality:
        names = [reference_name(args, n) for n, args in enumerate(config.reference_args, 1)]
        work = Path(config.output_dir) / DIFFICULTY_DIR
        verdicts = [
            score_pool(after_quality, config, args, work / f"reference_{n}")
            for n, args in enumerate(config.reference_args, 1)
        ]
        hard, solved, stats = difficulty_stage(after_quality, verdicts, names)
        dropped += solved
        difficulty = {
            "run": True,
            "engine": config.reference_model,
            "max_gen_toks": config.max_gen_toks,
            "references": names,
            **stats,
        }
    lengths = [count(row.thinking()) for row in hard]
    chosen = diversity_sample(
        hard, lengths, lambda r: domain(r, config), size=config.size, seed=config.seed
    )
    report = build_report(config, pool, after_quality, hard, chosen, dropped, difficulty, unit)
    draw = {row.where: n for n, row in enumerate(chosen, 1)}
    # every row the diversity stage drew from: why a row was (not) chosen is readable here
    report["candidates"] = [
        {
            "where": r.where,
            "domain": domain(r, config),
            "trace_length": n,
            "drawn": draw.get(r.where),
        }
        for r, n in zip(hard, lengths, strict=True)
    ]
    write_outputs(config, chosen, report)
    print(summary_table(report))
    return report


def domain(row: PoolRow, config: SelectConfig) -> str:
    value = row.row.get(config.domain_field)
    return "(none)" if value in (None, "") else str(value)


def reference_name(model_args: str, number: int) -> str:
    """A reference model's name for the report: its folder's or hub id's last part, never a
    full local path."""
    from lm_eval.utils import simple_parse_args_string

    args = simple_parse_args_string(model_args)
    model = str(args.get("pretrained") or args.get("model") or "model")
    return f"{number}:{Path(model.rstrip('/')).name}"


def build_report(config, pool, after_quality, hard, chosen, dropped, difficulty, unit) -> dict:
    in_order = sorted(dropped, key=lambda d: _line(d.where))
    quality_drops = {kind: sum(d.kind == kind for d in dropped) for kind in QUALITY_KINDS}
    domains: dict[str, dict[str, int]] = {}
    for stage, rows in (("pool", pool), ("quality", after_quality), ("difficulty", hard),
                        ("selected", chosen)):  # fmt: skip
        for row in rows:
            counts = domains.setdefault(domain(row, config), dict.fromkeys(STAGES, 0))
            counts[stage] += 1
    return {
        "pool": Path(config.pool).name,
        "seed": config.seed,
        "size": config.size,
        "ngram": config.ngram,
        "decontaminated_against": [Path(p).name for p in config.decontaminate]
        + list(config.decontaminate_tasks),
        "trace_length_unit": unit,
        "counts": {
            "pool": len(pool),
            "quality": len(after_quality),
            "difficulty": len(hard),
            "selected": len(chosen),
        },
        "quality_dropped": quality_drops,
        "difficulty": difficulty,
        "short_of_size": max(0, config.size - len(chosen)),
        "domains": {name: domains[name] for name in sorted(domains)},
        "dropped": [d.to_dict() for d in in_order],
    }


def _line(where: str) -> int:
    return int(where.rsplit(":", 1)[1])


def write_outputs(config: SelectConfig, chosen: list[PoolRow], report: dict) -> None:
    """Both files in one step: a killed run never leaves a selection without its report."""
    in_pool_order = sorted(chosen, key=lambda r: r.line)
    rows = "".join(json.dumps(r.row, ensure_ascii=False) + "\n" for r in in_pool_order)
    folder = Path(config.output_dir)
    write_all_atomic(
        {
            folder / SELECTED_FILE: rows,
            folder / REPORT_FILE: json.dumps(report, indent=2, ensure_ascii=False) + "\n",
        }
    )


def summary_table(report: dict) -> str:
    counts, drops = report["counts"], report["quality_dropped"]
    why = ", ".join(f"{kind} {n}" for kind, n in drops.items() if n) or "none"
    difficulty = report["difficulty"]
    if difficulty["run"]:
        solved = ", ".join(f"{k} solved {v}" for k, v in difficulty["solved_by"].items())
    else:
        solved = f"not run: {difficulty['skipped']}"
    lines = [
        f"s1-train select: {counts['pool']} rows of {report['pool']} -> {counts['selected']} "
        f"selected (size {report['size']}, seed {report['seed']})",
        f"{'stage':<12}{'kept':>6}  dropped",
        f"{'quality':<12}{counts['quality']:>6}  {counts['pool'] - counts['quality']} ({why})",
        f"{'difficulty':<12}{counts['difficulty']:>6}  "
        f"{counts['quality'] - counts['difficulty']} ({solved})",
        f"{'diversity':<12}{counts['selected']:>6}  trace length in {report['trace_length_unit']}",
        "",
        f"{'domain':<20}" + "".join(f"{stage:>11}" for stage in STAGES),
    ]
    for name, row in report["domains"].items():
        lines.append(f"{name[:20]:<20}" + "".join(f"{row[stage]:>11}" for stage in STAGES))
    if report["short_of_size"]:
        lines.append(f"only {counts['selected']} rows were left to choose from: all selected")
    return "\n".join(lines)
