"""Typed reading of one option value (a gen_kwarg or a model_arg, as lm-eval hands it over:
text, or already cast) with one error that names the key and what is accepted.

    cap = as_int("max_tokens_answer", "512", 1)   # InputError: max_tokens_answer='x' is invalid: ...
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from s1_eval.common.errors import InputError


def unescape(text: str) -> str:
    # lm-eval's `k=v,...` syntax cannot carry a newline: accept "\n" and "\t" escapes.
    return text.replace("\\n", "\n").replace("\\t", "\t")


def as_int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{key}={value!r} is invalid: expected an integer >= {minimum}.")
    return value


def as_float(key: str, value: Any, low: float, high: float = math.inf) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (low <= number <= high):
        raise InputError(f"{key}={value!r} is invalid: expected a number in [{low}, {high}].")
    return number


def as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InputError(f"{key}={value!r} is invalid: expected true or false.")


def as_strings(key: str, value: Any, *, split: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # `|` separates several strings on the command line (commas split gen_kwargs)
        parts = value.split("|") if split else [value]
        return tuple(unescape(p) for p in parts)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(unescape(v) for v in value)
    # lm-eval casts `thinking_n_ignore_str=1` to an int: keep the user's text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (str(value),)
    raise InputError(f"{key}={value!r} is invalid: expected a string or a list of strings.")
