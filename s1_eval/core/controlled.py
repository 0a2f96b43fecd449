"""Thinking steps under a ``ThinkingControl``: an Engine wrapper the forcing loop runs through.

    engine = ControlledSteps(engine)    # forcing.forced_stream wraps it when a batch asks

The forcing loop asks for one thinking step; for a request with a prefill (NoThinking) the
wrapper answers it at once with the prefilled text, ended as if the model had stopped, so the
loop closes the block with the plain end delimiter. For AlphaOne it runs the step as several
engine steps (paragraph by paragraph before the alpha moment, inserting "Wait" at random after
a break; up to the next "Wait" after it) and returns their tokens as the one step the loop
asked for: a "Wait" after the moment comes back as a stop, so the loop writes the end delimiter
in its place. Banned words (NoWait) are left to the engine (``GenerationStep.control``).
Sources and knobs: ``s1_eval.core.thinking_control``.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Hashable
from dataclasses import replace

from s1_eval.core.steps import Engine, GenerationStep, StepResult, Tokenizer, ids_before_stop
from s1_eval.core.thinking_control import ThinkingControl


class ControlledSteps:
    """An ``Engine`` that runs controlled thinking steps (see the module); others pass through."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self._ready: list[tuple[Hashable, StepResult]] = []
        self._runs: dict[Hashable, AlphaRun] = {}

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        control = step.control
        if step.phase != "thinking" or control is None or not control.runs_steps:
            self.engine.submit(key, step)
        elif control.prefill is not None:
            self._ready.append((key, prefilled(step, control.prefill, self.tokenizer)))
        else:
            run = AlphaRun(step, control, self.tokenizer)
            self._runs[key] = run
            self.engine.submit(key, run.next_step())

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        while not self._ready:
            for key, result in self.engine.collect():
                run = self._runs.get(key)
                if run is None:
                    self._ready.append((key, result))
                    continue
                outcome = run.advance(result)
                if isinstance(outcome, GenerationStep):
                    self.engine.submit(key, outcome)
                else:
                    del self._runs[key]
                    self._ready.append((key, outcome))
        ready, self._ready = self._ready, []
        return ready

    def cancel(self) -> None:
        self._runs.clear()
        self._ready.clear()
        self.engine.cancel()


def prefilled(step: GenerationStep, text: str, tokenizer: Tokenizer) -> StepResult:
    """NoThinking: the prefill as the step's output, ended like the model's own stop."""
    return StepResult(tuple(tokenizer.encode(text)), text, "stop", None)


class AlphaRun:
    """One AlphaOne thinking step, run as engine steps (module docstring)."""

    def __init__(self, step: GenerationStep, control: ThinkingControl, tokenizer: Tokenizer):
        self.step, self.control, self.tokenizer = step, control, tokenizer
        self.before = len(step.prompt_token_ids) - step.head_len  # thinking before this step
        self.cap = self.before + step.max_tokens
        assert control.alpha is not None
        self.moment = max(1, math.ceil(control.alpha * self.cap))
        head = repr(step.prompt_token_ids[: step.head_len]).encode()
        self.rng = random.Random(f"{control.alpha_seed}/{zlib.crc32(head)}/{self.before}")
        self.ids: list[int] = []
        #: (start, length) of each inserted "Wait" among ``ids``, for the trace
        self.inserted: list[tuple[int, int]] = []

    @property
    def thinking(self) -> int:
        return self.before + len(self.ids)

    def next_step(self) -> GenerationStep:
        step, control = self.step, self.control
        slow = self.thinking < self.moment
        limit = (self.moment if slow else self.cap) - self.thinking
        marker = control.alpha_break if slow else control.alpha_wait
        return replace(
            step,
            prompt_token_ids=step.prompt_token_ids + tuple(self.ids),
            max_tokens=max(1, limit),
            stop=(*step.stop, marker),
            min_tokens=step.min_tokens if not self.ids else 0,
            control=control.only_bans(),
        )

    def advance(self, result: StepResult) -> GenerationStep | StepResult:
        control = self.control
        slow = self.thinking < self.moment
        if result.finish_reason == "stop" and result.stop_reason == (
            control.alpha_break if slow else control.alpha_wait
        ):
            self.ids += ids_before_stop(self.tokenizer, result.token_ids, result.text)
            if not slow:  # after the moment a "Wait" ends the thinking: the loop closes it
                return self._finish(StepResult((), "", "stop", None))
            self.ids += self.tokenizer.encode(control.alpha_break)
            if self.rng.random() < control.alpha_p * (1 - self.thinking / self.moment):
                wait = self.tokenizer.encode(control.alpha_wait)
                self.inserted.append((len(self.ids), len(wait)))
                self.ids += wait
            return self._continue_or(StepResult((), "", "length", None))
        if result.finish_reason == "length" and slow:  # the moment, not the cap: think on
            self.ids += list(result.token_ids)
            return self._continue_or(StepResult((), "", "length", None))
        return self._finish(result)

    def _continue_or(self, ending: StepResult) -> GenerationStep | StepResult:
        return self.next_step() if self.thinking < self.cap else self._finish(ending)

    def _finish(self, last: StepResult) -> StepResult:
        ids = self.ids[: self.cap - self.before] if last.finish_reason == "length" else self.ids
        text = self.tokenizer.decode(ids)
        inserted = tuple(
            (start, min(length, len(ids) - start))
            for start, length in self.inserted
            if start < len(ids)
        )
        return StepResult(
            tuple(ids) + last.token_ids,
            text + last.text,
            last.finish_reason,
            last.stop_reason,
            inserted=inserted,
        )
