"""Resumable budget sweeps: tasks × settings in one model process, lm-eval files per cell.

    run_sweep(SweepConfig(tasks=("s1_aime24",), settings=make_settings([512, 1024])), "runs/x")

The model (``s1_vllm`` by default) is built once and reused for every cell; each cell is one
``lm_eval.simple_evaluate`` call whose results and samples are written by lm-eval's own
``EvaluationTracker`` into the run folder (layout: ``s1_eval.runs.folder``). Everything that can
be checked (grid, model, gen_kwargs, tasks, the folder's options) is checked before anything is
written; rerunning the same command skips finished cells. With an s1-eval backend the pending
cells run in one engine pass in which budgets share their common thinking
(``s1_eval.sweep.shared``; same outputs); ``share=False`` runs cell after cell.
``sweep_and_report`` adds the leaderboard and plot: ``s1-eval demo`` is a thin call of it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1_eval.common.files import write_all_atomic, write_json_atomic
from s1_eval.core.settings import parse_budget
from s1_eval.runs.folder import (
    SWEEP_FILE,
    Setting,
    cell_folder,
    clean_stale,
    is_finished,
)
from s1_eval.runs.lock import run_folder_lock
from s1_eval.sweep.cell import (
    CellOutcome,
    SweepConfig,
    build_lm,
    describe_cell,
    make_task_manager,
    run_cell,
)
from s1_eval.sweep.checks import (
    check_model,
    check_seeded_tasks_sample,
    check_tasks,
    plan_run_dir,
    validate_config,
)
from s1_eval.sweep.shared import PassTimes, can_share, run_cells_shared


def make_settings(
    budgets: Iterable[int | str | None],
    n_ignores: Iterable[int | None] = (None,),
    ignore_strs: Iterable[str | None] = (None,),
) -> tuple[Setting, ...]:
    """The grid budgets × suppression counts × ignore strings (duplicates removed).

    An ignore string only matters with at least one suppression, so it is dropped otherwise.
    """
    out: dict[Setting, None] = {}
    for budget, n_ignore, ignore_str in itertools.product(budgets, n_ignores, ignore_strs):
        if n_ignore is not None and n_ignore < 0:
            raise ValueError(f"n_ignore: {n_ignore}: expected an integer >= 0")
        out[Setting(parse_budget(budget), n_ignore, ignore_str if n_ignore else None)] = None
    return tuple(out)


def run_sweep(
    config: SweepConfig,
    output: str | Path,
    lm=None,
    log: Callable[[str], None] = print,
    task_manager=None,
    share: bool = True,
    times: PassTimes | None = None,
) -> list[CellOutcome]:
    """Run every unfinished cell of ``config`` into ``output``; reuse one model for all.

    ``lm`` is an lm-eval ``LM`` instance; if None it is built from ``config.model`` /
    ``config.model_args`` — only when some cell is still to run. ``task_manager``: an lm-eval
    ``TaskManager`` to reuse (default: ``make_task_manager(config)``). With ``share`` (and an
    s1-eval backend) all pending cells run in one engine pass that generates each budget's
    common thinking once (``s1_eval.sweep.shared``); otherwise cell after cell. The folder is
    locked for the whole run: a second process on it is refused (``s1_eval.runs.lock``).
    ``times`` receives the shared pass's seconds per step (for benchmarks).
    """
    # everything that can be checked is checked before the first write
    validate_config(config)
    output = Path(output)
    with run_folder_lock(output):
        return _run_sweep(config, output, lm, log, task_manager, share, times)


def _run_sweep(config, output: Path, lm, log, task_manager, share, times) -> list[CellOutcome]:
    plan = plan_run_dir(config, output)
    cells = [(task, s) for s in config.settings for task in config.tasks]
    pending = [(t, s) for t, s in cells if not is_finished(cell_folder(output, t, s))]
    if pending:  # a finished sweep needs neither its model nor its tasks
        check_model(config, lm)
        task_manager = task_manager or make_task_manager(config)
        check_tasks(config, task_manager)
        check_seeded_tasks_sample(config, task_manager)
        if lm is None:
            lm = build_lm(config.model, config.model_args, config.batch_size, config.device)
    (output / "cells").mkdir(parents=True, exist_ok=True)
    write_json_atomic(output / SWEEP_FILE, plan)
    for path in clean_stale(output):
        log(f"removed unfinished cell {path.name}")
    outcomes = [
        CellOutcome(t, s, cell_folder(output, t, s), "skipped")
        for t, s in cells
        if (t, s) not in pending
    ]
    if outcomes:
        log(f"{len(outcomes)} of {len(cells)} cells already finished in {output}")
    if not pending:
        return outcomes
    if share and can_share(lm):
        outcomes += run_cells_shared(lm, config, pending, output, task_manager, log, times)
        return outcomes
    for index, (task, setting) in enumerate(pending, 1):
        log(f"[{index}/{len(pending)}] {task} {setting.name} ...")
        started = time.time()
        folder = run_cell(lm, config, task, setting, output, task_manager)
        seconds = time.time() - started
        outcomes.append(CellOutcome(task, setting, folder, "done", seconds))
        log(
            f"[{index}/{len(pending)}] {task} {setting.name}: {describe_cell(folder)} ({seconds:.0f} s)"
        )
    return outcomes


@dataclass(frozen=True)
class SweepSummary:
    outcomes: tuple[CellOutcome, ...]
    files: tuple[Path, ...]
    markdown: str
    report: Any = None  # the report.Report the files were written from


def sweep_and_report(
    config: SweepConfig,
    output: str | Path,
    lm=None,
    log: Callable[[str], None] = print,
    plot: bool = True,
    reference: bool = True,
    task_manager=None,
    share: bool = True,
) -> SweepSummary:
    """Run the sweep, then write leaderboard.{md,csv,json} and scaling.png into ``output``."""
    from s1_eval.report.build import build_report
    from s1_eval.report.leaderboard import report_files, to_markdown

    with run_folder_lock(output):
        outcomes = run_sweep(config, output, lm, log, task_manager, share)
        report = build_report([output])
        contents = report_files(report, output)
        if plot:
            from s1_eval.report.plots import render_scaling

            contents[Path(output) / "scaling.png"] = render_scaling(report, reference=reference)
        files = write_all_atomic(contents)
    return SweepSummary(tuple(outcomes), tuple(files), to_markdown(report), report)


def settings_from_strings(
    budgets: str, n_ignore: str | None = None, ignore_str: Sequence[str] | None = None
) -> tuple[Setting, ...]:
    """CLI helper: '64,128,none' and '0,2' and ['Wait', 'Hmm'] -> the settings grid."""
    budget_list = [parse_budget(b, "budgets") for b in budgets.split(",") if b.strip()]
    if not budget_list:
        raise ValueError(f"budgets: {budgets!r}: expected comma-separated budgets, e.g. 512,1024")
    counts: list[int | None] = [None]
    if n_ignore:
        try:
            counts = [int(x) for x in n_ignore.split(",")]
        except ValueError:
            counts = [-1]
        if any(c < 0 for c in counts):
            raise ValueError(
                f"n_ignore: {n_ignore!r}: expected comma-separated integers >= 0, e.g. 0,2"
            )
    strings = list(ignore_str) if ignore_str else [None]
    return make_settings(budget_list, counts, strings)
