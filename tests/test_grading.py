"""Tests for s1_eval.grading.grade: a table of model-shaped responses, answer splitting, letters, timeouts.

pytest tests/test_grading.py
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from s1_eval.grading.extract import extract_choice_letter, last_boxed, split_answer
from s1_eval.grading.grade import NO_ANSWER, TIMEOUT, UNCLOSED_BOX, grade_choice, grade_math
from s1_eval.trace import ForcedText, Trace

S1 = "<|im_start|>think\n"
END = "\n<|im_start|>answer\n"
CAP = "\n<|im_start|>answer\nFinal Answer:"

# (response, gold, expected correct)
MATH_TABLE = [
    # \boxed{} in the answer phase of an s1 response
    (S1 + "Let me compute 7*6 = 42." + END + "The answer is $\\boxed{42}$.", "42", True),
    (S1 + "7*6=42" + END + "The answer is $\\boxed{41}$.", "42", False),
    (S1 + "so 023" + END + "\\boxed{023}", "23", True),
    (S1 + "hmm" + END + "**Final answer:** $\\boxed{204}$", "204", True),
    # the cap fired: "Final Answer:" follows the closing delimiter
    (S1 + "I keep thinking and" + CAP + " 113", "113", True),
    (S1 + "I keep thinking and" + CAP + " $\\boxed{113}$", "113", True),
    (S1 + "I keep thinking and" + CAP + " 114", "113", False),
    # thinking mentions a different number; only the answer phase counts
    (S1 + "maybe \\boxed{7}? Wait, no." + END + "\\boxed{9}", "9", True),
    (S1 + "the answer is \\boxed{9}" + END + "\\boxed{7}", "9", False),
    ("<think>\nI think it is 5\n</think>\nThe answer is $\\boxed{6}$", "6", True),
    ("<think>\nit is 6\n</think>\nThe answer is $\\boxed{5}$", "6", False),
    # fractions vs decimals vs \dfrac
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", True),
    ("\\boxed{0.5}", "\\frac{1}{2}", True),
    ("\\boxed{1/2}", "\\frac{1}{2}", True),
    ("\\boxed{\\dfrac{3}{4}}", "\\frac{3}{4}", True),
    ("\\boxed{\\tfrac34}", "\\frac{3}{4}", True),
    ("\\boxed{0.75}", "\\dfrac{3}{4}", True),
    ("\\boxed{0.7}", "\\frac{3}{4}", False),
    ("\\boxed{\\frac{2}{4}}", "\\frac{1}{2}", True),
    ("\\boxed{-\\frac{7}{3}}", "-\\frac{7}{3}", True),
    ("\\boxed{\\frac{7}{3}}", "-\\frac{7}{3}", False),
    # roots, pi, expressions
    ("\\boxed{11\\sqrt{2}}", "11\\sqrt2", True),
    ("\\boxed{\\sqrt{8}}", "2\\sqrt{2}", True),
    ("\\boxed{3\\sqrt{2}}", "2\\sqrt{3}", False),
    ("\\boxed{2\\pi}", "2\\pi", True),
    ("\\boxed{6.28}", "2\\pi", False),
    ("\\boxed{x^2+2x+1}", "(x+1)^2", True),
    ("\\boxed{p - q}", "p - q", True),
    ("\\boxed{q - p}", "p - q", False),
    # degrees, percent, dollars, units
    ("\\boxed{75^\\circ}", "75^\\circ", True),
    ("\\boxed{75}", "75^\\circ", True),
    ("The angle is $\\boxed{75^{\\circ}}$.", "75", True),
    ("\\boxed{10\\%}", "10\\%", True),
    ("\\boxed{10}", "10\\%", True),
    ("\\boxed{\\$32}", "\\$32", True),
    ("\\boxed{32}", "\\$32", True),
    ("\\boxed{6 \\text{ cm}}", "6", True),
    ("\\boxed{6\\text{ inches}}", "6\\text{ inches}", True),
    ("\\boxed{7 \\text{ cm}}", "6", False),
    ("\\boxed{12 \\mbox{ dollars}}", "12", True),
    # intervals and tuples
    ("\\boxed{(-\\infty, 3]}", "(-\\infty, 3]", True),
    ("\\boxed{(-\\infty, 3)}", "(-\\infty, 3]", False),
    ("\\boxed{[2,5)}", "[2,5)", True),
    ("so \\boxed{(3, \\pi/2)}", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("so \\boxed{(3, \\pi)}", "\\left( 3, \\frac{\\pi}{2} \\right)", False),
    ("\\boxed{(1,-2)}", "(1,-2)", True),
    ("\\boxed{-2, 1}", "1,-2", True),
    # equations vs values
    ("\\boxed{x=5}", "5", True),
    ("\\boxed{5}", "x=5", True),
    # text answers
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", True),
    ("\\boxed{Evelyn}", "\\text{Evelyn}", True),
    ("\\boxed{\\text{Bob}}", "\\text{Evelyn}", False),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}", True),
    # "Final Answer:" / "The answer is" without a box
    ("Final Answer: 42", "42", True),
    ("Final Answer: $\\frac{1}{2}$", "0.5", True),
    ("The final answer is $\\frac{5}{2}$. I hope it is correct.", "2.5", True),
    ("Let's think step by step. 3 + 4 = 7. The final answer is 7.", "7", True),
    ("Let's think step by step. 3 + 4 = 8. The final answer is 8.", "7", False),
    ("Answer: 1,000", "1000", True),
    # after an anchor the stated answer counts, not the last number of later rambling
    ("Let's think step by step. The final answer is 10.\n\nSo, Max has 1", "10", True),
    ("Let's think step by step. The final answer is 10.\n\nSo, Max has 1", "1", False),
    (S1 + "long" + CAP + " 12\nWait, maybe 13", "12", True),
    ("<think>x</think>\nFinal Answer:\n\n 5\n\nbecause 2+3", "5", True),
    ("The answer is 11,111,111,100.", "11,\\! 111,\\! 111,\\! 100", True),
    # several boxes: the last one wins
    ("First guess \\boxed{3}. Wait, recheck: \\boxed{5}", "5", True),
    ("First guess \\boxed{5}. Wait, recheck: \\boxed{3}", "5", False),
    ("\\boxed{1} then \\boxed{2} then \\boxed{\\frac{1}{3}}", "\\frac13", True),
    # nested braces inside a box
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}", True),
    (
        "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
        True,
    ),
    # no answer at all, truncated output
    ("", "5", False),
    (S1 + "I am still thinking about this problem and", "5", False),
    (S1 + "thinking" + END, "5", False),
    ("The answer is therefore \\boxed{\\frac{1}{", "\\frac{1}{2}", False),
    ("We have \\boxed{2} so far, finally \\boxed{3", "3", False),
    ("I don't know.", "5", False),
]


KNOWN_LIMITS = [
    # math-verify reads a decimal inside \text{} as text, and an unboxed word answer not at all
    pytest.param("\\boxed{\\text{1.25}}", "1.25", True, id="text-wrapped-decimal"),
    pytest.param("The answer is Evelyn.", "\\text{Evelyn}", True, id="unboxed-word"),
]


@pytest.mark.parametrize(("response", "gold", "expected"), KNOWN_LIMITS)
@pytest.mark.xfail(strict=True, reason="known math-verify limitation; documented, not hidden")
def test_math_known_limits(response, gold, expected):
    assert grade_math(response, gold).correct is expected


@pytest.mark.parametrize(("response", "gold", "expected"), MATH_TABLE)
def test_math_table(response, gold, expected):
    grade = grade_math(response, gold)
    assert grade.correct is expected, grade


def test_table_is_large_and_balanced():
    assert len(MATH_TABLE) >= 60
    wrong = sum(not expected for _, _, expected in MATH_TABLE)
    assert wrong >= 15  # a grader that says "correct" to everything must fail the table


# ---------------------------------------------------------------------------------------------
# Where the answer is read from
# ---------------------------------------------------------------------------------------------


def _forced(thinking: str, closing: str, answer: str) -> ForcedText:
    text = thinking + closing + answer
    trace = Trace(
        thinking_tokens=10,
        answer_tokens=3,
        max_tokens_thinking=100,
        answer_start=len(thinking + closing),
    )
    return ForcedText(text, trace)


def test_forced_text_is_graded_on_its_answer_phase():
    response = _forced(S1 + "maybe \\boxed{7}", CAP, " 9")
    grade = grade_math(response, "9")
    assert grade.correct and grade.source == "answer_phase"
    assert not grade_math(response, "7").correct


def test_forced_answer_after_anchor_reads_the_first_line():
    forced = _forced("Let's think step by step. 3+4", " The final answer is", " 7.\nSo Tom has 3")
    assert grade_math(forced, "7").correct
    assert not grade_math(forced, "3").correct


def test_plain_preset_anchor_found_in_forced_and_plain_text():
    thinking = "Let's think step by step. Tom has 3 and gets 4, so 7 in all."
    forced = _forced(thinking, " The final answer is", " 7.")
    assert grade_math(forced, "7").correct
    assert grade_math(str(forced), "7").correct
    assert split_answer(str(forced)) == (" 7.", "after_anchor")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a<|im_start|>answer\nb", ("\nb", "after_delimiter")),
        ("a</think>b</think>c", ("c", "after_delimiter")),
        ("a<|im_start|>answer\nFinal Answer: 3", ("\nFinal Answer: 3", "after_delimiter")),
        ("thinking... Final Answer: 3", (" 3", "after_anchor")),
        ("just text 3", ("just text 3", "whole_text")),
    ],
)
def test_split_answer(text, expected):
    assert split_answer(text) == expected


def test_empty_answer_phase_scores_zero_with_reason():
    grade = grade_math(_forced(S1 + "the answer is \\boxed{5}", END, ""), "5")
    assert (grade.correct, grade.failure) == (False, NO_ANSWER)


def test_unclosed_final_box_is_recorded():
    grade = grade_math("so \\boxed{2} and then \\boxed{3", "3")
    assert (grade.correct, grade.failure) == (False, UNCLOSED_BOX)


def test_last_boxed_balances_braces():
    scan = last_boxed("x \\boxed{\\frac{1}{2}} y \\fbox{3}")
    assert (scan.content, scan.unclosed_after) == ("3", False)
    assert last_boxed("\\boxed{\\frac{1}{2}}").content == "\\frac{1}{2}"


def test_extracted_answer_is_reported():
    grade = grade_math("\\boxed{\\dfrac{3}{4}}", "0.75")
    assert grade.correct and grade.extracted and grade.failure == ""


# ---------------------------------------------------------------------------------------------
# Multiple-choice letters
# ---------------------------------------------------------------------------------------------

LETTER_TABLE = [
    ("Answer: B", "B"),
    ("answer: c", None),  # a lower-case letter is not an option label
    ("The answer is (C).", "C"),
    ("Final Answer: **D**", "D"),
    ("Answer: $\\boxed{A}$", "A"),
    ("\\boxed{B}", "B"),
    ("\\boxed{\\text{C}}", "C"),
    ("\\boxed{(D)}", "D"),
    ("(B)", "B"),
    ("**B**", "B"),
    ("B.", "B"),
    ("so I pick\nC\n", "C"),
    ("A) is wrong because of X. Answer: D", "D"),
    ("Answer: A. Hmm, actually Answer: C.", "C"),
    ("Option (A) fails; the correct choice is (B).", "B"),
    ("I think option C", "C"),
    ("Answer: Both options fail", None),
    ("nothing here", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), LETTER_TABLE)
def test_choice_letters(text, expected):
    assert extract_choice_letter(text) == expected


def test_grade_choice_uses_answer_phase_and_gold():
    response = S1 + "Maybe (A)? No." + CAP + " B."
    assert grade_choice(response, "B").correct
    assert not grade_choice(response, "A").correct
    grade = grade_choice(S1 + "no idea", "A")
    assert (grade.correct, grade.failure) == (False, NO_ANSWER)


# ---------------------------------------------------------------------------------------------
# Timeouts and threads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["process", "thread", "inline"])
def test_every_worker_mode_grades(monkeypatch, mode):
    monkeypatch.setenv("S1_EVAL_GRADING_WORKER", mode)
    assert grade_math("\\boxed{0.5}", "1/2").correct
    assert grade_choice("Answer: C", "C").correct


def test_a_misspelt_worker_mode_is_an_error_not_a_zero(monkeypatch):
    monkeypatch.setenv("S1_EVAL_GRADING_WORKER", "proces")
    with pytest.raises(ValueError, match="S1_EVAL_GRADING_WORKER"):
        grade_math("\\boxed{1}", "1")


def test_a_timeout_scores_zero_and_grading_recovers(monkeypatch):
    assert grade_math("\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "2", timeout=0.3).failure == TIMEOUT
    assert grade_math("\\boxed{2}", "2").correct  # the worker restarts after being killed


def test_grading_works_off_the_main_thread():
    results = []
    worker = threading.Thread(target=lambda: results.append(grade_math("\\boxed{0.5}", "1/2")))
    worker.start()
    worker.join(timeout=60)
    assert results and results[0].correct


def test_grader_never_raises_on_odd_input():
    for response in ["\\boxed{}", "\\boxed{\\frac{}{}}", "}}}{{{", "\\boxed{" * 50, "$$$$"]:
        grade = grade_math(response, "1")
        assert not grade.correct


# ---------------------------------------------------------------------------------------------
# Degenerate generations: graded, or scored 0 with "timeout", within the timeout + 1 s
# ---------------------------------------------------------------------------------------------

LIMIT_S = 3.0
RUNAWAY = "Wait, let me double check: 12 + 30 = 42, so x = 42. "
MB = 1_000_000

# (name, grader, response, gold, accepted failures; "" = graded normally)
ADVERSARIAL = [
    ("16,000 repeated \\boxed{", "math", "\\boxed{" * 16_000, "42", {UNCLOSED_BOX}),
    ("130k newlines, no answer", "choice", "\n" * 130_000, "A", {NO_ANSWER}),
    ("130k newlines, math", "math", "\n" * 130_000, "42", {NO_ANSWER}),
    ("1 MB runaway, no box", "math", RUNAWAY * (MB // len(RUNAWAY)), "42", {"", TIMEOUT}),
    (
        "1 MB runaway, then a box",
        "math",
        RUNAWAY * (MB // len(RUNAWAY)) + "\\boxed{42}",
        "42",
        {""},
    ),
    ("1 MB runaway, choice", "choice", "Maybe (A) or (B)? Wait. " * (MB // 24), "B", {""}),
    ("1 MB of spaces after Answer:", "choice", "Answer:" + " " * MB, "A", {NO_ANSWER}),
    (
        "unclosed box after a closed one",
        "math",
        "\\boxed{42} so \\boxed{\\frac{1}{" + "2" * 999,
        "42",
        {UNCLOSED_BOX},
    ),
    ("100k unclosed braces", "math", "\\boxed{" + "{" * 100_000, "42", {UNCLOSED_BOX}),
    ("a 100,000-digit number", "math", "\\boxed{" + "9" * 100_000 + "}", "5", {"", TIMEOUT}),
    ("a power tower", "math", "\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}", "5", {TIMEOUT}),
    ("10^10^10^10", "math", "\\boxed{10^{10^{10^{10}}}}", "5", {"", TIMEOUT}),
]


@pytest.fixture(scope="module")
def warm_worker():
    grade_math("\\boxed{1}", "1")  # the one-off worker start is not part of an item's time


@pytest.mark.parametrize(
    ("grader", "response", "gold", "accepted"),
    [pytest.param(*case[1:], id=case[0]) for case in ADVERSARIAL],
)
def test_degenerate_responses_are_bounded(warm_worker, grader, response, gold, accepted):
    grade_fn = grade_math if grader == "math" else grade_choice
    began = time.monotonic()
    grade = grade_fn(response, gold, timeout=LIMIT_S)
    elapsed = time.monotonic() - began
    assert elapsed < LIMIT_S + 1.0, (elapsed, grade)
    assert grade.failure in accepted, grade
    assert not grade.correct or grade.failure == ""


def test_the_item_after_a_timeout_does_not_wait_for_a_restart(warm_worker):
    assert grade_math("\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}", "5", timeout=1.0).failure == TIMEOUT
    began = time.monotonic()
    assert grade_math("\\boxed{0.5}", "1/2", timeout=LIMIT_S).correct
    assert time.monotonic() - began < 1.0  # a warm spare took over


# ---------------------------------------------------------------------------------------------
# Unicode math symbols as models write them
# ---------------------------------------------------------------------------------------------

# (response, gold, expected correct)
UNICODE_TABLE = [
    ("Each interior angle is $\\boxed{145°}$.", "145^\\circ", True),
    ("\\boxed{145°}", "144^\\circ", False),
    ("So the angle measures **30°**.\n\nFinal Answer: 30°", "30", True),
    ("The angle is $\\boxed{60 °}$", "60^{\\circ}", True),
    ("<think>\nangle ABC = 90˚\n</think>\n\\boxed{90˚}", "90", True),
    ("Final Answer: −7", "-7", True),
    ("Final Answer: −7", "7", False),
    ("\\boxed{−\\frac{3}{4}}", "-\\frac{3}{4}", True),
    ("The solution set is $\\boxed{(−∞, 3]}$.", "(-\\infty, 3]", True),
    ("\\boxed{3 × 10^{5}}", "300000", True),
    ("\\boxed{2 × 3}", "5", False),
    ("\\boxed{12 ÷ 4}", "3", True),
    ("The side length is $\\boxed{3√2}$.", "3\\sqrt{2}", True),
    ("\\boxed{√2}", "\\sqrt{3}", False),
    ("\\boxed{√{3}/2}", "\\frac{\\sqrt{3}}{2}", True),
    ("\\boxed{√(x+1)}", "\\sqrt{x+1}", True),
    ("The area is $\\boxed{16π}$ square units.", "16\\pi", True),
    ("\\boxed{π/2}", "\\frac{\\pi}{2}", True),
    ("\\boxed{2π}", "\\pi", False),
    ("\\boxed{4√3π}", "4\\sqrt{3}\\pi", True),
    ("\\boxed{x²+2x+1}", "(x+1)^2", True),
    ("\\boxed{2·3}", "6", True),
]


@pytest.mark.parametrize(("response", "gold", "expected"), UNICODE_TABLE)
def test_unicode_math_symbols(response, gold, expected):
    grade = grade_math(response, gold)
    assert grade.correct is expected, grade


# ---------------------------------------------------------------------------------------------
# MATH500 gold answers graded against themselves
# ---------------------------------------------------------------------------------------------

#: MATH-500's 500 gold answers (answers only), committed so a fresh clone runs these tests
MATH500_ANSWERS = Path(__file__).resolve().parent / "fixtures" / "data" / "math500_answers.json"
FRACTION = re.compile(r"\\d?frac\{(-?\d+)\}\{(\d+)\}")


def _math500_answers() -> list[str]:
    return json.loads(MATH500_ANSWERS.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "template",
    [
        "So the answer is $\\boxed{{{a}}}$.",
        "<|im_start|>think\nwork<|im_start|>answer\nFinal Answer: ${a}$",
        "Let's think step by step. The final answer is ${a}$.",
    ],
)
def test_every_math500_gold_matches_itself(template):
    answers = _math500_answers()
    wrong = [a for a in answers if not grade_math(template.format(a=a), a).correct]
    assert not wrong, wrong[:5]


@pytest.mark.slow
def test_math500_fractions_match_slash_and_decimal_forms():
    pairs = []
    for gold in _math500_answers():
        match = FRACTION.fullmatch(gold.strip())
        if match:
            top, bottom = int(match.group(1)), int(match.group(2))
            pairs.append((f"\\boxed{{{top}/{bottom}}}", gold))
            if len(f"{top / bottom:.10g}") < 9:  # terminating decimals only
                pairs.append((f"\\boxed{{{top / bottom:.10g}}}", gold))
    assert len(pairs) > 50
    assert all(grade_math(response, gold).correct for response, gold in pairs)
    # and a wrong integer is never accepted
    integers = [a for a in _math500_answers() if re.fullmatch(r"-?\d+", a.strip())]
    assert not any(grade_math(f"\\boxed{{{int(a) + 1}}}", a).correct for a in integers)
