"""Parallel scaling over k samples of one problem: majority vote, unbiased pass@k, the fork's cov@k.

maj_at_k(["12", "7", "12"])   # "12"
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence


def maj_at_k(answers: Sequence[Hashable], k: int | None = None) -> Hashable | None:
    """Majority vote over the first k answers (None answers skipped); ties: the earliest."""
    first = [a for a in list(answers)[: k if k is not None else len(answers)] if a is not None]
    if not first:
        return None
    counts = Counter(first)
    top = max(counts.values())
    return next(a for a in first if counts[a] == top)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 − C(n−c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def cov_at_k(correct: Sequence[float | bool], k: int) -> float:
    """The s1 fork's cov@k: 1 if any of the first k samples is correct (biased; comparison)."""
    return float(any(bool(x) for x in list(correct)[:k]))
