"""s1's third stage, diversity: the paper's sampling across domains, favouring longer traces.

    chosen = diversity_sample(rows, lengths, domain_of, size=1000, seed=0)

Algorithm 1 of the s1 paper (its §2 and appendix): until ``size`` rows are chosen, pick a
domain uniformly at random among those with rows left, rank its rows by trace length (longest
first, rank 0), and draw one with weight 2^-rank; a domain with no rows left is set aside.
Equal lengths are ranked by their place in the pool, so the same seed gives the same rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")


def rank_weights(count: int) -> list[float]:
    """2^-rank for ranks 0..count-1; past rank ~1074 a float is 0, i.e. never drawn, which is
    the paper's distribution to within a float's precision."""
    return [2.0**-rank for rank in range(count)]


def diversity_sample(
    rows: Sequence[Row],
    lengths: Sequence[int],
    domain_of: Callable[[Row], str],
    size: int,
    seed: int,
) -> list[Row]:
    """The chosen rows in the order they were drawn (all of them when fewer than ``size``)."""
    by_domain: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_domain.setdefault(str(domain_of(row)), []).append(index)
    for indices in by_domain.values():
        indices.sort(key=lambda i: (-lengths[i], i))  # longest first; stable by pool order
    rng = random.Random(seed)
    domains = sorted(by_domain)  # sorted: the draw must not depend on dict or file order
    chosen: list[Row] = []
    while len(chosen) < size and domains:
        domain = rng.choice(domains)
        left = by_domain[domain]
        [pick] = rng.choices(range(len(left)), weights=rank_weights(len(left)))
        chosen.append(rows[left.pop(pick)])
        if not left:
            domains.remove(domain)
    return chosen
