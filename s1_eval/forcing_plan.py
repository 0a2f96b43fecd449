"""What one batch of forcing requests shares, resolved and checked before anything is generated.

    plan = plan_batch(tokenizer, prompt_token_ids, settings)   # plan.cap: "auto" made a number

The thinking cap (``auto`` needs the longest prompt), the thinking stops split into strings and
single-token ids, the opening delimiter's ids, and whether each prompt's chat template already
opened or closed the thinking block; a setting no engine can honour raises here, not halfway
through a pass. ``s1_eval.forcing`` runs the requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from s1_eval.budget import GenerationSettings
from s1_eval.messages import InputError, logger
from s1_eval.s1_format import PRESETS, Delimiters, template_thinking
from s1_eval.steps import Tokenizer

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
    return BatchPlan(settings, cap, start_ids, strings, ids, tokenizer, templates)


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
