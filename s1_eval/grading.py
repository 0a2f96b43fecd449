"""Answer grading for s1-eval: math-verify for math answers, letter extraction for multiple choice.

    grade = grade_math(response, gold="\\frac{1}{2}")   # Grade(correct, extracted, failure, source)

A response is split into its answer part first (``ForcedText.answer`` when the backend attached a
trace, else the text after the last end-of-thinking delimiter or answer anchor, else all of it).
Math answers are checked with math-verify in a worker process with a per-item timeout, so grading
works from any thread and a pathological expression costs one timeout, never a stalled run.
Grading never raises: anything that goes wrong scores 0 and names the reason in ``failure``.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

# The answer is what follows the last closing delimiter, or else the last answer anchor.
from s1_eval.s1_format import ANSWER_ANCHORS, THINKING_END_DELIMITERS


#: Seconds one item may take to grade (env S1_EVAL_GRADING_TIMEOUT overrides).
DEFAULT_TIMEOUT_S = 10.0
#: Seconds the worker process may take to start (it imports sympy and math-verify once).
WORKER_START_TIMEOUT_S = 120.0

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
# Finding the answer part
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


@dataclass(frozen=True)
class BoxScan:
    """The content of the last complete ``\\boxed{}`` and whether a later one was left open."""

    content: str | None
    unclosed_after: bool


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str) -> BoxScan:
    """Find the last complete \\boxed{...} (balanced braces); several boxes: the last one wins."""
    content, unclosed = None, False
    for match in _BOX_RE.finditer(text):
        inner = _balanced_from(text, match.end())
        if inner is None:
            unclosed = True
        else:
            content, unclosed = inner, False
    return BoxScan(content, unclosed)


def _balanced_from(text: str, start: int) -> str | None:
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "{" and text[index - 1] != "\\":
            depth += 1
        elif char == "}" and text[index - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start:index]
    return None


# ---------------------------------------------------------------------------------------------
# Math answers (math-verify, run in a worker)
# ---------------------------------------------------------------------------------------------


def grade_math(response: str, gold: Any, timeout: float | None = None) -> Grade:
    """Grade a free-form math response against a gold answer (LaTeX or plain) with math-verify."""
    answer, source = split_answer(response)
    box = last_boxed(answer)
    if box.unclosed_after:
        # the model was cut off while writing its final answer: do not guess from earlier text
        return Grade(False, "", UNCLOSED_BOX, source)
    answer, opens_with_anchor = _strip_leading_anchor(answer)  # "...answer\nFinal Answer: 42"
    anchored = opens_with_anchor or _follows_anchor(response, source)
    if box.content is not None:
        candidate = f"\\boxed{{{box.content}}}"
    elif anchored:
        # "The final answer is 10.\n\nSo, Max has 1": the statement after the anchor counts,
        # not the last number of whatever the model rambles on with
        candidate = _first_line(answer)
    else:
        candidate = answer
    if not candidate.strip():
        return Grade(False, "", NO_ANSWER, source)
    try:
        correct, extracted, failure = run_with_timeout(
            _verify_math, (candidate, str(gold)), timeout=_timeout_s(timeout)
        )
    except TimeoutError:
        return Grade(False, "", TIMEOUT, source)
    except Exception as error:  # a grader bug must cost one item, never the run
        return Grade(False, "", f"error: {type(error).__name__}: {error}"[:200], source)
    return Grade(correct, extracted, failure, source)


def _strip_leading_anchor(text: str) -> tuple[str, bool]:
    stripped = text.lstrip()
    for anchor in ANSWER_ANCHORS:
        if stripped.startswith(anchor):
            return stripped[len(anchor) :], True
    return text, False


def _follows_anchor(response: str, source: str) -> bool:
    if source == "after_anchor":
        return True
    if source == "answer_phase":
        before = response.thinking if hasattr(response, "thinking") else ""
        return before.rstrip().endswith(ANSWER_ANCHORS)
    return False


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _timeout_s(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    return float(os.environ.get("S1_EVAL_GRADING_TIMEOUT", DEFAULT_TIMEOUT_S))


def _verify_math(candidate: str, gold: str) -> tuple[bool, str, str]:
    """Runs in the worker: parse both sides and compare (math-verify's own timeouts are off,
    they use signals and only work on the main thread; the caller enforces the timeout)."""
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
        parsed = run_with_timeout(_canonical, (extracted,), timeout=_timeout_s(None))
    except Exception:
        return extracted.strip()
    return parsed or extracted.strip()


def _canonical(extracted: str) -> str:
    parsed = _parse_prediction(f"${extracted}$")
    return str(parsed[0]) if parsed else ""


# ---------------------------------------------------------------------------------------------
# Multiple choice letters
# ---------------------------------------------------------------------------------------------


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
        rf"(?m)^\s*{group}[.)]?\s*$",  # a line that is only "B" or "B."
        rf"(?i:option|choice)\s+\(?{group}\)?(?![A-Za-z])",  # "option C"
    ]
    return [re.compile(p) for p in strong], [re.compile(p) for p in weak]


def extract_choice_letter(text: str, letters: str = "ABCD") -> str | None:
    """The last answer letter stated in ``text``; explicit "Answer: X" and \\boxed{X} win over
    weaker signs such as "(X)", "**X**" or a line holding only the letter."""
    strong, weak = _letter_patterns(letters)
    for patterns in (strong, weak):
        hits = [(m.start(), m.group(1)) for p in patterns for m in p.finditer(text)]
        if hits:
            return max(hits)[1]
    return None


def grade_choice(response: str, gold_letter: str, letters: str = "ABCD") -> Grade:
    """Grade a multiple-choice response by the letter it gives."""
    answer, source = split_answer(response)
    try:
        letter = extract_choice_letter(answer, letters)
    except Exception as error:  # never crash a run on one odd response
        return Grade(False, "", f"error: {type(error).__name__}", source)
    if letter is None:
        return Grade(False, "", NO_ANSWER, source)
    return Grade(letter == gold_letter.strip().upper(), letter, "", source)


# ---------------------------------------------------------------------------------------------
# Timeouts off the main thread
# ---------------------------------------------------------------------------------------------


def run_with_timeout(fn: Callable, args: tuple, timeout: float) -> Any:
    """Run ``fn(*args)`` with a wall-clock limit; raise TimeoutError when it is exceeded.

    Mode from env S1_EVAL_GRADING_WORKER: "process" (default; a worker process that is killed
    and restarted on timeout, so a runaway sympy call never keeps a core busy), "thread" (a
    daemon thread that is abandoned on timeout; for hosts that cannot start processes) or
    "inline" (no limit; debugging). ``fn`` must be importable at module level for "process".
    """
    mode = os.environ.get("S1_EVAL_GRADING_WORKER", "process")
    if mode == "inline":
        return fn(*args)
    if mode == "process":
        try:
            return _process_worker().call(fn, args, timeout)
        except _WorkerUnavailable:
            pass  # fall through to threads
    return _thread_call(fn, args, timeout)


class _WorkerUnavailable(RuntimeError):
    pass


_thread_pool: ThreadPoolExecutor | None = None
_thread_pool_lock = threading.Lock()


def _thread_call(fn: Callable, args: tuple, timeout: float) -> Any:
    global _thread_pool
    with _thread_pool_lock:
        if _thread_pool is None:
            _thread_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s1-grade")
    future = _thread_pool.submit(fn, *args)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout as error:
        raise TimeoutError(f"grading took longer than {timeout} s") from error


def _quiet_math_verify() -> None:
    """We enforce timeouts ourselves, so math-verify's "timeout is disabled" warning is noise."""
    import math_verify.grader
    import math_verify.parser

    math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    math_verify.parser.TIMEOUT_WARNING_SHOWN = True


def _serve(read_fd: int, write_fd: int) -> None:
    """Worker loop: receive (fn, args), send back ("ok", result) or ("err", text)."""
    from multiprocessing.connection import Connection

    _quiet_math_verify()  # also imports math-verify before we report ready
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    outbox.send(("ready", None))
    while True:
        try:
            fn, args = inbox.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            outbox.send(("ok", fn(*args)))
        except Exception as error:
            outbox.send(("err", f"{type(error).__name__}: {error}"))


class _ProcessWorker:
    """One grading process; calls are serialised; a call that times out kills the process.

    Started as ``python -m s1_eval.grading`` rather than through multiprocessing's spawn,
    which would re-import the caller's ``__main__`` (and re-run an unguarded script) in the
    child; fork is no option either, the parent may hold CUDA contexts and engine threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._inbox = None
        self._outbox = None
        self._failed_to_start = False

    def call(self, fn: Callable, args: tuple, timeout: float) -> Any:
        with self._lock:
            self._ensure_started()
            try:
                self._outbox.send((fn, args))
                ready = self._inbox.poll(timeout)
                if ready:
                    status, value = self._inbox.recv()
            except (BrokenPipeError, EOFError, OSError):
                self._stop()
                raise _WorkerUnavailable("grading worker died") from None
            if not ready:
                self._stop()  # the only way to interrupt sympy is to end its process
                raise TimeoutError(f"grading took longer than {timeout} s")
        if status == "err":
            raise RuntimeError(value)
        return value

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        if self._failed_to_start:
            raise _WorkerUnavailable("grading worker could not start")
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        command = [sys.executable, "-m", "s1_eval.grading", str(to_child_r), str(from_child_w)]
        try:
            process = subprocess.Popen(
                command, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL
            )
        except OSError as error:
            self._failed_to_start = True
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise _WorkerUnavailable(f"grading worker could not start: {error}") from error
        os.close(to_child_r)
        os.close(from_child_w)
        self._process = process
        self._outbox = Connection(to_child_w, readable=False)
        self._inbox = Connection(from_child_r, writable=False)
        try:
            if not self._inbox.poll(WORKER_START_TIMEOUT_S):
                raise RuntimeError("no ready message")
            self._inbox.recv()
        except (EOFError, OSError, RuntimeError) as error:
            self._failed_to_start = True
            self._stop()
            raise _WorkerUnavailable(f"grading worker could not start: {error}") from error

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)
        for connection in (self._inbox, self._outbox):
            if connection is not None:
                connection.close()
        self._process, self._inbox, self._outbox = None, None, None

    def stop(self) -> None:
        with self._lock:
            self._stop()


_worker: _ProcessWorker | None = None
_worker_lock = threading.Lock()


def _process_worker() -> _ProcessWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _ProcessWorker()
            atexit.register(_worker.stop)
        return _worker


if __name__ == "__main__":  # the grading worker: python -m s1_eval.grading READ_FD WRITE_FD
    _serve(int(sys.argv[1]), int(sys.argv[2]))
