"""`s1-eval verify RUN_DIR`: re-grade and re-check a run before it goes on a leaderboard.

    problems, summary = verify_runs(["runs/s1"])   # [] and "12 cells, 600 samples re-graded"

For every results file (sweep cells or plain ``lm_eval --log_samples`` output) and its samples:
each sample is graded again with its task's own ``process_results`` (from the task's YAML; no
dataset is loaded) and must score as recorded; every per-sample metric's mean must equal the
results JSON; the sample count must equal lm-eval's ``n-samples`` with each doc id once (all
of 0..n-1 for a whole set); thinking must stay within each sample's cap; the cap must agree
between the samples, the forcing config recorded in the results (``config.s1_forcing``), the
gen_kwargs and a sweep cell's ``cell.json``; and lm-eval's and the task's versions must be
recorded. Trace fields cannot be re-derived from text, so they are checked for consistency only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1_eval.common.files import UnreadableFile, read_jsonl
from s1_eval.core.token_trace import TOKENS_COLUMN
from s1_eval.runs.folder import read_count
from s1_eval.runs.samples import Cell, UnreadableRun, find_results_files, load_cells, read_json
from s1_eval.tasks.manager import task_manager_for
from s1_eval.trace import TRACE, TRACE_COLUMNS, flat_row, row_value, traced_share

#: row fields a re-grade from text cannot reproduce: they come from the generation's trace
#: (answer_source names where the answer was found, which uses the trace's answer offset)
TRACE_KEYS = frozenset({"answer_source", TOKENS_COLUMN, *TRACE_COLUMNS})


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        a, b = (int(a) if isinstance(a, bool) else a), (int(b) if isinstance(b, bool) else b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _grader(task: str, task_manager):
    """The task's own process_results, read from its YAML (no dataset is loaded)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = task_manager.task_index.get(task)
    if entry is None or entry.yaml_path is None:
        raise ValueError(f"task {task!r}: not known to lm-eval here; add --include_path")
    grader = load_yaml(entry.yaml_path, resolve_func=True).get("process_results")
    if not callable(grader):
        raise ValueError(f"task {task!r}: its YAML names no process_results to re-grade with")
    return grader


def _regrade(cell: Cell, rows: Sequence[dict], grader, where: str) -> list[Problem]:
    problems = []
    for row in rows:
        fresh = flat_row(grader(row.get("doc", {}), row.get("filtered_resps", [])))
        for key, value in fresh.items():
            base = key[: -len("_each")] if key.endswith("_each") else key
            if base in TRACE_KEYS:
                continue
            recorded = row_value(row, key)
            if not _same(value, recorded):
                problems.append(
                    Problem(
                        where,
                        f"doc {row.get('doc_id')}: {key} recorded {recorded!r}, "
                        f"re-graded {value!r}",
                    )
                )
    return problems


def _aggregates(cell: Cell, rows: Sequence[dict], results: dict, where: str) -> list[Problem]:
    problems = []
    reported = (results.get("results") or {}).get(cell.task, {})
    for key, value in reported.items():
        name, _, filter_name = key.partition(",")
        if filter_name != cell.filter or name.endswith("_stderr"):
            continue
        # lm-eval aggregates a metric over the rows that hold it (an unknown thinking_tokens
        # is left out of a row); rows written before the trace dict hold every field
        values = [r[name] for r in rows if name in r]
        if name == TRACE and isinstance(value, (int, float)):
            expected = traced_share(values)
        elif not isinstance(value, (int, float)) or not all(
            isinstance(v, (int, float)) for v in values
        ):
            continue  # a bypassed text field
        else:
            expected = sum(values) / len(values) if values else math.nan
        if not _same(expected, value):
            problems.append(Problem(where, f"{name}: results say {value}, samples give {expected}"))
    return problems


def _counts(cell: Cell, rows: Sequence[dict], results: dict, where: str) -> list[Problem]:
    problems = []
    counts = (results.get("n-samples") or {}).get(cell.task) or {}
    effective, original = counts.get("effective"), counts.get("original")
    ids = [r.get("doc_id") for r in rows]
    if effective is None:
        problems.append(Problem(where, "results record no n-samples for the task"))
    elif len(rows) != effective:
        problems.append(Problem(where, f"{len(rows)} samples, results say {effective}"))
    if len(set(ids)) != len(ids):
        problems.append(Problem(where, "a doc id appears more than once"))
    if effective is not None and effective == original and set(ids) != set(range(effective)):
        missing = sorted(set(range(effective)) - set(ids))[:5]
        problems.append(Problem(where, f"doc ids are not 0..{effective - 1} (missing {missing})"))
    return problems


def _caps(cell: Cell, rows: Sequence[dict], results: dict, where: str) -> list[Problem]:
    problems = []
    config = results.get("config") or {}
    forcing = config.get("s1_forcing") or {}
    gen_kwargs = ((results.get("configs") or {}).get(cell.task) or {}).get("generation_kwargs")
    declared = {
        "the forcing config": read_count(forcing.get("max_tokens_thinking")),
        "the gen_kwargs": read_count((gen_kwargs or {}).get("max_tokens_thinking")),
    }
    if cell.marker is not None:
        declared["cell.json"] = read_count(cell.marker.get("setting", {}).get("budget"))
    known = {k: v for k, v in declared.items() if isinstance(v, int)}
    if len(set(known.values())) > 1:
        problems.append(Problem(where, f"the cap disagrees: {known}"))
    cap = next(iter(known.values()), None)
    for row in rows:
        thinking = row_value(row, "thinking_tokens")
        row_cap = row_value(row, "max_tokens_thinking")
        doc = row.get("doc_id")
        if isinstance(row_cap, int) and row_cap >= 0:
            if cap is not None and row_cap != cap:
                problems.append(Problem(where, f"doc {doc}: cap {row_cap}, the run's is {cap}"))
            if isinstance(thinking, int) and thinking > row_cap:
                problems.append(Problem(where, f"doc {doc}: {thinking} thinking tokens > cap"))
    return problems


def _versions(cell: Cell, results: dict, where: str) -> list[Problem]:
    problems = []
    if not results.get("lm_eval_version"):
        problems.append(Problem(where, "no lm_eval_version recorded"))
    if (results.get("versions") or {}).get(cell.task) is None:
        problems.append(Problem(where, f"no version recorded for task {cell.task}"))
    return problems


def verify_runs(
    paths: Iterable[str | Path], task_manager=None, include_path: Sequence[str] = ()
) -> tuple[list[Problem], str]:
    """Every problem found in the runs under ``paths``, and a summary of what was checked.

    ``include_path``: extra task folders (as lm_eval's --include_path) for tasks not shipped."""
    paths = list(paths)
    try:
        cells, warnings = load_cells(paths)
    except UnreadableRun as error:  # e.g. a finished cell whose samples lost rows
        return [Problem("read", str(error))], "nothing re-graded (a run is unreadable)"
    if not cells and not any(find_results_files(path) for path in paths):
        raise ValueError("runs: no finished results with samples files found")
    if task_manager is None:
        task_manager = task_manager_for({cell.task for cell in cells}, include_path)
    problems = [Problem("read", w) for w in warnings]
    graders: dict[str, Any] = {}
    samples = 0
    for cell in cells:
        where = str(Path(cell.samples_file))
        try:  # read once by load_cells already: this fails only if a file changed since
            results = read_json(Path(cell.results_file), "results file")
            rows = [
                row
                for _, row in read_jsonl(Path(cell.samples_file))
                if str(row.get("filter", "none")) == cell.filter
            ]
        except (UnreadableRun, UnreadableFile, OSError) as error:
            problems.append(Problem("read", str(error)))
            continue
        if cell.task not in graders:
            graders[cell.task] = _grader(cell.task, task_manager)
        problems += _regrade(cell, rows, graders[cell.task], where)
        problems += _aggregates(cell, rows, results, where)
        problems += _counts(cell, rows, results, where)
        problems += _caps(cell, rows, results, where)
        problems += _versions(cell, results, where)
        samples += len(rows)
    return problems, f"{len(cells)} cells, {samples} samples re-graded"
