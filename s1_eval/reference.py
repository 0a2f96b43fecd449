"""The s1 paper's published numbers, shipped inside the package, and which benchmark a task is.

accuracy = load_reference()["budget_forcing"]; benchmark_of("s1_aime24")  # -> "AIME24"
"""

from __future__ import annotations

import json
from pathlib import Path

#: the package's one copy of the paper's tables (results/reference/ explains where they come from)
REFERENCE_FILE = "s1_paper.json"


def load_reference(path: str | Path | None = None) -> dict:
    """The s1 paper's numbers: the package's own copy, or the JSON file at ``path``.

    A ``path`` that is given must exist and hold a JSON object (ValueError otherwise)."""
    if path is None:
        from importlib.resources import files

        return json.loads(files("s1_eval").joinpath(REFERENCE_FILE).read_text(encoding="utf-8"))
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
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
