"""Answer grading for s1-eval: math-verify for math answers, letter extraction for multiple choice.

    grade = grade_math(response, gold="\\frac{1}{2}")   # Grade(correct, extracted, failure, source)

A response is split into its answer part first (``ForcedText.answer`` when the backend attached a
trace, else the text after the last end-of-thinking delimiter or answer anchor, else all of it;
see ``s1_eval.grading.extract``). Everything after that split (box and letter extraction, unicode
normalisation, math-verify) runs under one per-item timeout in a killable worker process
(``s1_eval.grading.timeouts``), so grading works from any thread and a pathological response costs at
most one timeout, never a stalled run. Grading never raises: anything that goes wrong scores 0
and names the reason in ``failure``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s1_eval.core.s1_format import ANSWER_ANCHORS
from s1_eval.grading import timeouts
from s1_eval.grading.extract import (
    extract_choice_letter,
    first_line,
    last_boxed,
    normalize_math,
    split_answer,
    strip_leading_anchor,
)
from s1_eval.grading.timeouts import MODES, run_with_timeout

#: Seconds one item may take to grade (env S1_EVAL_GRADING_TIMEOUT overrides).
DEFAULT_TIMEOUT_S = 10.0
#: Where grading runs (env S1_EVAL_GRADING_WORKER): "process", "thread" or "inline" (no limit).
DEFAULT_MODE = "process"
#: run by the worker before its first item, so no item pays for sympy's import and set-up
PRELOAD = (f"{__name__}:warm_up",)

# Failure reasons written into sample rows ("" means graded normally).
NO_ANSWER = "no_answer"
UNCLOSED_BOX = "unclosed_box"
GOLD_UNPARSED = "gold_unparsed"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Grade:
    """The verdict on one response: whether it is right, what was read from it, and why not."""

    correct: bool
    extracted: str
    failure: str = ""
    source: str = "whole_text"


# ---------------------------------------------------------------------------------------------
# Math answers
# ---------------------------------------------------------------------------------------------


def grade_math(response: str, gold: Any, timeout: float | None = None) -> Grade:
    """Grade a free-form math response against a gold answer (LaTeX or plain) with math-verify."""
    if _unanswered(response):
        return Grade(False, "", NO_ANSWER, "answer_phase")
    answer, source = split_answer(response)
    args = (answer, source, _follows_anchor(response, source), str(gold))
    return _bounded(_grade_math_answer, args, source, timeout)


def _grade_math_answer(answer: str, source: str, anchored: bool, gold: str) -> Grade:
    """Runs in the worker: pick the candidate answer text, then verify it."""
    box = last_boxed(answer)
    if box.unclosed_after:
        # the model was cut off while writing its final answer: do not guess from earlier text
        return Grade(False, "", UNCLOSED_BOX, source)
    answer, opens_with_anchor = strip_leading_anchor(answer)  # "...answer\nFinal Answer: 42"
    if box.content is not None:
        candidate = f"\\boxed{{{box.content}}}"
    elif opens_with_anchor or anchored:
        # "The final answer is 10.\n\nSo, Max has 1": the statement after the anchor counts,
        # not the last number of whatever the model rambles on with
        candidate = first_line(answer)
    else:
        candidate = answer
    if not candidate.strip():
        return Grade(False, "", NO_ANSWER, source)
    correct, extracted, failure = _verify_math(normalize_math(candidate), normalize_math(gold))
    return Grade(correct, extracted, failure, source)


def _unanswered(response: str) -> bool:
    """The trace says the thinking used up the length: no answer, whatever the thinking said."""
    return bool(getattr(getattr(response, "trace", None), "no_answer", False))


def _follows_anchor(response: str, source: str) -> bool:
    if source == "after_anchor":
        return True
    if source == "answer_phase":
        before = response.thinking if hasattr(response, "thinking") else ""
        return before.rstrip().endswith(ANSWER_ANCHORS)
    return False


def _bounded(fn: Callable[..., Grade], args: tuple, source: str, timeout: float | None) -> Grade:
    """``fn(*args)`` under the per-item timeout; a timeout or a grader bug scores 0."""
    mode = _mode()
    try:
        return run_with_timeout(fn, args, _timeout_s(timeout), mode=mode, preload=PRELOAD)
    except TimeoutError:
        return Grade(False, "", TIMEOUT, source)
    except Exception as error:  # a grader bug must cost one item, never the run
        return Grade(False, "", f"error: {type(error).__name__}: {error}"[:200], source)


def _timeout_s(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    return float(os.environ.get("S1_EVAL_GRADING_TIMEOUT", DEFAULT_TIMEOUT_S))


def _mode():
    mode = os.environ.get("S1_EVAL_GRADING_WORKER", DEFAULT_MODE)
    if mode not in MODES:  # a misspelt setting must not score every item as an error
        raise ValueError(f"S1_EVAL_GRADING_WORKER={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def _verify_math(candidate: str, gold: str) -> tuple[bool, str, str]:
    """Parse both sides and compare (math-verify's own timeouts are off: they use signals,
    work on the main thread only and cannot stop C code; the caller enforces the timeout)."""
    from math_verify import verify

    _quiet_math_verify()
    gold_parsed = _parse_gold(gold)
    if not gold_parsed:
        return False, "", GOLD_UNPARSED
    predicted = _parse_prediction(candidate)
    if not predicted:
        return False, "", NO_ANSWER
    correct = verify(gold_parsed, predicted, timeout_seconds=None)
    return bool(correct), _shown(predicted), ""


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    # gold answers are bare LaTeX ("\frac{1}{2}", "(3, \pi/2)"): box them so the whole
    # expression is read, then fall back to the raw text (plain numbers, "x=5")
    for text in (f"\\boxed{{{gold}}}", f"${gold}$", gold):
        parsed = parse(
            text,
            extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
            parsing_timeout=None,
        )
        if parsed:
            return parsed
    return []


def _parse_prediction(candidate: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    return parse(
        candidate,
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
        parsing_timeout=None,
    )


def _shown(parsed: list) -> str:
    """The extracted answer as the model wrote it (math-verify returns [sympy, text])."""
    return str(parsed[-1]) if parsed else ""


def canonical_answer(extracted: str) -> str:
    """A key under which equivalent answers collide (for majority votes): sympy's form."""
    if not extracted:
        return ""
    try:
        parsed = run_with_timeout(
            _canonical, (extracted,), _timeout_s(None), mode=_mode(), preload=PRELOAD
        )
    except Exception:
        return extracted.strip()
    return parsed or extracted.strip()


def _canonical(extracted: str) -> str:
    _quiet_math_verify()
    parsed = _parse_prediction(f"${normalize_math(extracted)}$")
    return str(parsed[0]) if parsed else ""


# ---------------------------------------------------------------------------------------------
# Multiple choice letters
# ---------------------------------------------------------------------------------------------


def grade_choice(
    response: str, gold_letter: str, letters: str = "ABCD", timeout: float | None = None
) -> Grade:
    """Grade a multiple-choice response by the letter it gives."""
    if _unanswered(response):
        return Grade(False, "", NO_ANSWER, "answer_phase")
    answer, source = split_answer(response)
    return _bounded(_grade_choice_answer, (answer, source, gold_letter, letters), source, timeout)


def _grade_choice_answer(answer: str, source: str, gold_letter: str, letters: str) -> Grade:
    letter = extract_choice_letter(answer, letters)
    if letter is None:
        return Grade(False, "", NO_ANSWER, source)
    return Grade(letter == gold_letter.strip().upper(), letter, "", source)


def start_worker() -> None:
    """Start the grading worker in the background now (it is otherwise started by the first
    item, which then waits for sympy's import)."""
    if _mode() == "process":
        timeouts.warm_up(PRELOAD)


def warm_up() -> None:
    """Import and exercise math-verify once (the worker runs this before it takes items)."""
    _verify_math("\\boxed{\\frac{1}{2}}", "0.5")


def _quiet_math_verify() -> None:
    """We enforce timeouts ourselves, so math-verify's "timeout is disabled" warning is noise."""
    import math_verify.grader
    import math_verify.parser

    math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    math_verify.parser.TIMEOUT_WARNING_SHOWN = True
