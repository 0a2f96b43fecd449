"""Tests for s1_eval.grading.extract: answer splitting, boxes, letters and unicode, in linear time.

pytest tests/test_extract.py
"""

from __future__ import annotations

import random
import time

import pytest

from s1_eval.grading.extract import (
    collapse_space,
    extract_choice_letter,
    first_line,
    last_boxed,
    normalize_math,
    split_answer,
)

MB = 1_000_000


def _quadratic_last_boxed(text: str) -> tuple[str | None, bool]:
    """The former rescanning implementation, kept as the reference for the one-pass scan."""
    import re

    content, unclosed = None, False
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, inner = 1, None
        for index in range(match.end(), len(text)):
            char = text[index]
            if char == "{" and text[index - 1] != "\\":
                depth += 1
            elif char == "}" and text[index - 1] != "\\":
                depth -= 1
                if depth == 0:
                    inner = text[match.end() : index]
                    break
        if inner is None:
            unclosed = True
        else:
            content, unclosed = inner, False
    return content, unclosed


def test_one_pass_box_scan_agrees_with_the_rescanning_one():
    pieces = ["\\boxed{", "\\fbox {", "\\boxed", "{", "}", "\\{", "\\}", "x", "1", " ", "\\"]
    rng = random.Random(7)
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        scan = last_boxed(text)
        assert (scan.content, scan.unclosed_after) == _quadratic_last_boxed(text), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x \\boxed{\\frac{1}{2}} y \\fbox{3}", ("3", False)),
        ("\\boxed{\\boxed{3}}", ("3", False)),
        ("\\boxed{2} and \\boxed{3", ("2", True)),
        ("\\boxed{a\\}b}", ("a\\}b", False)),
        ("} \\boxed{4} }", ("4", False)),
        ("no box", (None, False)),
    ],
)
def test_last_boxed(text, expected):
    scan = last_boxed(text)
    assert (scan.content, scan.unclosed_after) == expected


def test_first_line_and_split():
    assert first_line("\n\n  12 apples\nmore") == "12 apples"
    assert first_line("\r\n 5\r\nx") == "5"
    assert first_line(" \n\t ") == ""
    assert split_answer("a</think>b") == ("b", "after_delimiter")


def test_collapse_space_keeps_line_structure():
    assert collapse_space("a \t b\r\n\n  c   \n") == "a b\nc\n"
    assert collapse_space("x\u00a0\u2009y") == "x y"


# The shapes a degenerate generation produces; each used to cost seconds to minutes.
ADVERSARIAL = {
    "16k open boxes": "\\boxed{" * 16_000,
    "16k closed boxes": "\\boxed{1}" * 16_000,
    "nested boxes": "\\boxed{" * 50_000 + "}" * 50_000,
    "130k newlines": "\n" * 130_000,
    "1 MB of spaces after Answer:": "Answer:" + " " * MB,
    "1 MB of spaces in a box": "\\boxed{" + " " * MB,
    "1 MB runaway repetition": "Wait, is it (A)? **B** maybe. \n" * (MB // 31),
    "1 MB of open parentheses": "Answer: " + "(" * MB,
    "unclosed braces": "\\boxed{" + "{" * 200_000,
    "huge number": "\\boxed{" + "9" * MB + "}",
    "unicode flood": "√{π×" * (MB // 4),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_every_extraction_step_is_fast_on_adversarial_text(name):
    text = ADVERSARIAL[name]
    began = time.monotonic()
    answer, _ = split_answer(text)
    last_boxed(answer)
    first_line(answer)
    extract_choice_letter(answer)
    normalize_math(answer[:200_000])
    # linear: well under a second for a megabyte (the old scans took 17 s to over a minute)
    assert time.monotonic() - began < 2.0, name


# (what models write, what math-verify must be given)
UNICODE_TABLE = [
    ("145°", "145^{\\circ}"),
    ("30˚", "30^{\\circ}"),
    ("−3", "-3"),
    ("2 × 3", "2 \\times  3"),
    ("12 ÷ 4", "12 \\div  4"),
    ("√2", "\\sqrt{2}"),
    ("3√2", "3\\sqrt{2}"),
    ("√{3}/2", "\\sqrt{3}/2"),
    ("√(x+1)", "\\sqrt{x+1}"),
    ("√ x", "\\sqrt{x}"),
    ("2πr", "2\\pi r"),
    ("(−∞, 3]", "(-\\infty , 3]"),
    ("x²", "x^{2}"),
    ("10⁻³", "10^{-3}"),
    ("2·3", "2\\cdot 3"),
    ("x ≤ 3", "x \\le  3"),
    ("plain ascii 42", "plain ascii 42"),
]


@pytest.mark.parametrize(("text", "expected"), UNICODE_TABLE)
def test_normalize_math(text, expected):
    assert normalize_math(text) == expected
