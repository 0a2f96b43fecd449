"""The leaderboard files of a report: markdown, CSV (curves and cells) and JSON.

write_report(build_report(["runs/sweep"]), "runs/board")  # leaderboard.{md,csv,json}, cells.csv
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from s1_eval.common.files import write_all_atomic
from s1_eval.common.numbers import MISSING, fmt
from s1_eval.report.build import CellRow, CurveRow, Report
from s1_eval.report.compare import comparison_table, seed_table
from s1_eval.report.methods_table import method_rows, methods_json, methods_markdown
from s1_eval.report.metrics import SCALING_KEY, SCALING_UNIT
from s1_eval.runs.methods import SOURCES


def _seconds(row: CellRow) -> str:
    if row.seconds_per_correct is None:
        return MISSING
    return (
        f"{row.seconds_per_correct:.2f} ({row.hardware})"
        if row.hardware
        else fmt(row.seconds_per_correct, 2)
    )


def _scaling(curve: CurveRow) -> str:
    if curve.scaling_ci_low is None or curve.scaling_ci_high is None:
        return fmt(curve.scaling, 2)
    return f"{fmt(curve.scaling, 2)} [{curve.scaling_ci_low:.2f}, {curve.scaling_ci_high:.2f}]"


def _acc(value, stderr) -> str:
    return MISSING if value is None else f"{value:.1f} ± {fmt(stderr)}"


def to_markdown(report: Report) -> str:
    lines = [
        "## Leaderboard",
        "",
        f"Scaling in {SCALING_UNIT} (mean pairwise slope, paper §3.2). Control = share of capped "
        "runs whose mean thinking stayed ≤ cap (paper); per-sample Control = share of samples "
        "within their cap. Runs without a cap are left out of Control.",
        "",
        "| model | task | setting | runs | budgets | Performance (acc. %) | at thinking tokens "
        f"| Control (runs) | Control (samples) | Scaling ({SCALING_UNIT}) [95 % interval] "
        "| tokens / correct |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report.curves:
        lines.append(
            f"| {c.model} | {c.task} | {c.series} | {c.n_runs} | {c.budgets} "
            f"| {_acc(c.performance_pct, c.performance_stderr_pct)} | {fmt(c.best_thinking_mean, 0)} "
            f"| {fmt(c.control_pct, 0, '%')} | {fmt(c.control_per_sample_pct, 1, '%')} "
            f"| {_scaling(c)} | {fmt(c.tokens_per_correct, 0)} |"
        )
    if report.comparisons:
        lines += ["", *comparison_table(report.comparisons)]
    if report.seeds:
        lines += ["", *seed_table(report.seeds)]
    lines += [
        "",
        "## Cells",
        "",
        "| model | task | setting | n | accuracy (%) ± stderr | mean thinking tokens "
        "| max thinking tokens | cap | within cap (samples) | cap fired | tokens / correct "
        "| s / correct | missing |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.cells:
        lines.append(
            f"| {r.model} | {r.task} | {r.setting} | {r.n} | {_acc(r.accuracy_pct, r.accuracy_stderr_pct)} "
            f"| {fmt(r.thinking_mean, 0)} | {fmt(r.thinking_max, 0)} | {fmt(r.cap, 0)} "
            f"| {fmt(r.within_cap_pct, 1, '%')} | {fmt(r.cap_fired_pct, 1, '%')} "
            f"| {fmt(r.tokens_per_correct, 0)} | {_seconds(r)} | {r.missing or ''} |"
        )
    notes = [c for c in report.curves if c.note]
    if notes or report.warnings:
        lines += ["", "## Notes", ""]
        lines += [f"- {c.model} / {c.task} / {c.series}: {c.note}" for c in notes]
        lines += [f"- {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"


def _curve_dict(curve: CurveRow) -> dict:
    data = {}
    for key, value in asdict(curve).items():
        if key == "scaling":  # the unit travels with the value, in the key and beside it
            data[SCALING_KEY] = value
            data["scaling_unit"] = SCALING_UNIT
        else:
            data[key] = value
    return data


def _cell_dict(row: CellRow) -> dict:
    """A cell's columns in the files: every CellRow field not marked ``in_files=False``."""
    data = asdict(row)
    for item in fields(CellRow):
        if not item.metadata.get("in_files", True):
            del data[item.name]
    return data


def to_json(report: Report) -> str:
    return json.dumps(
        {
            "scaling_unit": SCALING_UNIT,
            "curves": [_curve_dict(c) for c in report.curves],
            "cells": [_cell_dict(r) for r in report.cells],
            "comparisons": [asdict(c) for c in report.comparisons],
            "seeds": [asdict(s) for s in report.seeds],
            "warnings": list(report.warnings),
        },
        indent=2,
        ensure_ascii=False,
    )


def to_csv(rows: Sequence[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def report_files(report: Report, out_dir: str | Path, stem: str = "leaderboard") -> dict:
    """{path: text} of <stem>.md, <stem>.csv (curves), cells.csv and <stem>.json."""
    out = Path(out_dir)
    return {
        out / f"{stem}.md": to_markdown(report),
        out / f"{stem}.csv": to_csv([_curve_dict(c) for c in report.curves]),
        out / "cells.csv": to_csv([_cell_dict(r) for r in report.cells]),
        out / f"{stem}.json": to_json(report),
        **_methods_files(report, out),
    }


def _methods_files(report: Report, out: Path) -> dict[Path, str]:
    """methods.md and methods.json beside the leaderboard when a run compared control methods."""
    rows = method_rows(report)
    if not rows:
        return {}
    files: dict[Path, str | bytes] = {
        out / "methods.md": methods_markdown(report),
        out / "methods.json": methods_json(report),
    }
    if any(r.method.split(",")[0] in SOURCES for r in rows):  # methods beyond the paper's
        from s1_eval.report.methods_figure import METHODS_FIGURE, render_methods_figure

        files[out / METHODS_FIGURE] = render_methods_figure(report)
    return files


def write_report(report: Report, out_dir: str | Path, stem: str = "leaderboard") -> list[Path]:
    """Write the report files together (all staged before any replaces its old version)."""
    return write_all_atomic(report_files(report, out_dir, stem))
