"""`s1-eval compare`: two settings (of one run or of two runs) on the problems both answered.

    s1-eval compare runs/demo:budget=none,n_ignore=0 runs/demo:budget=none,n_ignore=2,str=Wait

A side is ``RUN`` (a sweep folder, lm-eval output folder or results file) optionally followed by
``:SETTING`` (a setting name as the leaderboard prints it, or its folder name). The statistics
live in ``s1_eval.evidence``; this module picks the two cells and prints the result.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict
from pathlib import Path

from s1_eval.evidence import RESAMPLES, SEED, Comparison, NoSharedProblems, compare_records
from s1_eval.samples import Cell, load_cells


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
            close = difflib.get_close_matches(setting, [c.setting.name for c in cells], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{side}: no setting {setting!r} in {run}{hint}; it holds {_names(cells)}"
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
