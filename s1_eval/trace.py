"""The per-sample record of one budget-forced generation, and the text type that carries it.

    text = ForcedText("<|im_start|>think...", trace)   # a str that remembers its Trace
    text.trace.thinking_tokens, text.answer           # what Control and the graders read

A ``ForcedText`` is what the lm-eval backends return from ``generate_until``. Being a ``str``
it flows through lm-eval unchanged; ``take_first`` filters keep the object, so a task's
``process_results`` can read ``results[0].trace`` and write its fields into the samples file.
It pickles, so lm-eval's ``--use_cache`` keeps traces too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: The trace fields a task copies into every sample row (see ``Trace.sample_fields``).
SAMPLE_FIELDS = (
    "thinking_tokens",
    "answer_tokens",
    "max_tokens_thinking",
    "suppressions",
    "cap_fired",
    "rejection_tries",
    "loop_stopped",
)


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
