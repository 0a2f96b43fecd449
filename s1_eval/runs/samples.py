"""Read lm-eval results / samples files (from `s1-eval sweep` or `lm_eval --log_samples`) as cells.

    cells, warnings = load_cells(["runs/my_sweep", "out/plain_lm_eval_run"])

A *cell* is one task evaluated at one budget-forcing ``Setting``. In a sweep folder (it has
``sweep.json``) only finished cells count: those whose ``cell.json`` marker exists; temporary
folders of unfinished cells are never read. Any other folder is searched for lm-eval's
``results_<date>.json`` files, each paired with its ``samples_<task>_<date>.jsonl``; a samples
file with fewer rows than the results file announces (a run killed while writing) is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s1_eval.common import files
from s1_eval.common.errors import UnreadableRun
from s1_eval.common.files import UnreadableFile
from s1_eval.common.numbers import number
from s1_eval.runs.folder import (
    RESULTS_GLOB,
    Setting,
    finished_markers,
    is_sweep,
    is_temporary,
    samples_path,
)
from s1_eval.runs.hardware import hardware_from_env
from s1_eval.trace import SampleRecord, has_row_field, read_row_fields


@dataclass(frozen=True)
class Cell:
    """One task at one setting, read from one lm-eval results file and its samples file."""

    model: str
    task: str
    setting: Setting
    records: tuple[SampleRecord, ...]
    metric: str
    filter: str
    results_file: str
    samples_file: str
    run_dir: str
    reported: Mapping[str, Any] = field(default_factory=dict)
    missing_fields: tuple[str, ...] = ()
    #: wall time of the run that generated this cell alone (None: unknown, or a shared pass)
    seconds: float | None = None
    hardware: str = ""
    #: the sweep cell's ``cell.json`` (None for a plain lm-eval run)
    marker: Mapping[str, Any] | None = None
    #: the versions the results file recorded ("" where it recorded none)
    s1_eval_version: str = ""
    lm_eval_version: str = ""
    #: the task's version as lm-eval recorded it ("" where it recorded none)
    task_version: str = ""


def _seconds(value: Any) -> float | None:
    """lm-eval writes total_evaluation_time_seconds as text."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def to_record(row: Mapping[str, Any], metric: str) -> SampleRecord:
    """One samples-file row -> SampleRecord (metric values sit at the row's top level)."""
    return SampleRecord(
        doc_id=int(row.get("doc_id", -1)),
        correct=number(row.get(metric)),
        **read_row_fields(row),
        doc_hash=row.get("doc_hash") if isinstance(row.get("doc_hash"), str) else None,
    )


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``, or UnreadableRun naming the file and what it should be."""
    try:
        data = files.read_json(path)
    except UnreadableFile as error:
        raise UnreadableRun(f"{path}: unreadable {what}: {error.where}: {error.problem}") from None
    except OSError as error:
        raise UnreadableRun(f"{path}: unreadable {what} ({error})") from None
    if not isinstance(data, dict):
        raise UnreadableRun(f"{path}: unreadable {what} (a JSON object expected)")
    return data


def model_name(results: Mapping[str, Any]) -> str:
    """The model as lm-eval names it (``model_name``, else ``pretrained=`` in model_args)."""
    if results.get("model_name"):
        return str(results["model_name"])
    config = results.get("config") or {}
    args = config.get("model_args")
    if isinstance(args, Mapping) and args.get("pretrained"):
        return str(args["pretrained"])
    if isinstance(args, str):
        match = re.search(r"(?:^|,)pretrained=([^,]+)", args)
        if match:
            return match.group(1)
    return str(config.get("model") or "unknown")


def model_label(results: Mapping[str, Any], marker: Mapping[str, Any] | None = None) -> str:
    """The name a leaderboard shows: a sweep's ``--label``, else the model's hub id, else the
    last part of a local model folder (``mini-s1-3373b4`` for ``.cache/s1-eval/mini-s1-3373b4``)."""
    if marker and marker.get("label"):
        return str(marker["label"])
    name = model_name(results)
    hub_id = re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name) and not name.startswith(".")
    return name if hub_id or "/" not in name else (Path(name).name or name)


def find_results_files(path: str | Path) -> list[tuple[Path, dict | None]]:
    """(results file, cell marker) pairs under ``path``; only finished cells of a sweep."""
    root = Path(path)
    if root.is_file():
        return [(root, None)]
    if is_sweep(root):
        found = []
        for marker in finished_markers(root):
            cell = read_json(marker, "cell marker")
            if not isinstance(cell.get("results_file"), str) or "setting" not in cell:
                raise UnreadableRun(f"{marker}: unreadable cell marker (no results_file/setting)")
            found.append((marker.parent / cell["results_file"], cell))
        return found
    return [(p, None) for p in sorted(root.rglob(RESULTS_GLOB)) if not is_temporary(p, root)]


def _pick_filter(rows: list[dict], wanted: str | None) -> str | None:
    filters = list(dict.fromkeys(str(r.get("filter", "none")) for r in rows))
    if wanted is not None:
        return wanted if wanted in filters else None
    if "none" in filters or not filters:
        return "none"
    return filters[0]


def _pick_metric(rows: list[dict], wanted: str) -> str:
    if any(wanted in r for r in rows):
        return wanted
    for row in rows:
        for name in row.get("metrics") or []:
            if number(row.get(name)) is not None:
                return name
    return wanted


def load_results_file(
    results_path: Path,
    marker: dict | None = None,
    metric: str = "exact_match",
    filter_name: str | None = None,
    run_dir: str | Path | None = None,
) -> tuple[list[Cell], list[str]]:
    """Cells (one per task) of one results file, and warnings for what was skipped.

    A samples file cut short (a run killed while writing) is skipped with a warning; a results
    file that cannot be parsed, or a finished sweep cell (``marker``: its cell.json) missing its
    rows, raises UnreadableRun.
    """
    warnings: list[str] = []
    results = read_json(results_path, "results file")
    if not isinstance(results.get("configs") or {}, Mapping):
        raise UnreadableRun(f"{results_path}: unreadable results file (configs is not an object)")
    source = _SweepCell(marker, results) if marker is not None else _LooseRun(results)
    cells = []
    for task, task_config in (results.get("configs") or {}).items():
        try:
            samples_file, rows, chosen = _task_rows(results, results_path, task, filter_name)
        except _Skipped as skipped:
            source.skip(skipped)
            warnings.append(str(skipped))
            continue
        other = sorted({str(r.get("filter")) for r in rows} - {chosen})
        if other:
            warnings.append(f"{samples_file}: using filter {chosen!r} (also there: {other})")
        filtered = [r for r in rows if str(r.get("filter", "none")) == chosen]
        used_metric = _pick_metric(filtered, metric)
        missing = tuple(
            name
            for name in (used_metric, "thinking_tokens", "max_tokens_thinking")
            if not any(has_row_field(r, name) for r in filtered)
        )
        seconds, hardware = source.timing(results)
        cells.append(
            Cell(
                model=model_label(results, marker),
                task=task,
                setting=source.setting(task_config),
                records=tuple(to_record(r, used_metric) for r in filtered),
                metric=used_metric,
                filter=chosen,
                results_file=str(results_path),
                samples_file=str(samples_file),
                run_dir=str(run_dir or results_path.parent),
                reported={
                    k: v
                    for k, v in ((results.get("results") or {}).get(task, {})).items()
                    if k != "alias"
                },
                marker=marker,
                missing_fields=missing,
                seconds=seconds if len(results.get("configs") or {}) == 1 else None,
                hardware=hardware,
                s1_eval_version=str(source.config.get("s1_eval_version") or ""),
                lm_eval_version=str(results.get("lm_eval_version") or ""),
                task_version=_task_version(results, task),
            )
        )
    return cells, warnings


class _Skipped(Exception):
    """A task of a results file without usable rows; ``finished_problem`` says what a finished
    sweep cell (which always has its rows) raises instead of skipping it."""

    def __init__(self, message: str, finished_problem: str):
        super().__init__(message)
        self.finished_problem = finished_problem


def _task_rows(
    results: dict, results_path: Path, task: str, filter_name: str | None
) -> tuple[Path, list[dict], str]:
    """A task's samples file, its rows and the filter to use; raises _Skipped."""
    samples_file = samples_path(results_path, task)
    if not samples_file.is_file():
        raise _Skipped(
            f"{results_path}: no samples file for {task} (run with --log_samples)",
            f"{samples_file}: missing samples file of a finished cell",
        )
    try:
        rows, cut = [row for _, row in files.read_jsonl(samples_file)], None
    except UnreadableFile as error:  # a run killed while writing leaves a torn last line
        rows, cut = [], error
    except OSError as error:
        raise UnreadableRun(f"{samples_file}: unreadable samples file ({error})") from None
    chosen = _pick_filter(rows, filter_name)
    filtered = [r for r in rows if str(r.get("filter", "none")) == chosen]
    expected = ((results.get("n-samples") or {}).get(task) or {}).get("effective")
    if cut is not None or (expected is not None and len(filtered) < expected):
        detail = f"{cut.where}: {cut.problem}" if cut else f"{len(filtered)} of {expected} rows"
        problem = f"{samples_file}: incomplete ({detail})"
        raise _Skipped(f"{problem}, skipped", f"{problem} in a finished cell")
    if not filtered:
        message = f"{samples_file}: no rows for filter {filter_name!r}, skipped"
        raise _Skipped(message, message)
    return samples_file, rows, chosen


class _LooseRun:
    """A plain ``lm_eval --log_samples`` output: its setting comes from its gen_kwargs."""

    def __init__(self, results: dict):
        config = results.get("config")
        self.config = config if isinstance(config, Mapping) else {}
        forcing = self.config.get("s1_forcing")
        self.forcing = forcing if isinstance(forcing, Mapping) else None

    def skip(self, skipped: _Skipped) -> None:
        """A loose run may lack a task's rows: the task is left out with a warning."""

    def setting(self, task_config: dict) -> Setting:
        return Setting.from_gen_kwargs(
            task_config.get("generation_kwargs"), self.config.get("gen_kwargs"), self.forcing
        )

    def timing(self, results: dict) -> tuple[float | None, str]:
        return _seconds(results.get("total_evaluation_time_seconds")), hardware_from_env(results)


class _SweepCell(_LooseRun):
    """A finished sweep cell: its cell.json names the setting, and every row must be there."""

    def __init__(self, marker: dict, results: dict):
        super().__init__(results)
        self.marker = marker

    def skip(self, skipped: _Skipped) -> None:
        raise UnreadableRun(skipped.finished_problem)

    def setting(self, task_config: dict) -> Setting:
        return Setting.from_dict(self.marker["setting"])

    def timing(self, results: dict) -> tuple[float | None, str]:
        # a cell of a shared pass has no wall time of its own
        seconds = None if self.marker.get("shared_pass") else number(self.marker.get("seconds"))
        return seconds, str(self.marker.get("hardware") or hardware_from_env(results))


def _task_version(results: dict, task: str) -> str:
    versions = results.get("versions")
    version = versions.get(task) if isinstance(versions, dict) else None
    return "" if version is None else str(version)


def load_cells(
    paths: Iterable[str | Path], metric: str = "exact_match", filter_name: str | None = None
) -> tuple[list[Cell], list[str]]:
    """All readable cells under the given run folders / results files, plus warnings.

    When the same (model, task, setting) appears more than once, the latest results file wins.
    A path that does not exist or holds an unreadable file raises (UnreadableRun, a ValueError).
    """
    cells: dict[tuple[str, str, Setting], Cell] = {}
    warnings: list[str] = []
    for path in paths:
        if not Path(path).exists():
            raise UnreadableRun(f"{path}: no such run folder or results file")
        found = find_results_files(path)
        if not found:
            warnings.append(f"{path}: no lm-eval results files found")
        for results_path, marker in found:
            new, notes = load_results_file(results_path, marker, metric, filter_name, path)
            warnings.extend(notes)
            for cell in new:
                key = (cell.model, cell.task, cell.setting)
                if key in cells:
                    older = cells[key]
                    if Path(older.results_file).name > Path(cell.results_file).name:
                        cell, older = older, cell
                    warnings.append(
                        f"{cell.task} {cell.setting.name}: {older.results_file} superseded by "
                        f"{cell.results_file}"
                    )
                cells[key] = cell
    return list(cells.values()), warnings
