"""What the forcing loop asks an engine and what it gets back, and the two protocols it relies on.

    engine.submit(key, GenerationStep(prompt_ids, max_tokens=64, sampling=settings.sampling))
    for key, result in engine.collect(): ...   # StepResult: token ids, text, finish reason

Engine adapters (``engines/``) translate a ``GenerationStep`` into their own request and their
output into a ``StepResult``; nothing here imports an engine.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from s1_eval.core.settings import Sampling
from s1_eval.core.thinking_control import ThinkingControl

Phase = Literal["thinking", "answer"]


@dataclass(frozen=True)
class GenerationStep:
    """One request to an engine: continue ``prompt_token_ids`` under these limits."""

    prompt_token_ids: tuple[int, ...]
    max_tokens: int
    sampling: Sampling
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    min_tokens: int = 0
    phase: Phase = "thinking"
    #: how many leading ids are the request's own prompt (every step of the request starts
    #: with them): an engine spreading steps over servers keeps equal heads on one server
    head_len: int = 0
    #: a decode-time method's controls (prefill, banned words, AlphaOne): ``core.controlled``
    control: ThinkingControl | None = None
    #: the engine's own cap on the thinking in this step (vLLM's ``thinking_token_budget``):
    #: the engine writes the end delimiter at it and generates on (``thinking_cap_by=engine``)
    thinking_token_budget: int | None = None


@dataclass(frozen=True)
class StepResult:
    """What an engine returns for a step.

    ``token_ids`` are all generated ids, including a matched stop token / EOS; ``text`` is the
    decoded output without the stop string; ``stop_reason`` is the matched stop string or stop
    token id, None for EOS or when the length limit was hit. ``finish_reason="error"`` means
    the engine refused the step (``error`` says why): the request ends there.
    """

    token_ids: tuple[int, ...]
    text: str
    finish_reason: Literal["stop", "length", "error"]
    stop_reason: str | int | None = None
    error: str | None = None
    #: (start, length) among ``token_ids`` of each string a thinking control put there itself
    #: (AlphaOne's "Wait"): the trace lists them with the loop's own inserted strings
    inserted: tuple[tuple[int, int], ...] = ()


class Tokenizer(Protocol):
    """The slice of a tokenizer the loop needs."""

    eos_token_ids: frozenset[int]
    vocab_size: int  # ids at or above it are not real tokens (padded embedding rows)

    def encode(self, text: str) -> list[int]: ...

    def decode(self, token_ids: Sequence[int]) -> str: ...


def ids_before_stop(tokenizer: Tokenizer, ids: Sequence[int], text: str) -> list[int]:
    """The ids of a step's ``text`` (its output before the stop string) from its ``ids``: a stop
    string can end inside a token, so the longest prefix of ``ids`` whose text is a prefix of
    ``text``, then the few characters left re-encoded."""
    for n in range(len(ids), -1, -1):
        decoded = tokenizer.decode(list(ids[:n]))
        if text.startswith(decoded):
            leftover = text[len(decoded) :]
            return list(ids[:n]) + (tokenizer.encode(leftover) if leftover else [])
    return []


class Engine(Protocol):
    """An engine runs steps; ``collect`` blocks until at least one submitted step finished;
    ``cancel`` drops every step in flight (an interrupted pass leaves nothing behind)."""

    tokenizer: Tokenizer

    def submit(self, key: Hashable, step: GenerationStep) -> None: ...

    def collect(self) -> list[tuple[Hashable, StepResult]]: ...

    def cancel(self) -> None: ...
