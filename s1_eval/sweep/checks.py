"""Everything a sweep checks before it writes: the grid, the model, every cell's gen_kwargs,
the task names and the run folder's recorded options.

    validate_config(config); plan = plan_run_dir(config, Path("runs/x")); check_model(config)

Each failure is a ValueError whose message starts with the option it is about
(``gen_kwargs: ...``), so the command line can print it as one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s1_eval.common.files import UnreadableFile, read_json
from s1_eval.runs.folder import SWEEP_FILE, SWEEP_VERSION, finished_markers, live_cells
from s1_eval.sweep.cell import SweepConfig
from s1_eval.sweep.methods import check_environment


def plan_run_dir(config: SweepConfig, output: Path) -> dict[str, Any]:
    """The ``sweep.json`` this sweep will write, checked against the folder (reads only).

    A folder whose sweep finished cells keeps its options (tasks and settings may be added);
    a folder with no finished cell, and no other sweep running in it, takes new options.
    """
    tasks, settings = list(config.tasks), [s.to_dict() for s in config.settings]
    plan = {"version": SWEEP_VERSION, "fixed": config.fixed(), "tasks": tasks, "settings": settings}
    path = output / SWEEP_FILE
    if not path.is_file():
        return plan
    try:
        old = read_json(path)
    except (OSError, UnreadableFile) as error:
        if finished_markers(output):
            raise ValueError(
                f"output: {path} is unreadable ({error}); use another folder"
            ) from None
        return plan
    fixed = json.loads(json.dumps(config.fixed(), default=str))
    if old.get("fixed") != fixed:
        if not finished_markers(output) and not live_cells(output):
            return plan
        before = old.get("fixed", {})
        changed = sorted(k for k in {*fixed, *before} if before.get(k) != fixed.get(k))
        raise ValueError(
            f"output: {output} holds finished cells of a sweep with other options "
            f"({', '.join(changed)}); use another --output_path folder or the same options"
        )
    plan["tasks"] = list(dict.fromkeys([*old.get("tasks", []), *tasks]))
    old_settings = old.get("settings", [])
    plan["settings"] = [*old_settings, *[s for s in settings if s not in old_settings]]
    return plan


def _is_s1_backend(model: str, lm=None) -> bool:
    """Whether the cells run on an s1-eval backend (whose gen_kwargs we can check up front)."""
    if lm is not None:
        return type(lm).__module__.startswith("s1_eval.")
    from lm_eval.api.registry import get_model

    try:
        model_class = get_model(model)
    except ValueError:
        raise ValueError(
            f"model: {model!r} is not an lm-eval model name (e.g. s1_vllm, s1_hf, vllm, hf)"
        ) from None
    return model_class.__module__.startswith("s1_eval.")


def validate_config(config: SweepConfig) -> None:
    """Reject a grid that cannot run (checked before anything is written)."""
    if not config.tasks:
        raise ValueError("tasks: give at least one lm-eval task name")
    if not config.settings:
        raise ValueError("budgets: give at least one budget (an integer, 'auto' or 'none')")
    if config.limit is not None and not config.limit > 0:
        raise ValueError(f"limit: {config.limit}: give a positive count or a fraction below 1")
    if config.num_fewshot is not None and config.num_fewshot < 0:
        raise ValueError(f"num_fewshot: {config.num_fewshot}: give 0 or more")
    if any(s.method == "chat-template" for s in config.settings) and not (
        config.apply_chat_template
    ):
        raise ValueError(
            "methods: chat-template renders each level with the chat template; "
            "add --apply_chat_template"
        )
    check_environment(config.settings)


def check_model(config: SweepConfig, lm=None) -> None:
    """The model name must exist; on an s1 backend every cell's gen_kwargs must parse (the
    backend would refuse them only after its engine started)."""
    if _is_s1_backend(config.model, lm):
        from s1_eval.core.settings import parse_gen_kwargs

        for setting in config.settings:
            try:
                parse_gen_kwargs(config.cell_gen_kwargs(setting))
            except ValueError as error:
                raise ValueError(f"gen_kwargs: {error}") from None


def check_tasks(config: SweepConfig, task_manager) -> None:
    """Every task must be known to lm-eval (a name, group or tag, or a task YAML path)."""
    known = set(task_manager.all_tasks)
    unknown = [t for t in config.tasks if t not in known and not Path(t).is_file()]
    if unknown:
        raise ValueError(
            f"tasks: unknown task(s) {', '.join(map(repr, unknown))}; give lm-eval task names "
            "(`lm_eval ls tasks`) or add their folder with --include_path"
        )


def check_seeded_tasks_sample(config: SweepConfig, task_manager) -> None:
    """Seeded repeats of a task whose own generation_kwargs say ``do_sample: false`` would be
    greedy (lm-eval lets do_sample=false win over a temperature): refuse them up front."""
    sampled = [s for s in config.settings if s.seed is not None or s.method == "rejection"]
    if not sampled:
        return
    option = "--seeds" if sampled[0].seed is not None else "methods: rejection"
    from s1_eval.core.settings import parse_gen_kwargs

    for task, setting in ((t, s) for t in config.tasks for s in sampled):
        entry = task_manager.task_index.get(task)
        task_kwargs = dict(((entry.cfg or {}) if entry else {}).get("generation_kwargs") or {})
        merged = {**task_kwargs, **config.cell_gen_kwargs(setting)}
        try:
            settings = parse_gen_kwargs({k: v for k, v in merged.items() if k != "until"})
        except ValueError:
            continue  # check_model reports bad gen_kwargs with the option's name
        if settings.sampling.greedy and settings.thinking_sampling.greedy:
            raise ValueError(
                f"{option}: task {task} generates greedily with these gen_kwargs (its "
                f"generation_kwargs: {task_kwargs}), so every sample would be the same; "
                "add do_sample=true and a temperature > 0 to --gen_kwargs"
            )
