"""Where the answer is in a model response and what it says, in time linear in its length.

    answer, source = split_answer(response); box = last_boxed(answer); letter = extract_choice_letter(answer)

Every function here is one pass (or a fixed number of passes) over the text: a degenerate
generation (thousands of ``\\boxed{``, a megabyte of newlines or spaces) costs milliseconds, not
the quadratic rescans and regex backtracking that would stall a run. Unicode math symbols that
models write are rewritten as the LaTeX math-verify reads (``normalize_math``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s1_eval.core.s1_format import ANSWER_ANCHORS, THINKING_END_DELIMITERS

# ---------------------------------------------------------------------------------------------
# The answer part of a response
# ---------------------------------------------------------------------------------------------


def split_answer(response: str) -> tuple[str, str]:
    """Return (answer text, where it came from) for a model response.

    With a ``ForcedText`` the backend already knows where the answer phase starts. A plain string
    is cut after the last end-of-thinking delimiter, else after the last answer anchor; without
    either the whole text is the answer.
    """
    trace = getattr(response, "trace", None)
    if trace is not None and getattr(trace, "answer_start", 0) > 0:
        return str(response)[trace.answer_start :], "answer_phase"
    text = str(response)
    for delimiters, source in (
        (THINKING_END_DELIMITERS, "after_delimiter"),
        (ANSWER_ANCHORS, "after_anchor"),
    ):
        cut = _end_of_last(text, delimiters)
        if cut is not None:
            return text[cut:], source
    return text, "whole_text"


def _end_of_last(text: str, needles: tuple[str, ...]) -> int | None:
    ends = [text.rfind(n) + len(n) for n in needles if n in text]
    return max(ends) if ends else None


def strip_leading_anchor(text: str) -> tuple[str, bool]:
    """("...Final Answer: 42" cut before the anchor) -> (" 42", True); else (text, False)."""
    stripped = text.lstrip()
    for anchor in ANSWER_ANCHORS:
        if stripped.startswith(anchor):
            return stripped[len(anchor) :], True
    return text, False


_NON_SPACE = re.compile(r"\S")
_LINE_BREAK = re.compile(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # str.splitlines' breaks


def first_line(text: str) -> str:
    """The first line holding more than whitespace, from its first non-space ("" if none)."""
    found = _NON_SPACE.search(text)
    if found is None:
        return ""
    end = _LINE_BREAK.search(text, found.start())
    return text[found.start() : end.start() if end else len(text)]


# ---------------------------------------------------------------------------------------------
# \boxed{}
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxScan:
    """The content of the last complete ``\\boxed{}`` and whether a later one was left open."""

    content: str | None
    unclosed_after: bool


# a box opener, an escaped brace (ignored) or a brace
_BRACE_TOKENS = re.compile(r"\\(?:boxed|fbox)\s*\{|\\[{}]|[{}]")


def last_boxed(text: str) -> BoxScan:
    """The last complete \\boxed{...} (balanced braces); several boxes: the last opened wins.

    One pass with a stack of open braces: each records where its box content starts (-1: a
    plain brace). Only indices are kept, so nested or repeated boxes never copy text twice.
    """
    stack: list[int] = []
    best_start, best_end = -1, -1
    for token in _BRACE_TOKENS.finditer(text):
        value = token.group()
        if value == "}":
            if stack:
                start = stack.pop()
                if start > best_start:
                    best_start, best_end = start, token.start()
        elif value == "{":
            stack.append(-1)
        elif len(value) > 2:  # a box opener
            stack.append(token.end())
    last_open = max(stack, default=-1)
    content = text[best_start:best_end] if best_start >= 0 else None
    return BoxScan(content, last_open > best_start)


# ---------------------------------------------------------------------------------------------
# Unicode math symbols
# ---------------------------------------------------------------------------------------------

# Braced or spaced so that the next letter cannot extend the macro ("2πr", "30°C").
_UNICODE_MATH = {
    "\u00b0": "^{\\circ}",  # ° degree sign
    "\u02da": "^{\\circ}",  # ˚ ring above, written for degrees
    "\u2212": "-",  # − minus sign
    "\u00d7": "\\times ",  # ×
    "\u00f7": "\\div ",  # ÷
    "\u00b7": "\\cdot ",  # · middle dot
    "\u22c5": "\\cdot ",  # ⋅ dot operator
    "\u03c0": "\\pi ",  # π
    "\u221e": "\\infty ",  # ∞
    "\u2264": "\\le ",  # ≤
    "\u2265": "\\ge ",  # ≥
    "\u2260": "\\ne ",  # ≠
}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE_MATH)))
# √2, √x, √{3}, √(x+1), √ 5: the radicand becomes \sqrt{...}; a bare √ becomes \sqrt
_ROOT_RE = re.compile(r"√\s*(?:(\d+(?:\.\d+)?)|([A-Za-z])|\{([^{}]*)\}|\(([^()]*)\))?")
_SUPERSCRIPT_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")


def _root(match: re.Match) -> str:
    radicand = next((g for g in match.groups() if g is not None), None)
    return "\\sqrt " if radicand is None else f"\\sqrt{{{radicand}}}"


def normalize_math(text: str) -> str:
    """Rewrite the unicode math symbols models write (°, −, ×, ÷, √, π, ∞, ², ...) as LaTeX."""
    if text.isascii():
        return text
    text = _ROOT_RE.sub(_root, text)
    text = _SUPERSCRIPT_RE.sub(lambda m: f"^{{{m.group().translate(_SUPERSCRIPTS)}}}", text)
    return _UNICODE_RE.sub(lambda m: _UNICODE_MATH[m.group()], text)


# ---------------------------------------------------------------------------------------------
# Multiple-choice letters
# ---------------------------------------------------------------------------------------------

# Whitespace runs are collapsed first (below), so no pattern can backtrack over a long run.
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_SPACE_WITH_NEWLINE = re.compile(r" ?\n[\n ]*")


def collapse_space(text: str) -> str:
    """Each whitespace run becomes one "\\n" if it holds a line break, else one " "."""
    return _SPACE_WITH_NEWLINE.sub("\n", _HORIZONTAL_SPACE.sub(" ", text))


def _letter_patterns(letters: str) -> tuple[list[re.Pattern], list[re.Pattern]]:
    group = f"([{letters}])"
    strong = [
        # "Answer: B", "answer is (C)", "Final Answer: **D**", "Answer: $\boxed{A}$"
        rf"(?i:answer)(?:\s+(?i:is))?\s*[:：]?\s*(?:[*$(\[]|\\\(|\\boxed\{{|\\text(?:bf)?\{{)*\s*{group}(?![A-Za-z])",
        # "\boxed{B}", "\boxed{\text{B}}", "\boxed{(B)}"
        rf"\\boxed\s*\{{\s*(?:\\text(?:bf)?\{{)?\s*\(?{group}\)?\s*\}}?\s*\}}",
    ]
    weak = [
        rf"\*\*\s*\(?{group}\)?[.)]?\s*\*\*",  # **B**
        rf"\({group}\)",  # (B)
        rf"(?m)^[^\S\n]*{group}[.)]?[^\S\n]*$",  # a line that is only "B" or "B."
        rf"(?i:option|choice)\s+\(?{group}\)?(?![A-Za-z])",  # "option C"
    ]
    return [re.compile(p) for p in strong], [re.compile(p) for p in weak]


def extract_choice_letter(text: str, letters: str = "ABCD") -> str | None:
    """The last answer letter stated in ``text``; explicit "Answer: X" and \\boxed{X} win over
    weaker signs such as "(X)", "**X**" or a line holding only the letter."""
    text = collapse_space(text)
    strong, weak = _letter_patterns(letters)
    for patterns in (strong, weak):
        hits = [(m.start(), m.group(1)) for p in patterns for m in p.finditer(text)]
        if hits:
            return max(hits)[1]
    return None
