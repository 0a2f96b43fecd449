"""Numbers as results files hold them and as tables print them: one reader, one formatter.

fmt(cell.accuracy_pct, 1, "%")   # "43.3%", or "n/a" when the value is missing
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "n/a"


def number(value: Any) -> float | None:
    """A numeric samples-file field (bools count as 0/1), or None when absent or not a number."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def fmt(value: float | None, digits: int = 1, suffix: str = "", signed: bool = False) -> str:
    """``value`` with ``digits`` decimals (a sign when ``signed``), or "n/a" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:{'+' if signed else ''}.{digits}f}{suffix}"
