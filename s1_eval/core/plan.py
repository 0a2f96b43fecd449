"""What one batch of forcing requests shares, resolved and checked before anything is generated.

    plan = plan_batch(tokenizer, prompt_token_ids, settings)   # plan.cap: "auto" made a number

The thinking cap (``auto`` needs the longest prompt), the thinking stops split into strings and
single-token ids, the opening delimiter's ids, whether each prompt's chat template already
opened or closed the thinking block, and how much thinking each prompt's context can hold; a setting no engine can honour raises here, not halfway
through a pass. ``s1_eval.core.forcing`` runs the requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from s1_eval.common.errors import InputError
from s1_eval.common.log import logger
from s1_eval.core.s1_format import PRESETS, Delimiters, template_thinking
from s1_eval.core.settings import GenerationSettings
from s1_eval.core.steps import Tokenizer

#: prompt tokens decoded to see how the chat template left thinking (a closed block is short)
TAIL_TOKENS = 64
#: said once per process: a closed block turns forcing off for every request that has one
_closed_warned = False


@dataclass(frozen=True)
class BatchPlan:
    """Per-batch constants shared by every request."""

    settings: GenerationSettings
    cap: int | None
    start_ids: tuple[int, ...]
    thinking_stop_strings: tuple[str, ...]
    thinking_stop_ids: tuple[int, ...]
    tokenizer: Tokenizer
    #: per prompt: "opened" / "closed" when its chat template did so, else ""
    templates: tuple[str, ...] = ()
    #: tokens of the text that closes thinking at the cap (without the newline it may add)
    closing_tokens: int = 0

    @property
    def budget(self) -> int:
        """The thinking tokens a request may use before the context is considered."""
        return self.cap if self.cap is not None else self.settings.max_gen_toks

    def thinking_limit(self, head: int) -> tuple[int, bool]:
        """(thinking tokens a request whose thinking starts after ``head`` tokens may use,
        whether the context lowered that below the budget). The context must still hold the
        closing text and ``answer_room_tokens`` after the thinking. Only a cap is clamped:
        uncapped thinking may run into max_gen_toks or the context, and is then unanswered."""
        context = self.settings.context
        if context is None or self.cap is None:
            return self.budget, False
        room = context.max_model_len - head - self.closing_tokens - context.answer_room
        return (room, True) if room < self.budget else (self.budget, False)

    def share(self, places: Sequence[int]) -> BatchPlan:
        """The plan of the requests at ``places`` of this batch (a data-parallel replica's
        share): the whole batch's cap and stops, and those requests' template states."""
        templates = tuple(self.templates[i] for i in places) if self.templates else ()
        return replace(self, templates=templates)

    def head(self, index: int, prompt_len: int) -> int:
        """Tokens before request ``index``'s thinking: its prompt, and our opening delimiter
        unless its template opened the block."""
        template = self.templates[index] if index < len(self.templates) else ""
        return prompt_len + (0 if template == "opened" else len(self.start_ids))


def _split_stops(
    tokenizer: Tokenizer, stops: Sequence[str]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Every stop stays a stop string; single-token stops also become stop token ids.

    Token ids let the engine hold a stop back for ``min_tokens``; the string still catches the
    same text when the model spells it with other tokens.
    """
    ids = []
    for stop in stops:
        encoded = tokenizer.encode(stop)
        if len(encoded) == 1:
            ids.append(encoded[0])
    return tuple(stops), tuple(ids)


def plan_batch(
    tokenizer: Tokenizer, prompts: Sequence[Sequence[int]], settings: GenerationSettings
) -> BatchPlan:
    """Resolve per-batch values; raises ValueError before anything is generated."""
    forcing = settings.forcing
    strings, ids = _split_stops(tokenizer, forcing.delimiters.until_thinking)
    multi_token = [s for s in strings if len(tokenizer.encode(s)) > 1]
    if forcing.min_tokens_thinking and multi_token:
        raise InputError(
            f"min_tokens_thinking={forcing.min_tokens_thinking} needs single-token thinking "
            f"stops, but until_thinking {multi_token} is several tokens long: engines only "
            "hold back stop tokens and EOS. Use a single-token until_thinking or drop "
            "min_tokens_thinking (the paper prefers thinking_n_ignore)."
        )

    def count(text: str) -> int:
        return len(tokenizer.encode(text))

    longest = max((len(p) for p in prompts), default=0)
    cap = forcing.resolve_cap(settings.max_gen_toks, longest, count)
    start_ids = tuple(tokenizer.encode(forcing.delimiters.thinking_start))
    templates: tuple[str, ...] = ()
    if settings.force_thinking:  # a plain generation leaves the template's block as it is
        templates = tuple(_template_state(tokenizer, p, forcing.delimiters) for p in prompts)
    if "closed" in templates:
        _warn_closed()
    d = forcing.delimiters
    # the newline the cap may put before its text comes out of the answer room, as in the
    # auto formula: at max_gen_toks == max_model_len, auto is never clamped
    closing = count(d.cap_message + d.thinking_end + d.cap_suffix)
    return BatchPlan(settings, cap, start_ids, strings, ids, tokenizer, templates, closing)


def _template_state(tokenizer: Tokenizer, prompt: Sequence[int], delimiters: Delimiters) -> str:
    """How the chat template left thinking: "opened", "closed" or "". A block opened in another
    preset's tags is refused: forcing would write a second, different opening tag after it."""
    state, found = template_thinking(tokenizer.decode(list(prompt[-TAIL_TOKENS:])), delimiters)
    opened_here = (
        found is not None and found.thinking_start.strip() == delimiters.thinking_start.strip()
    )
    if state == "opened" and not opened_here:
        name = next(n for n, d in PRESETS.items() if d == found)
        raise InputError(
            f"The chat template opens thinking with {found.thinking_start.strip()!r} but the "
            f"thinking delimiters are {delimiters.thinking_start!r} ... "
            f"{delimiters.thinking_end!r}: use preset={name} (or thinking_start/thinking_end "
            "that match the template)."
        )
    return state


def _warn_closed() -> None:
    global _closed_warned
    if not _closed_warned:
        _closed_warned = True
        logger.warning(
            "s1-eval: the chat template closed the thinking block (e.g. enable_thinking=False): "
            "no thinking phase is forced for those prompts, the thinking budget and ignore "
            "gen_kwargs do nothing there, and the response is scored as an answer."
        )
