"""The paper's Table 3 for any run: control methods side by side (Control / Scaling / Performance).

    print(methods_markdown(build_report(["runs/x"]), reference=load_reference()))

One row per model, task and method (``s1_eval.runs.methods``); budget forcing is the run's
forcing curve ("all settings" when it has several forcing series, as the paper's budget
forcing mixes caps and extensions). The paper's own rows (s1-32B, AIME24) can be shown beside.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from s1_eval.common.numbers import fmt
from s1_eval.report.build import ALL_SETTINGS, CurveRow, Report
from s1_eval.report.metrics import SCALING_UNIT
from s1_eval.runs.methods import PAPER_NAMES

PAPER_TABLE = "methods_aime24_s1_32b"


@dataclass(frozen=True)
class MethodRow:
    model: str
    task: str
    method: str
    paper_name: str
    n_runs: int
    control_pct: float | None
    scaling: float | None
    scaling_ci_low: float | None
    scaling_ci_high: float | None
    performance_pct: float | None
    performance_stderr_pct: float | None
    levels: str


def _method_of(curve: CurveRow) -> str | None:
    first = curve.series.split(",")[0]
    return first if first in PAPER_NAMES and first != "forcing" else None


def method_rows(report: Report) -> list[MethodRow]:
    """The Table 3 rows of every model and task that ran at least one control method."""
    by_run: dict[tuple[str, str], list[CurveRow]] = {}
    for curve in report.curves:
        by_run.setdefault((curve.model, curve.task), []).append(curve)
    rows = []
    for curves in by_run.values():
        methods = {c.series: m for c in curves if (m := _method_of(c))}
        if not methods:
            continue
        forcing = [c for c in curves if c.series not in methods and c.series != ALL_SETTINGS]
        pooled = [c for c in curves if c.series == ALL_SETTINGS]
        chosen = pooled or forcing
        if chosen:
            rows.append(_row(chosen[0], "forcing"))
        rows += [_row(c, methods[c.series]) for c in curves if c.series in methods]
    return rows


def _row(curve: CurveRow, method: str) -> MethodRow:
    return MethodRow(
        model=curve.model,
        task=curve.task,
        # the series keeps a seed or suppression count the method's cells carry
        method="forcing" if method == "forcing" else curve.series,
        paper_name=PAPER_NAMES[method],
        n_runs=curve.n_runs,
        control_pct=curve.control_pct,
        scaling=curve.scaling,
        scaling_ci_low=curve.scaling_ci_low,
        scaling_ci_high=curve.scaling_ci_high,
        performance_pct=curve.performance_pct,
        performance_stderr_pct=curve.performance_stderr_pct,
        levels=curve.budgets,
    )


def methods_markdown(report: Report, reference: dict | None = None, heading: bool = True) -> str:
    """Table 3's layout for the report's runs, and the paper's rows when ``reference`` is given."""
    rows = method_rows(report)
    lines = ["## Control methods (the s1 paper's Table 3 layout)", ""] if heading else []
    lines += [
        f"Scaling in {SCALING_UNIT} [95 % bootstrap interval]; Performance ± stderr; |A| = runs. "
        "Control = share of runs within their bounds (paper, Eq. 1): a budget bounds every "
        'budgeted method (stated in the prompt or forced); a "short" class prompt must not '
        'think longer than the run without a prompt and a "long" one not shorter (the '
        "paper's class-conditional Control); chat-template levels must be in their intended "
        "order (false < true, numbers ascending, minimal < low < medium < high).",
        "",
        "| model | task | method | paper's name | Control | Scaling [95 % interval] "
        "| Performance (acc. %) | \\|A\\| | budgets / levels |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        interval = ""
        if r.scaling_ci_low is not None and r.scaling_ci_high is not None:
            interval = f" [{r.scaling_ci_low:.0f}, {r.scaling_ci_high:.0f}]"
        error = f" ± {r.performance_stderr_pct:.1f}" if r.performance_stderr_pct is not None else ""
        lines.append(
            f"| {r.model} | {r.task} | {r.method} | {r.paper_name} | {fmt(r.control_pct, 0, '%')} "
            f"| {fmt(r.scaling, 0)}{interval} | {fmt(r.performance_pct)}{error} | {r.n_runs} "
            f"| {r.levels} |"
        )
    if not rows:
        lines.append("| (no control-method runs: sweep with --methods) | | | | | | | | |")
    if reference:
        lines += ["", *paper_rows(reference)]
    return "\n".join(lines) + "\n"


def paper_rows(reference: dict) -> list[str]:
    """The paper's Table 3 (s1-32B, AIME24) as printed there."""
    table = reference.get(PAPER_TABLE) or {}
    if not table.get("rows"):
        return []
    lines = [
        "The paper's Table 3 (s1-32B, AIME24; Scaling as printed there, no unit given):",
        "",
        "| paper's method | Control | Scaling | Performance (acc. %) | \\|A\\| |",
        "|---|---|---|---|---|",
    ]
    for method, control, scaling, performance, runs in table["rows"]:
        lines.append(f"| {method} | {control}% | {scaling} | {performance:.1f} | {runs} |")
    return lines


def methods_json(report: Report) -> str:
    return json.dumps([asdict(r) for r in method_rows(report)], indent=2) + "\n"
