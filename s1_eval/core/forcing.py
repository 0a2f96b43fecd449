"""The engine-agnostic budget-forcing loop: think -> (suppress + "Wait") x k -> cap -> answer.

    texts = force_generate(engine, prompt_token_ids, settings)   # list[ForcedText]
    per_batch = force_generate_many(engine, [(prompts_a, settings_a), (prompts_b, settings_b)])

Each request is a small state machine that asks its engine for one generation step at a time
and decides the next step from the result, so an engine can continue a request the moment its
step ends (no batch barrier) and reuse the cached prefix. Continuations are built in token ids;
only the strings we insert are tokenized. What a batch shares (its cap, its stops) is
``s1_eval.core.plan``'s. Imports no engine: adapters live in ``engines/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from s1_eval.core.controlled import ControlledSteps
from s1_eval.core.loop_guard import CHECK_EVERY, LoopWatch
from s1_eval.core.plan import BatchPlan, plan_batch
from s1_eval.core.settings import GenerationSettings, Sampling
from s1_eval.core.steps import Engine, GenerationStep, Phase, StepResult, ids_before_stop
from s1_eval.core.token_trace import TokenTrace
from s1_eval.trace import ForcedText, Trace

#: one batch's prompts and the plan they share
PlannedBatch = tuple[Sequence[Sequence[int]], BatchPlan]


class ForcedRequest:
    """The state machine of one request; ``start`` and ``advance`` return the next step."""

    def __init__(
        self,
        prompt_ids: Sequence[int],
        plan: BatchPlan,
        index: int = 0,
        position: int | None = None,
    ):
        self.plan = plan
        self.prompt_ids = tuple(prompt_ids)
        self.index = index
        #: the request's place in its whole batch, which seeds its sampling (a data-parallel
        #: replica holds a share of the batch: its index 0 may be the batch's request 5)
        self.position = index if position is None else position
        # Some chat templates already open the block (R1 distills end with "<think>\n"):
        # opening it again would double the tag, so count thinking from the template's tag.
        # One that closed it (Qwen3, enable_thinking=False) asked for no thinking: answer at once.
        # No forcing gen_kwarg at all: one plain generation, as the s1 fork and lm-eval's vllm.
        template = plan.templates[index] if index < len(plan.templates) else ""
        self.opened_by = {"opened": "prompt", "closed": "template_closed"}.get(template, "appended")
        if not plan.settings.force_thinking:
            self.opened_by = "not_forced"
        self.prefix = self.prompt_ids + (plan.start_ids if self.opened_by == "appended" else ())
        #: the thinking tokens this request may use: its budget, or less where the context
        #: could not hold budget + closing text + answer room after its prompt
        self.thinking_budget, self.context_clamped = plan.thinking_limit(len(self.prefix))
        if self.opened_by in ("template_closed", "not_forced"):
            self.context_clamped = False
        self.thinking_ids: list[int] = []
        self.suppressions = 0
        self.inserted: list[str] = []
        #: (start, length) of each inserted string's ids among the thinking ids
        self.inserted_spans: list[tuple[int, int]] = []
        self.closing_ids: tuple[int, ...] = ()
        self.finish_reasons: list[str] = []
        self.cap_fired = False
        self.tries = 1
        self.dropped = 0
        self.phase: Phase | str = "thinking"  # "engine_capped": one request, the engine caps
        self.closing_text = ""
        self.answer: StepResult | None = None
        self.answer_ids: tuple[int, ...] = ()
        guard = plan.settings.forcing.loop_guard
        self.loop_watch = LoopWatch(guard) if guard else None
        self.loop_tokens_saved: int | None = None  # set when the loop guard ended thinking
        self.continuing = False  # the next thinking step only continues a guarded chunk
        self.error = ""  # why the engine refused a step, if it did

    # -- steps ------------------------------------------------------------------------------
    def start(self) -> GenerationStep | None:
        if self.opened_by in ("template_closed", "not_forced"):
            return self._answer_only()
        if self.thinking_budget < 1:  # the prompt leaves no room to think (backends refuse it)
            return self._close_at_limit()
        control = self.plan.settings.forcing.control
        if control is not None and control.engine_cap:
            return self._engine_capped_step()
        return self._thinking_step()

    def advance(self, result: StepResult) -> GenerationStep | None:
        if result.finish_reason == "error":
            if self.phase == "thinking":
                self.finish_reasons.append("error")
            self.answer, self.error = result, result.error or "the engine refused the step"
            return None
        if self.phase == "engine_capped":
            self._split_engine_capped(result)
            return None
        if self.phase == "thinking":
            return self._after_thinking(result)
        self.answer_ids = self._clean(result.token_ids, drop_stop=True)
        self.answer = result
        return None

    def _thinking_step(self) -> GenerationStep:
        plan, forcing = self.plan, self.plan.settings.forcing
        used = len(self.thinking_ids)
        # rejection sampling asks for one token more than fits, to see who overruns
        max_tokens = self.thinking_budget - used + (1 if forcing.rejection_sample else 0)
        if self.loop_watch is not None:
            max_tokens = min(max_tokens, CHECK_EVERY)
        return GenerationStep(
            prompt_token_ids=self.prefix + tuple(self.thinking_ids),
            max_tokens=max(1, max_tokens),
            sampling=self._seeded(plan.settings.thinking_sampling),
            stop=plan.thinking_stop_strings,
            stop_token_ids=plan.thinking_stop_ids,
            # The s1 fork runs every thinking step with min_tokens=1 once thinking_n_ignore is
            # given: a step cannot end on its first token, so a suppression with no ignore
            # string still moves forward instead of re-emitting the stop at once.
            min_tokens=max(
                forcing.min_tokens_thinking - used,
                1 if forcing.thinking_n_ignore is not None and not self.continuing else 0,
            ),
            phase="thinking",
            head_len=len(self.prefix),
            control=forcing.control,
        )

    def _after_thinking(self, result: StepResult) -> GenerationStep | None:
        plan, forcing = self.plan, self.plan.settings.forcing
        self.finish_reasons.append(result.finish_reason)
        kept = self._kept_thinking_ids(result)
        budget = self.thinking_budget
        overran = plan.cap is not None and len(self.thinking_ids) + len(kept) > budget
        if forcing.rejection_sample and overran and self.tries < forcing.rejection_max_tries:
            self.tries += 1
            self.thinking_ids, self.suppressions, self.inserted = [], 0, []
            self.inserted_spans = []
            if self.loop_watch is not None:
                self.loop_watch = LoopWatch(self.loop_watch.guard)
            return self._thinking_step()
        kept = kept[: budget - len(self.thinking_ids)]
        looped = self.loop_watch.feed(kept) if self.loop_watch is not None else None
        if looped is not None:
            kept = kept[:looped]
        self._record_control_inserts(result, kept)
        self.thinking_ids.extend(kept)
        used = len(self.thinking_ids)
        if looped is not None:
            self.loop_tokens_saved = budget - used
            return self._close(cap_fired=False, cap_text=True)
        self.continuing = False
        chunk_ended = self.loop_watch is not None and result.finish_reason == "length" and kept
        if chunk_ended and used < budget:  # a guarded chunk ended, not the budget: think on
            self.continuing = True
            return self._thinking_step()
        if result.finish_reason == "length" or used >= budget:
            return self._close_at_limit()
        if self.suppressions >= (forcing.thinking_n_ignore or 0):
            return self._close(cap_fired=False)
        if not kept and not self._ignore_text():
            # Nothing thought and nothing to insert: the next step would see the same prefix
            # and (greedy) stop the same way. min_tokens cannot prevent it when a stop string
            # ends inside the first token, so end thinking here; every loop adds a token.
            return self._close(cap_fired=False)
        return self._suppress(budget - used)

    def _record_control_inserts(self, result: StepResult, kept: list[int]) -> None:
        """A thinking control's own inserted strings (``result.inserted``), as far as kept."""
        offset = len(self.thinking_ids)
        for start, length in result.inserted:
            # ids the loop drops before the string move it left
            start = len(self._known(result.token_ids[:start]))
            length = min(length, len(kept) - start)
            if length > 0:
                self.inserted_spans.append((offset + start, length))
                self.inserted.append(self.plan.tokenizer.decode(kept[start : start + length]))

    def _ignore_text(self) -> str:
        strings = self.plan.settings.forcing.thinking_n_ignore_str
        return strings[self.suppressions % len(strings)] if strings else ""

    def _suppress(self, remaining: int) -> GenerationStep | None:
        text = self._ignore_text()
        whole = self.plan.tokenizer.encode(text) if text else []
        ids = whole[:remaining]
        self.suppressions += 1
        # the trace records what went in: a string the cap cut short, as cut
        self.inserted.append(text if len(ids) == len(whole) else self.plan.tokenizer.decode(ids))
        self.inserted_spans.append((len(self.thinking_ids), len(ids)))
        self.thinking_ids.extend(ids)
        if self.loop_watch is not None:
            self.loop_watch.feed(ids)  # it mirrors the thinking; a loop shows in the next step
        if len(ids) >= remaining:
            return self._close_at_limit()
        return self._thinking_step()

    def _close_at_limit(self) -> GenerationStep | None:
        """End thinking that used all it may: the cap fired only when the cap was the limit
        (not the context, not max_gen_toks); the cap's closing text follows the cap and the
        context clamp, and with ``unclosed_thinking=fork`` any length end, as in the s1 fork."""
        capped = self.plan.cap is not None and not self.context_clamped
        fork = self.plan.settings.unclosed_thinking == "fork"
        return self._close(cap_fired=capped, cap_text=capped or self.context_clamped or fork)

    def _close(self, cap_fired: bool, cap_text: bool | None = None) -> GenerationStep | None:
        """End thinking: with the cap's closing text when the cap (or the loop guard) ended it."""
        delimiters = self.plan.settings.forcing.delimiters
        self.phase = "answer"
        self.cap_fired = cap_fired
        if cap_fired if cap_text is None else cap_text:
            newline = "" if self.thinking_text.endswith("\n") else "\n"
            self.closing_text = (
                newline + delimiters.cap_message + delimiters.thinking_end + delimiters.cap_suffix
            )
        else:
            self.closing_text = delimiters.thinking_end
        closing_ids = tuple(self.plan.tokenizer.encode(self.closing_text))
        self.closing_ids = closing_ids
        budget = self._answer_budget()
        if budget < 1:
            self.answer = StepResult((), "", "length")
            return None
        settings = self.plan.settings
        return GenerationStep(
            prompt_token_ids=self.prefix + tuple(self.thinking_ids) + closing_ids,
            max_tokens=budget,
            sampling=self._seeded(settings.sampling),
            stop=settings.until,
            phase="answer",
            head_len=len(self.prefix),
        )

    def _engine_capped_step(self) -> GenerationStep:
        """``thinking_cap_by=engine``: the whole response as one request whose thinking the
        engine caps at the budget (it writes the end delimiter there itself)."""
        settings = self.plan.settings
        self.phase = "engine_capped"
        return GenerationStep(
            prompt_token_ids=self.prefix,
            max_tokens=self.thinking_budget + self._answer_budget(),
            sampling=self._seeded(settings.sampling),
            stop=settings.until,
            phase="thinking",
            head_len=len(self.prefix),
            thinking_token_budget=self.thinking_budget,
        )

    def _split_engine_capped(self, result: StepResult) -> None:
        """The engine's one response as our trace: thinking, the end delimiter (the model's or
        the engine's, which wrote it once the thinking reached the budget), the answer."""
        end_text = self.plan.settings.forcing.delimiters.thinking_end
        end_ids = tuple(self.plan.tokenizer.encode(end_text))
        ids = self._clean(result.token_ids, drop_stop=False)
        at = _find(ids, end_ids)
        cut = result.text.find(end_text)
        if at < 0 or cut < 0:  # never closed: all thinking, no room left to answer
            self.thinking_ids = list(self._clean(ids, drop_stop=True))
            self.finish_reasons.append(result.finish_reason)
            self.answer = StepResult(
                (), "", "length" if result.finish_reason == "length" else "stop"
            )
            return
        self.thinking_ids = list(ids[:at])
        self.cap_fired = len(self.thinking_ids) >= self.thinking_budget
        self.finish_reasons.append("length" if self.cap_fired else "stop")
        self.closing_ids, self.closing_text = end_ids, end_text
        self.answer_ids = self._clean(ids[at + len(end_ids) :], drop_stop=True)
        text = result.text[cut + len(end_text) :]
        self.answer = StepResult(self.answer_ids, text, result.finish_reason, result.stop_reason)

    def _answer_only(self) -> GenerationStep:
        """The whole response as one plain generation, as without forcing: the block is shut."""
        settings = self.plan.settings
        self.phase = "answer"
        return GenerationStep(
            prompt_token_ids=self.prompt_ids,
            max_tokens=settings.max_gen_toks,
            sampling=self._seeded(settings.sampling),
            stop=settings.until,
            phase="answer",
            head_len=len(self.prompt_ids),
        )

    def _answer_budget(self) -> int:
        settings = self.plan.settings
        if settings.forcing.max_tokens_answer is not None:
            return settings.forcing.max_tokens_answer
        if settings.unclosed_thinking == "fork":  # the fork asks max_gen_toks again
            return settings.max_gen_toks
        return settings.max_gen_toks - len(self.thinking_ids)

    @property
    def no_answer(self) -> bool:
        """The forced thinking used up max_gen_toks or the context, so the answer phase had
        no room: scored as no answer (``unclosed_thinking=fork`` grades whatever was written)."""
        if self.opened_by not in ("appended", "prompt") or self.error:
            return False
        if self.plan.settings.unclosed_thinking != "no_answer":
            return False
        return (
            self.answer is not None
            and self.answer.finish_reason == "length"
            and not self.answer_ids
        )

    def _seeded(self, sampling: Sampling) -> Sampling:
        """A distinct seed per request and per rejection try, derived from the user's seed.

        lm-eval hands ``repeats: n`` copies of a prompt over with one gen_kwargs: one shared
        seed would make the n samples identical.
        """
        if sampling.seed is None:
            return sampling
        tries = self.plan.settings.forcing.rejection_max_tries
        return replace(sampling, seed=sampling.seed + self.position * tries + self.tries - 1)

    # -- token bookkeeping ------------------------------------------------------------------
    def _known(self, token_ids: Sequence[int]) -> list[int]:
        """The ids the tokenizer knows (an engine can sample padded embedding rows)."""
        return [t for t in token_ids if 0 <= t < self.plan.tokenizer.vocab_size]

    def _clean(self, token_ids: Sequence[int], drop_stop: bool) -> tuple[int, ...]:
        """Drop ids the tokenizer does not know (the s1 fork crashed feeding them back)."""
        tokenizer = self.plan.tokenizer
        ids = self._known(token_ids)
        self.dropped += len(token_ids) - len(ids)
        stops = tokenizer.eos_token_ids | set(self.plan.thinking_stop_ids)
        if drop_stop and ids and ids[-1] in stops:
            ids.pop()
        return tuple(ids)

    def _kept_thinking_ids(self, result: StepResult) -> list[int]:
        """The thinking tokens to keep: everything before the stop, in token ids."""
        ids = list(self._clean(result.token_ids, drop_stop=result.finish_reason == "stop"))
        if not isinstance(result.stop_reason, str):
            return ids
        return ids_before_stop(self.plan.tokenizer, ids, result.text)

    # -- results ----------------------------------------------------------------------------
    @property
    def thinking_text(self) -> str:
        return self.plan.tokenizer.decode(self.thinking_ids)

    def output(self) -> ForcedText:
        assert self.answer is not None, "request has not finished"
        opening = (
            self.plan.settings.forcing.delimiters.thinking_start
            if self.opened_by == "appended"
            else ""
        )
        head = opening + self.thinking_text + self.closing_text
        forced = self.opened_by in ("appended", "prompt")
        trace = Trace(
            thinking_tokens=len(self.thinking_ids),
            answer_tokens=len(self.answer_ids),
            max_tokens_thinking=self.plan.cap if forced else None,
            suppressions=self.suppressions,
            inserted=tuple(self.inserted),
            cap_fired=self.cap_fired,
            context_clamped=self.context_clamped,
            no_answer=self.no_answer,
            thinking_limit=self.thinking_budget if forced else None,
            thinking_finish_reasons=tuple(self.finish_reasons),
            answer_finish_reason=self.answer.finish_reason,
            rejection_tries=self.tries if self.plan.settings.forcing.rejection_sample else 0,
            dropped_token_ids=self.dropped,
            thinking_opened_by=self.opened_by,
            answer_start=len(head),
            loop_stopped=self.loop_tokens_saved is not None,
            loop_tokens_saved=self.loop_tokens_saved or 0,
            error=self.error,
            tokens=self.token_trace().encode(),
        )
        return ForcedText(head + self.answer.text, trace)

    def token_trace(self) -> TokenTrace:
        return TokenTrace(
            tuple(self.thinking_ids),
            tuple(self.inserted_spans),
            self.closing_ids,
            tuple(self.answer_ids),
        )


def _find(ids: Sequence[int], part: Sequence[int]) -> int:
    """Where ``part`` first occurs in ``ids`` (-1: nowhere)."""
    n = len(part)
    return next((i for i in range(len(ids) - n + 1) if tuple(ids[i : i + n]) == tuple(part)), -1)


def force_generate(
    engine: Engine,
    prompts: Sequence[Sequence[int]],
    settings: GenerationSettings,
    on_done: Callable[[int, ForcedText], None] | None = None,
) -> list[ForcedText]:
    """Run budget forcing for every prompt; each request continues as soon as its step ends."""
    done = None if on_done is None else lambda _batch, i, text: on_done(i, text)
    return force_generate_many(engine, [(prompts, settings)], on_done=done)[0]


def force_generate_many(
    engine: Engine,
    batches: Sequence[tuple[Sequence[Sequence[int]], GenerationSettings]],
    on_done: Callable[[int, int, ForcedText], None] | None = None,
) -> list[list[ForcedText]]:
    """``force_generate`` for several (prompts, settings) batches in one engine pass.

    Each batch is planned on its own (its cap, its seeds by position), exactly as if it ran
    alone; ``on_done(batch, index, text)`` fires as each request finishes.
    """
    outputs: list[list[ForcedText | None]] = [[None] * len(p) for p, _ in batches]
    stream = forced_stream(engine, plan_batches(engine.tokenizer, batches))
    try:
        for batch, index, text in stream:
            outputs[batch][index] = text
            if on_done is not None:
                on_done(batch, index, text)
    finally:  # a failing on_done cancels the steps in flight now, not when garbage collected
        stream.close()
    return outputs  # type: ignore[return-value]


def plan_batches(
    tokenizer, batches: Sequence[tuple[Sequence[Sequence[int]], GenerationSettings]]
) -> list[PlannedBatch]:
    """Each (prompts, settings) batch with its plan: resolved once, before anything runs."""
    return [(prompts, plan_batch(tokenizer, prompts, settings)) for prompts, settings in batches]


def forced_stream(
    engine: Engine,
    planned: Sequence[PlannedBatch],
    positions: Sequence[Sequence[int]] | None = None,
) -> Iterator[tuple[int, int, ForcedText]]:
    """Yield ``(batch, index, text)`` as each request of the planned batches finishes.

    ``positions[b][i]`` is request ``i``'s place in the whole batch ``b`` when ``planned``
    holds only a share of it (its seeds follow that place; its plan is the whole batch's,
    ``BatchPlan.share``).
    """
    if any(plan.settings.forcing.control for _, plan in planned):
        engine = ControlledSteps(engine)  # prefill, AlphaOne: thinking steps of their own
    requests = {
        (b, i): ForcedRequest(prompt, plan, i, positions[b][i] if positions else None)
        for b, (prompts, plan) in enumerate(planned)
        for i, prompt in enumerate(prompts)
    }
    try:
        pending = len(requests)
        for key, request in requests.items():
            step = request.start()
            if step is None:  # nothing fits: finished before any step
                pending -= 1
                yield (*key, request.output())
            else:
                engine.submit(key, step)
        while pending:
            for key, result in engine.collect():
                request = requests[key]
                step = request.advance(result)
                if step is not None:
                    engine.submit(key, step)
                    continue
                pending -= 1
                batch, index = key
                yield batch, index, request.output()
    except BaseException:
        # an interrupted pass (or a consumer that stopped early) must not leave steps in an
        # engine that is used again
        engine.cancel()
        raise
