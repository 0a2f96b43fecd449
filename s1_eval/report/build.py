"""Leaderboard across runs: per-cell rows and per-curve Control / Scaling / Performance.

    report = build_report(["runs/sweep_a", "runs/sweep_b"]); print(to_markdown(report))

A *curve* is the set A of the paper: the cells of one model and task that differ only in the
budget (same suppression count and ignore string, the setting's ``series``). When a model and
task have several series, one more curve "all settings" pools them (the paper's budget forcing
mixes capped runs with extended ones). Each curve's Scaling carries a bootstrap interval; each
setting is paired against the run's baseline and sampled settings repeated over seeds are
summarised (``s1_eval.report.compare``). The files are written by ``s1_eval.report.leaderboard``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from s1_eval.report.compare import (
    BaselineComparison,
    SeedRepeats,
    baseline_comparisons,
    seed_repeats,
)
from s1_eval.report.control import level_rank, run_bounds
from s1_eval.report.metrics import (
    CellStats,
    RunPoint,
    cell_stats,
    curve_metrics,
    in_control,
    per_correct,
)
from s1_eval.report.parallel import with_parallel_runs
from s1_eval.report.statistics import scaling_interval
from s1_eval.runs.samples import Cell, load_cells

ALL_SETTINGS = "all settings"


@dataclass(frozen=True)
class CellRow:
    model: str
    task: str
    series: str
    setting: str
    budget: str
    n: int
    accuracy_pct: float | None
    accuracy_stderr_pct: float | None
    thinking_mean: float | None
    thinking_max: int | None
    cap: float | None
    control_run: int | None  # 1[a <= a_max]; None: no cap
    within_cap_pct: float | None  # per-sample Control
    cap_fired_pct: float | None
    suppressions_mean: float | None
    missing: str
    results_file: str
    #: mean thinking + answer tokens per sample (the x axis of `s1-eval plot --x total`)
    generated_mean: float | None = None
    correct: float | None = None
    generated_tokens: int | None = None
    tokens_per_correct: float | None = None
    seconds: float | None = None
    seconds_per_correct: float | None = None
    hardware: str = ""
    #: the versions the cell's results file recorded; kept out of the leaderboard files, whose
    #: columns stay as they were (the HTML page shows them)
    s1_eval_version: str = field(default="", metadata={"in_files": False})
    lm_eval_version: str = field(default="", metadata={"in_files": False})
    task_version: str = field(default="", metadata={"in_files": False})
    #: a_min of Control (a "long" class prompt must think at least as long as no prompt)
    a_min: float | None = field(default=None, metadata={"in_files": False})


@dataclass(frozen=True)
class CurveRow:
    model: str
    task: str
    series: str
    n_runs: int
    budgets: str
    control_pct: float | None
    n_unbounded: int
    control_per_sample_pct: float | None
    scaling: float | None
    performance_pct: float | None
    performance_stderr_pct: float | None
    best_setting: str
    best_thinking_mean: float | None
    note: str
    #: summed over the curve's cells: generated tokens / correct answers, seconds / correct
    tokens_per_correct: float | None = None
    seconds_per_correct: float | None = None
    #: 95 % bootstrap interval of Scaling over the problems all runs of the curve scored
    scaling_ci_low: float | None = None
    scaling_ci_high: float | None = None


@dataclass(frozen=True)
class Report:
    cells: tuple[CellRow, ...]
    curves: tuple[CurveRow, ...]
    warnings: tuple[str, ...] = ()
    comparisons: tuple[BaselineComparison, ...] = ()
    seeds: tuple[SeedRepeats, ...] = ()


def _run_cap(cell: Cell, stats: CellStats) -> float | None:
    """a_max of a run: the setting's integer budget, else the resolved cap in the samples."""
    if cell.setting.cap is not None:
        return float(cell.setting.cap)
    caps = [r.max_tokens_thinking for r in cell.records if r.max_tokens_thinking is not None]
    return float(max(caps)) if caps else None


def cell_row(cell: Cell) -> tuple[CellRow, CellStats]:
    stats = cell_stats(cell.records, cap=cell.setting.cap)
    cap = _run_cap(cell, stats)
    point = None
    if stats.thinking_mean is not None and stats.accuracy_pct is not None:
        point = RunPoint(stats.thinking_mean, stats.accuracy_pct, a_max=cap)
    verdict = in_control(point) if point else None
    row = CellRow(
        model=cell.model,
        task=cell.task,
        series=cell.setting.series,
        setting=cell.setting.name,
        budget=_budget_text(cell.setting),
        n=stats.n,
        accuracy_pct=stats.accuracy_pct,
        accuracy_stderr_pct=stats.accuracy_stderr_pct,
        thinking_mean=stats.thinking_mean,
        thinking_max=stats.thinking_max,
        cap=cap,
        control_run=None if verdict is None else int(verdict),
        within_cap_pct=stats.within_cap_pct,
        cap_fired_pct=stats.cap_fired_pct,
        suppressions_mean=stats.suppressions_mean,
        missing="; ".join(stats.missing + tuple(f"field {f}" for f in cell.missing_fields)),
        results_file=cell.results_file,
        generated_mean=stats.generated_mean,
        correct=stats.correct,
        generated_tokens=stats.generated_tokens,
        tokens_per_correct=stats.tokens_per_correct,
        seconds=cell.seconds,
        seconds_per_correct=per_correct(cell.seconds, stats.correct),
        hardware=cell.hardware,
        s1_eval_version=cell.s1_eval_version,
        lm_eval_version=cell.lm_eval_version,
        task_version=cell.task_version,
    )
    return row, stats


def _budget_text(setting) -> str:
    if setting.budget is None:
        return setting.level or "none"  # a class prompt or chat-template level has no budget
    return str(setting.budget)


def _method_bounds(members: Sequence[tuple[CellRow, CellStats, Cell]]) -> list:
    """The runs of one model and task, each control method's run given its Control bounds
    (``s1_eval.report.control.run_bounds``: some are relative to the other runs)."""
    thinking = {cell.setting: row.thinking_mean for row, _, cell in members}
    out = []
    for row, stats, cell in members:
        if cell.setting.method:
            low, high = run_bounds(cell.setting, thinking)
            verdict = None
            if row.thinking_mean is not None:
                verdict = in_control(RunPoint(row.thinking_mean, 0.0, a_max=high, a_min=low))
            control = None if verdict is None else int(verdict)
            row = replace(row, cap=high, a_min=low, control_run=control)
        out.append((row, stats, cell))
    return out


def _budget_key(row: CellRow) -> tuple[int, float]:
    try:
        return (0, float(row.budget))
    except ValueError:  # a level: in its intended order (short < long, low < high)
        rank = level_rank(row.budget)
        return (1, rank if rank is not None else 0.0)


def _curve(model: str, task: str, series: str, members: Sequence[tuple[CellRow, CellStats, Cell]]):
    members = sorted(members, key=lambda m: _budget_key(m[0]))
    usable = [
        (r, s) for r, s, _ in members if r.thinking_mean is not None and r.accuracy_pct is not None
    ]
    interval = scaling_interval(
        [(c.records, r.cap) for r, _, c in members if r.thinking_mean is not None]
    )
    points = [
        RunPoint(r.thinking_mean, r.accuracy_pct, a_max=r.cap, a_min=r.a_min, label=r.setting)
        for r, _ in usable
    ]
    metrics = curve_metrics(points, [(s.n_within_cap, s.n_capped) for _, s in usable])
    scored = [r for r, _, _ in members if r.accuracy_pct is not None]
    best = max(scored, key=lambda r: r.accuracy_pct, default=None)
    notes = []
    if len(usable) < len(members):
        notes.append(f"{len(members) - len(usable)} run(s) without thinking tokens or accuracy")
    if metrics.n_unbounded:
        notes.append(f"{metrics.n_unbounded} run(s) without a cap left out of Control")
    return CurveRow(
        model=model,
        task=task,
        series=series,
        n_runs=len(members),
        budgets=",".join(r.budget for r, _, _ in members),
        control_pct=metrics.control_pct,
        n_unbounded=metrics.n_unbounded,
        control_per_sample_pct=metrics.control_per_sample_pct,
        scaling=metrics.scaling,
        # Performance = max f(a); computed over every scored run, traced or not
        performance_pct=best.accuracy_pct if best else None,
        performance_stderr_pct=best.accuracy_stderr_pct if best else None,
        best_setting=best.setting if best else "",
        best_thinking_mean=best.thinking_mean if best else None,
        note="; ".join(notes),
        tokens_per_correct=per_correct(
            _total(r.generated_tokens for r, _, _ in members),
            _total(r.correct for r, _, _ in members),
        ),
        seconds_per_correct=per_correct(
            _total(r.seconds for r, _, _ in members), _total(r.correct for r, _, _ in members)
        ),
        scaling_ci_low=interval[0] if interval else None,
        scaling_ci_high=interval[1] if interval else None,
    )


def _total(values: Iterable[float | None]) -> float | None:
    """The sum, or None if any part is unknown (a partial sum would flatter the cost)."""
    values = list(values)
    return None if not values or any(v is None for v in values) else sum(values)


def build_report(
    paths: Iterable[str | Path], metric: str = "exact_match", filter_name: str | None = None
) -> Report:
    """Read every run folder and compute cell rows and curves."""
    cells, warnings = load_cells(paths, metric=metric, filter_name=filter_name)
    return report_from_cells(with_parallel_runs(cells), warnings)


def _length_note(row: CellRow, stats: CellStats) -> str:
    """A cell whose samples the context clamped or left without an answer, said in words."""
    parts = []
    if stats.context_clamped_pct:
        parts.append(
            f"{stats.context_clamped_pct:.0f}% of samples had their thinking clamped by the "
            "context (the budget was not tested)"
        )
    if stats.no_answer_pct:
        parts.append(
            f"{stats.no_answer_pct:.0f}% of samples have no answer (thinking used up "
            "max_gen_toks or the context)"
        )
    return f"{row.model} / {row.task} / {row.setting}: " + "; ".join(parts) if parts else ""


def report_from_cells(cells: Sequence[Cell], warnings: Sequence[str] = ()) -> Report:
    rows = [(*cell_row(cell), cell) for cell in cells]
    rows.sort(key=lambda m: (m[0].model, m[0].task, m[0].series, _budget_key(m[0])))
    by_run: dict[tuple[str, str], list] = defaultdict(list)
    for member in rows:
        by_run[(member[0].model, member[0].task)].append(member)
    rows = [m for members in by_run.values() for m in _method_bounds(members)]
    groups: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row, stats, cell in rows:
        groups[(row.model, row.task)][row.series].append((row, stats, cell))
    curves = []
    for (model, task), by_series in groups.items():
        for series, members in by_series.items():
            curves.append(_curve(model, task, series, members))
        # "all settings" pools the budget-forcing series only: other methods are their own A
        forcing = {k: v for k, v in by_series.items() if not v[0][2].setting.method}
        if len(forcing) > 1:
            pooled = [m for members in forcing.values() for m in members]
            curves.append(_curve(model, task, ALL_SETTINGS, pooled))
    notes = [note for row, stats, _ in rows if (note := _length_note(row, stats))]
    return Report(
        tuple(r for r, _, _ in rows),
        tuple(curves),
        (*warnings, *notes),
        tuple(baseline_comparisons(cells)),
        tuple(seed_repeats(cells)),
    )
