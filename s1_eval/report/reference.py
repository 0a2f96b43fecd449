"""The s1 paper's published numbers, shipped inside the package, and readers of its tables.

    reference_accuracy("s1_aime24", load_reference())  # -> 56.7, s1-32B with budget forcing

Which paper column a task belongs to is ``s1_eval.tasks.benchmarks.paper_benchmark``.
"""

from __future__ import annotations

import json
from pathlib import Path

from s1_eval.common.files import UnreadableFile, read_json
from s1_eval.tasks.benchmarks import paper_benchmark

#: the package's one copy of the paper's tables (results/reference/ explains where they come from)
REFERENCE_FILE = "s1_paper.json"


def load_reference(path: str | Path | None = None) -> dict:
    """The s1 paper's numbers: the package's own copy, or the JSON file at ``path``.

    A ``path`` that is given must exist and hold a JSON object (ValueError otherwise)."""
    if path is None:
        from importlib.resources import files

        return json.loads(files("s1_eval").joinpath(REFERENCE_FILE).read_text(encoding="utf-8"))
    try:
        data = read_json(Path(path))
    except (OSError, UnreadableFile) as error:
        raise ValueError(f"reference: {path}: unreadable ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"reference: {path}: a JSON object of the paper's tables expected")
    return data


#: the row of the paper's main table that a scaling plot's reference line shows
REFERENCE_ROW = "s1-32B, budget forcing"


def reference_accuracy(task: str, reference: dict | None) -> float | None:
    """The paper's s1-32B budget-forcing accuracy for the task's benchmark, if known."""
    bench = paper_benchmark(task)
    if not reference or bench is None:
        return None
    table = reference.get("headline_greedy") or {}
    columns = table.get("columns") or []
    for row in table.get("rows") or []:
        if row and row[0] == REFERENCE_ROW and bench in columns:
            return float(row[columns.index(bench)])
    return None


EXTRAPOLATION_TABLE = "extrapolation_aime24_nofigures_s1_32b"


def paper_intervals(
    reference: dict, confidence: float = 0.95
) -> list[tuple[str, int, int, float, float]]:
    """The paper's AIME24 extrapolation points with an exact binomial interval each.

    Returns (setting, correct, problems, low %, high %) rows: on 30 problems one problem is 3.3
    points, and a 95 % interval around 50 % spans about 31-69 %."""
    from scipy.stats import binomtest

    table = reference.get(EXTRAPOLATION_TABLE) or {}
    problems = int(table.get("problems") or 0)
    rows = []
    for setting, accuracy in table.get("rows") or []:
        correct = round(float(accuracy) * problems / 100)
        interval = binomtest(correct, problems).proportion_ci(confidence, method="exact")
        rows.append((str(setting), correct, problems, 100 * interval.low, 100 * interval.high))
    return rows


def paper_interval_lines(reference: dict) -> list[str]:
    """Markdown lines: what a 30-problem interval around the paper's points looks like."""
    rows = paper_intervals(reference)
    if not rows:
        return []
    lines = [
        "## The paper's AIME24 extrapolation points, with their uncertainty",
        "",
        "s1-32B, budget forcing with the end of thinking suppressed N times (thinking_n_ignore), "
        "greedy, 30 problems; 95 % exact binomial interval of each point.",
        "",
        "| thinking_n_ignore | correct / problems | accuracy (%) | 95 % interval (%) |",
        "|---|---|---|---|",
    ]
    for setting, correct, problems, low, high in rows:
        accuracy = 100 * correct / problems
        lines.append(
            f"| {setting} | {correct} / {problems} | {accuracy:.1f} | {low:.1f} - {high:.1f} |"
        )
    return lines
