"""The per-sample record of one budget-forced generation, the text type that carries it, and
the trace columns of a samples row (written by the tasks, read back by reports and verify).

    text = ForcedText("<|im_start|>think...", trace)   # a str that remembers its Trace
    text.trace.thinking_tokens, text.answer           # what Control and the graders read

A ``ForcedText`` is what the lm-eval backends return from ``generate_until``. Being a ``str``
it flows through lm-eval unchanged; ``take_first`` filters keep the object, so a task's
``process_results`` can read ``results[0].trace`` and write its fields into the samples file
(``row_fields``); ``read_row_fields`` reads them back. It pickles, so lm-eval's
``--use_cache`` keeps traces too.

The row schema: ``has_trace`` (0/1) then the ``SAMPLE_FIELDS``, each a whole number (counts;
booleans as 0/1) or ``UNKNOWN`` when the backend attached no trace or the value is undefined
(no cap). Rows written before a field existed lack it: readers take an absent field as
unknown (``read_row_fields``), so old results files stay readable. Adding a field here adds it
to every row, task YAML (``scripts/build_yamls.py``),
verify's trace keys and, as ``SampleRecord`` must then carry it, to what reports read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from s1_eval.common.numbers import number

#: The trace fields a task copies into every sample row (see ``Trace.sample_fields``).
SAMPLE_FIELDS = (
    "thinking_tokens",
    "answer_tokens",
    "max_tokens_thinking",
    "suppressions",
    "cap_fired",
    "rejection_tries",
    "loop_stopped",
    "context_clamped",
    "no_answer",
)
#: 1 when the response carried a trace, else 0 (and every trace field is UNKNOWN)
HAS_TRACE = "has_trace"
#: every trace column of a row, in the order the tasks write them
TRACE_COLUMNS = (HAS_TRACE, *SAMPLE_FIELDS)
#: written into a samples row for a trace field the backend could not record; trace fields
#: are never negative, so it cannot be mistaken for a value
UNKNOWN = -1


@dataclass(frozen=True)
class Trace:
    """What happened while one response was generated.

    ``thinking_tokens`` counts every token between the opening and the closing delimiter,
    inserted ignore strings included (that is what the cap limits). ``answer_start`` is the
    character offset in the returned text where the model's answer phase begins (after the
    closing delimiter and, when the cap fired, "Final Answer:").
    """

    thinking_tokens: int
    answer_tokens: int
    max_tokens_thinking: int | None
    suppressions: int = 0
    inserted: tuple[str, ...] = ()
    cap_fired: bool = False
    #: the context could not hold prompt + budget + answer room: the thinking limit was lowered
    #: to ``thinking_limit`` (reaching it is not the cap firing)
    context_clamped: bool = False
    #: the thinking used up max_gen_toks (or the context): the answer phase had no room, and
    #: the response is scored as no answer
    no_answer: bool = False
    #: the thinking tokens this request was allowed (its cap, max_gen_toks, or the clamp)
    thinking_limit: int | None = None
    thinking_finish_reasons: tuple[str, ...] = ()
    answer_finish_reason: str = ""
    rejection_tries: int = 0
    dropped_token_ids: int = 0
    thinking_opened_by: str = "appended"
    answer_start: int = 0
    #: the loop guard ended thinking (closed with the cap's text); budget tokens it left unspent
    loop_stopped: bool = False
    loop_tokens_saved: int = 0
    #: the engine refused a step (e.g. a server's "context too long"); the response ends there
    error: str = ""
    #: the generated ids by phase, as ``s1_eval.core.token_trace.TokenTrace.encode`` writes them
    tokens: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inserted"] = list(self.inserted)
        data["thinking_finish_reasons"] = list(self.thinking_finish_reasons)
        return data

    def sample_fields(self) -> dict[str, Any]:
        """The numeric fields a task puts into each sample row (bools as 0/1)."""
        row = {}
        for name in SAMPLE_FIELDS:
            value = getattr(self, name)
            row[name] = int(value) if isinstance(value, bool) else value
        return row


def row_fields(response: Any) -> dict[str, int]:
    """The trace columns of a response's samples row; UNKNOWN in each when it has no trace."""
    trace = getattr(response, "trace", None)
    if trace is None:
        return {HAS_TRACE: 0, **dict.fromkeys(SAMPLE_FIELDS, UNKNOWN)}
    fields = {k: (UNKNOWN if v is None else v) for k, v in trace.sample_fields().items()}
    return {HAS_TRACE: 1, **fields}


def known_count(value: Any) -> int | None:
    """A trace field as a samples row holds it, or None when absent or unknown (UNKNOWN, or any
    negative value)."""
    value = number(value)
    return None if value is None or value < 0 else int(value)


def read_row_fields(row: Mapping[str, Any]) -> dict[str, int | None]:
    """The ``SAMPLE_FIELDS`` of one samples row (None: absent or unknown)."""
    return {name: known_count(row.get(name)) for name in SAMPLE_FIELDS}


class ForcedText(str):
    """A response string with its ``Trace`` attached.

    ``trace`` may be None: lm-eval's built-in scoring calls ``type(response)(gold)``.
    """

    trace: Trace | None

    def __new__(cls, text: str = "", trace: Trace | None = None) -> ForcedText:
        obj = super().__new__(cls, text)
        obj.trace = trace
        return obj

    def __reduce__(self):
        return (ForcedText, (str(self), self.trace))

    @property
    def answer(self) -> str:
        """The answer phase's text (everything after the closing delimiter)."""
        return str(self)[self.trace.answer_start :] if self.trace else str(self)

    @property
    def thinking(self) -> str:
        """Everything before the answer phase: opening delimiter, thinking, closing text."""
        return str(self)[: self.trace.answer_start] if self.trace else ""


@dataclass(frozen=True)
class SampleRecord:
    """One samples row as metrics read it (``None`` = absent or unknown in the samples file):
    the doc, its score and one field per trace column (``s1_eval.trace.SAMPLE_FIELDS``)."""

    doc_id: int
    correct: float | None
    thinking_tokens: int | None = None
    max_tokens_thinking: int | None = None
    cap_fired: int | None = None
    suppressions: int | None = None
    answer_tokens: int | None = None
    rejection_tries: int | None = None
    loop_stopped: int | None = None
    context_clamped: int | None = None
    no_answer: int | None = None
    #: lm-eval's hash of the document: the same doc id with another hash is another problem
    doc_hash: str | None = None

    @property
    def has_trace(self) -> bool:
        """False when the sample's thinking length is absent or unknown (no trace)."""
        return self.thinking_tokens is not None
