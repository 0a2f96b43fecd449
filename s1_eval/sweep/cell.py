"""One cell of a sweep: what to evaluate (SweepConfig), and one task at one setting through
``lm_eval.simple_evaluate`` into its own folder of the run (layout: ``s1_eval.runs.folder``).

    folder = run_cell(lm, config, "s1_aime24", Setting(512), Path("runs/x"), task_manager)

``s1_eval.sweep.run`` runs the grid cell after cell with these; ``s1_eval.sweep.shared`` runs the
same cells in one engine pass and replays each through ``run_cell``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s1_eval.common.files import write_json_atomic
from s1_eval.common.numbers import fmt
from s1_eval.runs.folder import (
    CELL_FILE,
    RESULTS_GLOB,
    SWEEP_VERSION,
    Setting,
    cell_folder,
    is_finished,
    new_cell_tmp,
    samples_path,
)
from s1_eval.runs.hardware import hardware_summary
from s1_eval.runs.samples import load_results_file, read_json
from s1_eval.runs.seeds import lm_eval_seeds, stored_seed
from s1_eval.sweep.methods import applied, describe
from s1_eval.tasks.manager import task_manager_for

#: simple_evaluate's arguments for lm-eval's four run seeds, in --seed's order
SEED_ARGUMENTS = ("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed")


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
    #: lm-eval's run seeds: four (``runs.seeds``), or an integer for python's alone
    seed: int | tuple[int | None, ...] = 0
    #: lm-eval's --metadata: task knobs (merged over model_args) for every cell's tasks
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: the model's name on the leaderboard (default: its hub id or its folder's name)
    label: str | None = None

    def fixed(self) -> dict[str, Any]:
        """The part that must not change when a sweep is resumed or extended."""
        # metadata only when given, so folders written before it existed still resume
        extra = {"metadata": dict(self.metadata)} if self.metadata else {}
        if self.label:
            extra["label"] = self.label
        return {
            "model": self.model,
            "model_args": self.model_args,
            "gen_kwargs": dict(self.gen_kwargs),
            "limit": self.limit,
            "num_fewshot": self.num_fewshot,
            "apply_chat_template": self.apply_chat_template,
            "fewshot_as_multiturn": self.fewshot_as_multiturn,
            "system_instruction": self.system_instruction,
            "seed": stored_seed(self.seed),
            **extra,
        }

    def task_metadata(self) -> dict[str, Any]:
        """What lm-eval hands the tasks: model_args, then --metadata over them (as lm_eval does)."""
        from lm_eval.utils import simple_parse_args_string

        return {**simple_parse_args_string(self.model_args), **dict(self.metadata)}

    def cell_gen_kwargs(self, setting: Setting) -> dict[str, Any]:
        from s1_eval.core.settings import forcing_requested
        from s1_eval.runs.methods import default_gen_kwargs

        merged = {**default_gen_kwargs(setting.method), **self.gen_kwargs, **setting.gen_kwargs()}
        if self.model.startswith("s1_") and not forcing_requested(merged):
            # every cell has a thinking phase: with no forcing gen_kwarg an s1 backend would
            # generate plainly (the s1 fork's rule), so an uncapped cell says "no cap" outright
            merged["max_tokens_thinking"] = "none"
        return merged


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
    return task_manager_for(config.tasks, config.include_path, config.task_metadata())


def _named_model_args(config: SweepConfig) -> str:
    """model_args that name the model for lm-eval's results (``model=`` added when none does)."""
    if re.search(r"(?:^|,)(?:pretrained|model|path)=", config.model_args):
        return config.model_args
    return ",".join(x for x in (config.model_args, f"model={config.model}") if x)


def evaluate_cell(lm, config: SweepConfig, task: str, setting: Setting, task_manager, tracker=None):
    """One cell through ``lm_eval.simple_evaluate``; lm-eval's results dict (samples included).
    A control method's prompt sentence and chat-template level apply while it runs."""
    if hasattr(lm, "forcing_runs"):  # each cell's results record only its own settings
        lm.forcing_runs.clear()
    with applied(setting, lm):
        return _simple_evaluate(lm, config, task, setting, task_manager, tracker)


def _simple_evaluate(lm, config: SweepConfig, task: str, setting: Setting, task_manager, tracker):
    from lm_eval import simple_evaluate

    return simple_evaluate(
        model=lm,
        # logged as the model's name (an LM instance is otherwise named at random)
        model_args=_named_model_args(config),
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
        **dict(zip(SEED_ARGUMENTS, lm_eval_seeds(config.seed), strict=True)),
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
        written = sorted(tmp.rglob(RESULTS_GLOB))
        if len(written) != 1:
            raise RuntimeError(f"{task} {setting.name}: lm-eval wrote {len(written)} results files")
        sample_files = [samples_path(written[0], t) for t in results["configs"]]
        if not all(p.is_file() for p in sample_files):
            raise RuntimeError(f"{task} {setting.name}: lm-eval did not write the samples files")
        marker = {
            "version": SWEEP_VERSION,
            "task": task,
            "setting": setting.to_dict(),
            "setting_name": setting.name,
            "gen_kwargs": gen_kwargs,
            # a method's prompt sentence or chat-template level: what else made this cell
            "control": describe(setting),
            "model": config.model,
            "model_args": config.model_args,
            "limit": config.limit,
            "label": config.label,
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
    except OSError as error:  # a full disk or a read-only folder: name the cell it hit
        shutil.rmtree(tmp, ignore_errors=True)
        if error.filename is None:
            raise OSError(error.errno, error.strerror or str(error), str(final)) from error
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def describe_cell(folder: Path) -> str:
    marker = read_json(folder / CELL_FILE, "cell marker")
    from s1_eval.report.metrics import cell_stats

    cells, _ = load_results_file(folder / marker["results_file"], marker)
    parts = []
    for cell in cells:
        stats = cell_stats(cell.records, cell.setting.cap)
        acc = fmt(stats.accuracy_pct)
        err = "" if stats.accuracy_stderr_pct is None else f" ± {stats.accuracy_stderr_pct:.1f}"
        think = fmt(stats.thinking_mean, 0)
        parts.append(f"{cell.task}: acc {acc}{err} %, mean thinking {think} tokens")
    return "; ".join(parts)
