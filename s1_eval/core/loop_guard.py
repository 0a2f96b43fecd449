"""The thinking-loop guard: end thinking once it repeats itself, the way the cap ends it.

    guard = parse_loop_guard("20:3")      # gen_kwarg thinking_loop_guard=20:3
    watch = LoopWatch(guard); watch.feed(token_ids)  # -> index where the loop was seen, or None

A reasoning model that falls into a loop writes the same sentence or paragraph until the cap and
pays the whole budget for nothing. ``n:r`` means: thinking has looped once some run of ``n``
thinking tokens has appeared ``r`` times. Any loop whose period is at least ``n`` tokens repeats
every one of its n-grams once per period, so it is caught after ``r`` periods, whatever its
length; a loop with a shorter period is caught too, since it repeats its n-grams as well.
Counting is on token ids (nothing is re-tokenized) and incremental: each token costs one hash.
Off unless the gen_kwarg is given; the paper's algorithm stays the default.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from s1_eval.common.errors import InputError

#: a guarded thinking step stops after this many tokens so a loop is caught soon after it starts
CHECK_EVERY = 64


@dataclass(frozen=True)
class LoopGuard:
    ngram: int
    repeats: int

    def __str__(self) -> str:
        return f"{self.ngram}:{self.repeats}"


def parse_loop_guard(value: object) -> LoopGuard | None:
    """``"20:3"`` -> LoopGuard(20, 3); None / "" / "off" / "none" -> None; else ValueError."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off", "none")):
        return None
    problem = InputError(
        f"thinking_loop_guard={value!r} is invalid: expected <ngram>:<repeats> with ngram >= 1 "
        "and repeats >= 2, e.g. thinking_loop_guard=20:3 (stop thinking once a 20-token run "
        "has appeared 3 times)."
    )
    parts = str(value).strip().split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise problem
    ngram, repeats = (int(p) for p in parts)
    if ngram < 1 or repeats < 2:
        raise problem
    return LoopGuard(ngram, repeats)


class LoopWatch:
    """Counts the n-grams of one request's thinking as it grows."""

    def __init__(self, guard: LoopGuard):
        self.guard = guard
        self.counts: Counter[tuple[int, ...]] = Counter()
        self.seen: list[int] = []

    def feed(self, token_ids: Sequence[int]) -> int | None:
        """Add tokens; return how many of them to keep if a loop completed among them."""
        n = self.guard.ngram
        for offset, token in enumerate(token_ids):
            self.seen.append(token)
            if len(self.seen) < n:
                continue
            gram = tuple(self.seen[-n:])
            self.counts[gram] += 1
            if self.counts[gram] >= self.guard.repeats:
                return offset + 1
        return None
