"""Resumable budget sweeps: tasks × settings in one model process, lm-eval files per cell.

    run_sweep(SweepConfig(tasks=("s1_aime24",), settings=make_settings([512, 1024])), "runs/x")

The model (``s1_vllm`` by default) is built once and reused for every cell; each cell is one
``lm_eval.simple_evaluate`` call whose results and samples are written by lm-eval's own
``EvaluationTracker`` into the run folder (layout: ``s1_eval.run_folder``). Everything that can
be checked (grid, model, gen_kwargs, tasks, the folder's options) is checked before anything is
written; rerunning the same command skips finished cells. With an s1-eval backend the pending
cells run in one engine pass in which budgets share their common thinking
(``s1_eval.sweep_shared``; same outputs); ``share=False`` runs cell after cell.
``sweep_and_report`` adds the leaderboard and plot: ``s1-eval demo`` is a thin call of it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s1_eval.budget import parse_budget
from s1_eval.files import write_all_atomic, write_json_atomic
from s1_eval.hardware import hardware_summary
from s1_eval.run_folder import (
    CELL_FILE,
    SWEEP_FILE,
    SWEEP_VERSION,
    Setting,
    cell_folder,
    clean_stale,
    is_finished,
    new_cell_tmp,
)
from s1_eval.samples import load_results_file, read_json
from s1_eval.sweep_checks import (
    check_model,
    check_seeded_tasks_sample,
    check_tasks,
    plan_run_dir,
    validate_config,
)
from s1_eval.sweep_shared import can_share, run_cells_shared


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


@dataclass(frozen=True)
class SweepConfig:
    """What to evaluate. ``gen_kwargs`` are shared by all cells (the setting's keys win)."""

    tasks: tuple[str, ...]
    settings: tuple[Setting, ...]
    model: str = "s1_vllm"
    model_args: str = ""
    gen_kwargs: Mapping[str, Any] = field(default_factory=dict)
    limit: int | float | None = None
    num_fewshot: int | None = None
    apply_chat_template: bool | str = False
    fewshot_as_multiturn: bool = True
    system_instruction: str | None = None
    include_path: tuple[str, ...] = ()
    batch_size: int | str | None = None
    device: str | None = None
    seed: int = 0
    #: lm-eval's --metadata: task knobs (merged over model_args) for every cell's tasks
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def fixed(self) -> dict[str, Any]:
        """The part that must not change when a sweep is resumed or extended."""
        # metadata only when given, so folders written before it existed still resume
        extra = {"metadata": dict(self.metadata)} if self.metadata else {}
        return {
            "model": self.model,
            "model_args": self.model_args,
            "gen_kwargs": dict(self.gen_kwargs),
            "limit": self.limit,
            "num_fewshot": self.num_fewshot,
            "apply_chat_template": self.apply_chat_template,
            "fewshot_as_multiturn": self.fewshot_as_multiturn,
            "system_instruction": self.system_instruction,
            "seed": self.seed,
            **extra,
        }

    def task_metadata(self) -> dict[str, Any]:
        """What lm-eval hands the tasks: model_args, then --metadata over them (as lm_eval does)."""
        from lm_eval.utils import simple_parse_args_string

        return {**simple_parse_args_string(self.model_args), **dict(self.metadata)}

    def cell_gen_kwargs(self, setting: Setting) -> dict[str, Any]:
        return {**dict(self.gen_kwargs), **setting.gen_kwargs()}


@dataclass(frozen=True)
class CellOutcome:
    task: str
    setting: Setting
    folder: Path
    status: str  # "done" (ran now) or "skipped" (finished before)
    seconds: float = 0.0


def build_lm(model: str, model_args: str = "", batch_size=None, device=None):
    """Construct an lm-eval model once."""
    from lm_eval.api.registry import get_model

    return get_model(model).create_from_arg_string(
        model_args, {"batch_size": batch_size, "device": device}
    )


def make_task_manager(config: SweepConfig):
    """A TaskManager for the sweep's tasks; lm-eval's own task index (~10 s) only if needed."""
    from lm_eval.tasks import TaskManager

    paths = list(config.include_path) or None
    metadata = config.task_metadata()
    small = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    if all(task in small.all_tasks for task in config.tasks):
        return small
    return TaskManager(include_path=paths, metadata=metadata)


def evaluate_cell(lm, config: SweepConfig, task: str, setting: Setting, task_manager, tracker=None):
    """One cell through ``lm_eval.simple_evaluate``; lm-eval's results dict (samples included)."""
    from lm_eval import simple_evaluate

    if hasattr(lm, "forcing_runs"):  # each cell's results record only its own settings
        lm.forcing_runs.clear()
    return simple_evaluate(
        model=lm,
        # logged as the model's name (an LM instance is otherwise named at random)
        model_args=config.model_args or f"model={config.model}",
        tasks=[task],
        num_fewshot=config.num_fewshot,
        batch_size=config.batch_size,
        limit=config.limit,
        log_samples=True,
        evaluation_tracker=tracker,
        system_instruction=config.system_instruction,
        apply_chat_template=config.apply_chat_template,
        fewshot_as_multiturn=config.fewshot_as_multiturn,
        gen_kwargs=config.cell_gen_kwargs(setting) or None,
        task_manager=task_manager,
        random_seed=config.seed,
    )


def run_cell(lm, config: SweepConfig, task: str, setting: Setting, output: Path, task_manager):
    """Evaluate one cell into a temporary folder, then move it into place. Returns the folder."""
    from lm_eval.loggers import EvaluationTracker

    final = cell_folder(output, task, setting)
    tmp = new_cell_tmp(final)
    started = time.time()
    try:
        tracker = EvaluationTracker(output_path=str(tmp))
        gen_kwargs = config.cell_gen_kwargs(setting)
        results = evaluate_cell(lm, config, task, setting, task_manager, tracker)
        if results is None:
            raise RuntimeError(f"{task} {setting.name}: lm-eval returned no results")
        samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=samples)
        for task_name in results["configs"]:
            tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
        # the tracker logs write errors instead of raising: check that the files are there
        written = sorted(tmp.rglob("results_*.json"))
        if len(written) != 1:
            raise RuntimeError(f"{task} {setting.name}: lm-eval wrote {len(written)} results files")
        date_id = written[0].stem[len("results_") :]
        sample_files = [
            written[0].parent / f"samples_{t}_{date_id}.jsonl" for t in results["configs"]
        ]
        if not all(p.is_file() for p in sample_files):
            raise RuntimeError(f"{task} {setting.name}: lm-eval did not write the samples files")
        marker = {
            "version": SWEEP_VERSION,
            "task": task,
            "setting": setting.to_dict(),
            "setting_name": setting.name,
            "gen_kwargs": gen_kwargs,
            "model": config.model,
            "model_args": config.model_args,
            "limit": config.limit,
            "results_file": str(written[0].relative_to(tmp)),
            "samples_files": [str(p.relative_to(tmp)) for p in sample_files],
            "started": started,
            "seconds": round(time.time() - started, 3),
            # a replayed cell was generated in a shared pass: its seconds are not its cost
            "shared_pass": bool(getattr(lm, "replays_a_shared_pass", False)),
            "hardware": hardware_summary(),
        }
        write_json_atomic(tmp / CELL_FILE, marker)
        if final.exists():
            if is_finished(final):  # a concurrent sweep finished it first
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def describe_cell(folder: Path) -> str:
    marker = read_json(folder / CELL_FILE, "cell marker")
    from s1_eval.metrics import cell_stats

    cells, _ = load_results_file(folder / marker["results_file"], marker)
    parts = []
    for cell in cells:
        stats = cell_stats(cell.records, cell.setting.cap)
        acc = "n/a" if stats.accuracy_pct is None else f"{stats.accuracy_pct:.1f}"
        err = "" if stats.accuracy_stderr_pct is None else f" ± {stats.accuracy_stderr_pct:.1f}"
        think = "n/a" if stats.thinking_mean is None else f"{stats.thinking_mean:.0f}"
        parts.append(f"{cell.task}: acc {acc}{err} %, mean thinking {think} tokens")
    return "; ".join(parts)


def run_sweep(
    config: SweepConfig,
    output: str | Path,
    lm=None,
    log: Callable[[str], None] = print,
    task_manager=None,
    share: bool = True,
) -> list[CellOutcome]:
    """Run every unfinished cell of ``config`` into ``output``; reuse one model for all.

    ``lm`` is an lm-eval ``LM`` instance; if None it is built from ``config.model`` /
    ``config.model_args`` — only when some cell is still to run. ``task_manager``: an lm-eval
    ``TaskManager`` to reuse (default: ``make_task_manager(config)``). With ``share`` (and an
    s1-eval backend) all pending cells run in one engine pass that generates each budget's
    common thinking once (``s1_eval.sweep_shared``); otherwise cell after cell.
    """
    # everything that can be checked is checked before the first write
    validate_config(config)
    output = Path(output)
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
        outcomes += run_cells_shared(lm, config, pending, output, task_manager, log)
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
    from s1_eval.leaderboard import report_files
    from s1_eval.report import build_report

    outcomes = run_sweep(config, output, lm=lm, log=log, task_manager=task_manager, share=share)
    report = build_report([output])
    contents = report_files(report, output)
    if plot:
        from s1_eval.plots import render_scaling

        contents[Path(output) / "scaling.png"] = render_scaling(report, reference=reference)
    files = write_all_atomic(contents)
    return SweepSummary(tuple(outcomes), tuple(files), report.markdown(), report)


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
