"""`s1-eval compare`: two settings (of one run or of two runs) on the problems both answered;
and the report's evidence sections (each setting against the baseline, repeated seeds).

    s1-eval compare runs/demo:budget=none,n_ignore=0 runs/demo:budget=none,n_ignore=2,str=Wait

A side is ``RUN`` (a sweep folder, lm-eval output folder or results file) optionally followed by
``:SETTING`` (a setting name as the leaderboard prints it, or its folder name). The statistics
live in ``s1_eval.report.statistics``; this module picks the two cells and prints the result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from s1_eval.common.log import did_you_mean
from s1_eval.common.numbers import fmt
from s1_eval.report.metrics import cell_stats, mean_stderr
from s1_eval.report.statistics import (
    CONFIDENCE,
    RESAMPLES,
    SEED,
    Comparison,
    NoSharedProblems,
    compare_records,
    direction,
)
from s1_eval.runs.folder import Setting
from s1_eval.runs.samples import Cell, load_cells


def split_side(side: str) -> tuple[str, str | None]:
    """``RUN[:SETTING]`` -> (run, setting or None); a path that exists as written has no setting."""
    if Path(side).exists() or ":" not in side:
        return side, None
    run, _, setting = side.partition(":")
    return run, setting or None


def _names(cells: list[Cell]) -> str:
    return ", ".join(sorted({c.setting.name for c in cells}))


def pick_cell(side: str, task: str | None, metric: str, filter_name: str | None) -> Cell:
    """The one cell a side names; ValueError (one line, with the choices) otherwise."""
    run, setting = split_side(side)
    cells, _ = load_cells([run], metric=metric, filter_name=filter_name)
    if not cells:
        raise ValueError(f"{run}: no finished cells")
    if task is not None:
        tasks = sorted({c.task for c in cells})
        cells = [c for c in cells if c.task == task]
        if not cells:
            raise ValueError(f"--task={task}: not in {run} (it holds {', '.join(tasks)})")
    tasks = sorted({c.task for c in cells})
    if len(tasks) > 1:
        raise ValueError(f"{run} holds tasks {', '.join(tasks)}: choose one with --task")
    if setting is not None:
        chosen = [c for c in cells if setting in (c.setting.name, c.setting.slug)]
        if not chosen:
            hint = did_you_mean(setting, [c.setting.name for c in cells])
            raise ValueError(
                f"{side}: no setting {setting!r} in {run}.{hint} It holds {_names(cells)}"
            )
        cells = chosen
    if len(cells) > 1:
        raise ValueError(
            f"{run} holds {len(cells)} settings: name one as {run}:SETTING ({_names(cells)})"
        )
    return cells[0]


def compare_sides(
    side_a: str,
    side_b: str,
    task: str | None = None,
    metric: str = "exact_match",
    filter_name: str | None = None,
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Comparison:
    """Pick both cells and compare B against A (NoSharedProblems when they share none)."""
    cell_a = pick_cell(side_a, task, metric, filter_name)
    cell_b = pick_cell(side_b, task, metric, filter_name)
    label_a, label_b = _label(cell_a, side_a), _label(cell_b, side_b)
    try:
        return compare_records(
            cell_a.records, cell_b.records, label_a, label_b, n_resamples=n_resamples, seed=seed
        )
    except NoSharedProblems as error:
        raise NoSharedProblems(
            f"cannot compare {label_a} with {label_b}: {error} "
            f"(tasks {cell_a.task} / {cell_b.task}, {len(cell_a.records)} / "
            f"{len(cell_b.records)} samples)"
        ) from None


def _label(cell: Cell, side: str) -> str:
    run, _ = split_side(side)
    return f"{run}:{cell.setting.name}"


def comparison_json(comparison: Comparison) -> str:
    data = asdict(comparison)
    data.update(
        ties=comparison.ties, significant=comparison.significant, verdict=comparison.verdict
    )
    return json.dumps(data, indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- report section


@dataclass(frozen=True)
class BaselineComparison:
    """One setting of a run against the run's baseline setting (a row of the report)."""

    model: str
    task: str
    baseline: str
    setting: str
    n: int
    difference_pct: float
    ci_low_pct: float
    ci_high_pct: float
    wins: int
    losses: int
    ties: int
    mcnemar_p: float
    significant: bool


def baseline_of(cells: Sequence[Cell]) -> Cell:
    """No forcing at all if the run has it, else the smallest cap without extension."""

    def key(cell: Cell) -> tuple:
        s = cell.setting
        plain = not s.n_ignore
        cap = s.cap if s.cap is not None else math.inf
        return (not (plain and s.budget is None), not plain, cap, s.name)

    return min(cells, key=key)


def _budget_order(cell: Cell) -> tuple[bool, float]:
    return (cell.setting.cap is None, cell.setting.cap or 0.0)


def baseline_comparisons(
    cells: Sequence[Cell], n_resamples: int = RESAMPLES, seed: int = SEED
) -> list[BaselineComparison]:
    """Every other setting of each (model, task) against its baseline, on shared problems."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.model, cell.task), []).append(cell)
    rows = []
    for _group, members in sorted(groups.items()):
        base = baseline_of(members)
        for cell in sorted(members, key=lambda c: (c.setting.series, _budget_order(c))):
            if cell is not base and (row := paired_row(base, cell, n_resamples, seed)):
                rows.append(row)
    return rows


def paired_row(
    base: Cell, cell: Cell, n_resamples: int = RESAMPLES, seed: int = SEED
) -> BaselineComparison | None:
    """``cell`` against ``base`` on the problems both scored (None: they share none)."""
    try:
        c = compare_records(base.records, cell.records, n_resamples=n_resamples, seed=seed)
    except NoSharedProblems:
        return None
    return BaselineComparison(
        cell.model, cell.task, base.setting.name, cell.setting.name, c.n, c.difference_pct,
        c.ci_low_pct, c.ci_high_pct, c.wins, c.losses, c.ties, c.mcnemar_p, c.significant,
    )  # fmt: skip


def _forcing_twin(cell: Cell, members: Sequence[Cell]) -> Cell | None:
    """The plain budget-forcing cell at ``cell``'s budget (no method, no extension), if any."""
    budget = cell.setting.budget
    return next(
        (c for c in members if c.setting.method is None and not c.setting.n_ignore
         and c.setting.budget == budget and c.setting.seed is None),
        None,
    )  # fmt: skip


def against_forcing(
    cells: Sequence[Cell], n_resamples: int = RESAMPLES, seed: int = SEED
) -> list[BaselineComparison]:
    """Each method's cell against budget forcing at the same budget, on shared problems."""
    rows = []
    for cell in sorted(cells, key=lambda c: (c.model, c.task, c.setting.series, _budget_order(c))):
        if cell.setting.method in (None, "forcing", "parallel"):
            continue
        members = [c for c in cells if (c.model, c.task) == (cell.model, cell.task)]
        twin = _forcing_twin(cell, members)
        if twin is not None and (row := paired_row(twin, cell, n_resamples, seed)):
            rows.append(row)
    return rows


def comparison_table(rows: Sequence[BaselineComparison]) -> list[str]:
    """Markdown lines of the report's paired-comparison section (empty without rows)."""
    if not rows:
        return []
    lines = [
        "## Paired comparisons",
        "",
        "Each setting against its run's baseline (no forcing, else the smallest cap) on the "
        f"problems both scored: B - A in accuracy points, {round(100 * CONFIDENCE)} % paired "
        f"bootstrap interval ({RESAMPLES} resamples, seed {SEED}), exact McNemar p.",
        "",
        "| model | task | baseline (A) | setting (B) | n | B - A | interval | won / lost / tied "
        "| McNemar p | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = direction(r.difference_pct, r.significant)
        lines.append(
            f"| {r.model} | {r.task} | {r.baseline} | {r.setting} | {r.n} | {r.difference_pct:+.1f} "
            f"| [{r.ci_low_pct:+.1f}, {r.ci_high_pct:+.1f}] | {r.wins} / {r.losses} / {r.ties} "
            f"| {r.mcnemar_p:.3g} | {verdict} |"
        )
    return lines


@dataclass(frozen=True)
class SeedRepeats:
    """One sampled setting run under several seeds: the spread across the repeats."""

    model: str
    task: str
    setting: str  # without the seed
    seeds: tuple[int, ...]
    accuracy_pct: tuple[float, ...]  # per seed, in the order of ``seeds``
    mean_pct: float
    stderr_pct: float | None  # across seeds (lm-eval's mean_stderr)


def seed_repeats(cells: Sequence[Cell]) -> list[SeedRepeats]:
    """Group the seeded cells of each (model, task, setting) that ran under two or more seeds."""
    groups: dict[tuple[str, str, Setting], list[tuple[int, float]]] = {}
    for cell in cells:
        accuracy = cell_stats(cell.records).accuracy_pct
        if cell.setting.seed is None or accuracy is None:
            continue
        key = (cell.model, cell.task, cell.setting.unseeded)
        groups.setdefault(key, []).append((cell.setting.seed, accuracy))
    rows = []
    for (model, task, setting), runs in sorted(
        groups.items(), key=lambda g: (g[0][:2], g[0][2].name)
    ):
        if len(runs) < 2:
            continue
        runs.sort()
        values = [a for _, a in runs]
        rows.append(
            SeedRepeats(
                model, task, setting.name, tuple(s for s, _ in runs), tuple(values),
                sum(values) / len(values), mean_stderr(values),
            )
        )  # fmt: skip
    return rows


def seed_table(rows: Sequence[SeedRepeats]) -> list[str]:
    """Markdown lines of the report's repeated-seeds section (empty without rows)."""
    if not rows:
        return []
    lines = [
        "## Repeated seeds",
        "",
        "Sampled settings run under several seeds: accuracy mean ± stderr across the seeds.",
        "",
        "| model | task | setting | seeds | accuracy (%) mean ± stderr | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        spread = fmt(r.stderr_pct)
        per_seed = ", ".join(f"{s}: {a:.1f}" for s, a in zip(r.seeds, r.accuracy_pct, strict=True))
        lines.append(
            f"| {r.model} | {r.task} | {r.setting} | {len(r.seeds)} | {r.mean_pct:.1f} ± {spread} "
            f"| {per_seed} |"
        )
    return lines
