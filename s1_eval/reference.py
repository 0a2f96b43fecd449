"""The s1 paper's published numbers, shipped inside the package, and which benchmark a task is.

accuracy = load_reference()["budget_forcing"]; benchmark_of("s1_aime24")  # -> "AIME24"
"""

from __future__ import annotations

import json
from pathlib import Path

from s1_eval.files import UnreadableFile, read_json

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


def benchmark_of(task: str) -> str | None:
    """Map a task name to the paper's benchmark column (AIME24, MATH500, GPQA-Diamond)."""
    name = task.lower()
    if "aime24" in name or "aime_2024" in name:
        return "AIME24"
    if "math500" in name or "math_500" in name:
        return "MATH500"
    if "gpqa" in name and "diamond" in name:
        return "GPQA-Diamond"
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
