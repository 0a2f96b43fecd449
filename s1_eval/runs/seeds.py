"""lm-eval's four run seeds (python's random, numpy, torch, few-shot sampling) as a sweep takes,
stores and hands them back to lm-eval.

    seeds = parse_seed_option("42")          # (42, 42, 42, 42), as `lm_eval --seed 42`
    sweep_json["fixed"]["seed"] = stored_seed(seeds)

``--seed`` reads as lm-eval's own option does: one integer for all four, or four comma-separated
values where ``None`` leaves a seed unset (three take lm-eval's fourth default). lm-eval's parser
is private to its CLI and has moved between releases, so this one is written here and a test
holds it to lm-eval's on the same inputs. A sweep folder
stores an integer when only python's seed differs from lm-eval's defaults, the form every
sweep.json had before the four were stored, so older folders resume unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

#: lm-eval's defaults for its --seed (and simple_evaluate's seed arguments)
LM_EVAL_SEEDS: tuple[int, int, int, int] = (0, 1234, 1234, 1234)

Seeds = tuple[int | None, ...]


def parse_seed_option(text: str) -> Seeds:
    """``--seed TEXT`` as lm-eval reads it; ValueError naming the option otherwise."""
    words = [word.strip() for word in str(text).split(",")]
    try:
        values = [None if word.lower() == "none" else int(word) for word in words]
    except ValueError:
        values = []
    if len(values) == 1:
        return tuple(values * 4)
    if len(values) in (3, 4):
        return (*values, *LM_EVAL_SEEDS[len(values) :])
    raise ValueError(
        f"--seed={text}: give one integer (all four seeds) or four comma-separated integers "
        "or None (python, numpy, torch, few-shot), as lm_eval's --seed"
    )


def lm_eval_seeds(seed: int | Sequence[int | None]) -> Seeds:
    """The four seeds of a stored or configured seed: an integer is python's alone (as
    simple_evaluate's ``random_seed``), the others keep lm-eval's defaults."""
    if isinstance(seed, int):
        return (seed, *LM_EVAL_SEEDS[1:])
    values = tuple(seed)
    if len(values) != 4:
        raise ValueError(f"seed: {list(values)}: expected lm-eval's four seeds")
    return values


def stored_seed(seed: int | Sequence[int | None]) -> int | list[int | None]:
    """What sweep.json records: the integer form where it says the same, else the four."""
    values = lm_eval_seeds(seed)
    if values[1:] == LM_EVAL_SEEDS[1:] and isinstance(values[0], int):
        return values[0]
    return list(values)


def seed_option(seed: int | Sequence[int | None]) -> str:
    """The ``--seed`` text that gives lm_eval these seeds."""
    return ",".join("None" if value is None else str(value) for value in lm_eval_seeds(seed))
