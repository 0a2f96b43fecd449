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
(no cap). lm-eval aggregates every key ``process_results`` returns and prints each as a row of
its table, so a row keeps only the table's metrics at its top level (the score and, when known,
``thinking_tokens``) and everything else in one ``TRACE`` dict, which the table shows as the
share of traced samples (``traced_share``). Runs written before kept every field at the top;
``row_value`` reads either. Adding a field here adds it to every row, verify's trace keys and,
as ``SampleRecord`` must then carry it, to what reports read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
#: the samples-row key holding every per-sample field that is not a metric of lm-eval's table
TRACE = "trace"
#: trace fields lm-eval's table shows (at a row's top level, only when known): the thinking
#: length beside the score, and the share of samples whose thinking left no room to answer
TABLE_TRACE_FIELDS = ("thinking_tokens", "no_answer")


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


def split_row(fields: Mapping[str, Any], table: Iterable[str]) -> dict[str, Any]:
    """A samples row: the ``table`` metrics at the top (a trace field only when known, so no
    UNKNOWN is averaged into lm-eval's table), every other field in the ``TRACE`` dict."""
    row = {
        name: fields[name]
        for name in table
        if name in fields and (name not in TABLE_TRACE_FIELDS or fields[name] != UNKNOWN)
    }
    row[TRACE] = {name: value for name, value in fields.items() if name not in row}
    return row


def row_value(row: Mapping[str, Any], name: str) -> Any:
    """A field of a samples row, at its top level or in its ``TRACE`` dict (None: absent). Rows
    written before the ``TRACE`` dict hold every field at the top."""
    if name in row:
        return row[name]
    details = row.get(TRACE)
    return details.get(name) if isinstance(details, Mapping) else None


def flat_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A samples row with its ``TRACE`` dict spread among the top-level fields, as rows were
    written before it (those come back unchanged)."""
    details = row.get(TRACE)
    if not isinstance(details, Mapping):
        return dict(row)
    return {**{k: v for k, v in row.items() if k != TRACE}, **details}


def has_row_field(row: Mapping[str, Any], name: str) -> bool:
    """Whether a samples row records ``name`` (a trace field left out of the top as unknown
    still counts: the ``TRACE`` dict then says so)."""
    details = row.get(TRACE)
    return name in row or (isinstance(details, Mapping) and name in details)


def traced_share(details: Sequence[Any]) -> float:
    """lm-eval's aggregation of the ``TRACE`` column: the share of samples carrying a trace
    (1.0: every ``thinking_tokens`` of the run is known)."""
    flags = [number(d.get(HAS_TRACE)) or 0.0 for d in details if isinstance(d, Mapping)]
    return sum(flags) / len(flags) if flags else 0.0


def known_count(value: Any) -> int | None:
    """A trace field as a samples row holds it, or None when absent or unknown (UNKNOWN, or any
    negative value)."""
    value = number(value)
    return None if value is None or value < 0 else int(value)


def read_row_fields(row: Mapping[str, Any]) -> dict[str, int | None]:
    """The ``SAMPLE_FIELDS`` of one samples row (None: absent or unknown)."""
    return {name: known_count(row_value(row, name)) for name in SAMPLE_FIELDS}


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
