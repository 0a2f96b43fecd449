"""Decode-time thinking controls beyond budget forcing, read from gen_kwargs and checked at once.

    control = parse_control({"thinking_alpha": 0.5, "max_tokens_thinking": 64}, PRESETS["s1"])

Each is a published method (``s1_eval.core.controlled`` runs them; ``s1_eval.sweep.methods``
makes them sweep methods):

- ``thinking_prefill`` -- NoThinking ("Reasoning Models Can Be Effective Without Thinking",
  arXiv 2504.09858): the thinking is not generated; this text is written as the thinking
  (the paper's ``NOTHINKING_TEXT``) and the block is closed, so the model answers at once;
- ``thinking_bad_words`` -- NoWait ("Wait, We Don't Need to 'Wait'!", arXiv 2506.08343): words
  no thinking step may write (``NOWAIT_KEYWORDS``, each in its lower, Capitalised and UPPER
  spelling; the engine bans each spelling's tokens with and without a leading space);
- ``thinking_alpha`` -- AlphaOne ("Reasoning Models Thinking Slow and Fast at Test Time",
  arXiv 2505.24863): before the alpha moment (alpha x the thinking cap) "Wait" is inserted after
  each paragraph break (``thinking_alpha_break``) with a probability that falls linearly from
  ``thinking_alpha_p`` to 0 at the moment (the paper's linear anneal; seeded by
  ``thinking_alpha_seed`` and the request); after it, the next "Wait" the model writes ends
  the thinking (replaced by the end delimiter). ``thinking_alpha_wait`` names another
  transition word (a model may write "wait" or "Hmm").
- ``thinking_cap_by=engine`` -- the engine's own thinking budget (vLLM's per-request
  ``thinking_token_budget``) instead of our loop: one request per problem; at the cap the engine
  writes the end delimiter itself and the model answers in the same request. Needs the engine
  to know the delimiters (``s1_vllm``'s model_arg ``engine_thinking_budget=True``); nothing is
  suppressed or inserted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from s1_eval.common.values import as_float, as_int, as_strings, unescape
from s1_eval.core.s1_format import Delimiters

#: NoThinking's prefilled thinking (arXiv 2504.09858, its Section 3), then the end delimiter
NOTHINKING_TEXT = "Okay, I think I have finished thinking.\n"
#: NoWait's reflection keywords, as the paper lists them (arXiv 2506.08343, Section 3)
NOWAIT_KEYWORDS = ("wait", "alternatively", "hmm", "but", "however", "alternative", "another",
                   "check", "double-check", "oh", "maybe", "verify", "other", "again", "now",
                   "ah", "any")  # fmt: skip
#: what AlphaOne inserts before its moment and watches for after it
ALPHA_WAIT = "Wait"
#: AlphaOne's paragraph break (R1-style thinking separates steps by a blank line)
ALPHA_BREAK = "\n\n"
#: the insertion probability at the start of thinking, annealed linearly to 0 at the moment
ALPHA_P = 0.4

#: the gen_kwargs of these controls, with what each does (the gen_kwargs reference lists them)
GEN_KWARGS: dict[str, str] = {
    "thinking_prefill": "NoThinking (arXiv 2504.09858): this text is written as the thinking "
    "and the block is closed, so the model answers at once.",
    "thinking_bad_words": "NoWait (arXiv 2506.08343): words no thinking step may write, each "
    "in its lower, Capitalised and UPPER spelling.",
    "thinking_alpha": "AlphaOne (arXiv 2505.24863): the alpha moment is alpha × the thinking "
    'cap (needs max_tokens_thinking); before it "Wait" is inserted at paragraph breaks, after '
    'it the next "Wait" ends the thinking.',
    "thinking_alpha_break": f"AlphaOne's paragraph break (default {ALPHA_BREAK!r}).",
    "thinking_alpha_p": f"AlphaOne's insertion probability at the start of thinking, annealed "
    f"linearly to 0 at the moment (default {ALPHA_P}).",
    "thinking_alpha_seed": "Seed of AlphaOne's insertions, with the request's (default 0).",
    "thinking_alpha_wait": f"AlphaOne's transition word (default {ALPHA_WAIT!r}).",
    "thinking_cap_by": "`ours` (the default: our loop caps the thinking) or `engine` (vLLM's "
    "own per-request thinking_token_budget caps it; needs s1_vllm with model_arg "
    "engine_thinking_budget=True).",
}
CAP_BY = ("ours", "engine")
KEYS = tuple(GEN_KWARGS)


@dataclass(frozen=True)
class ThinkingControl:
    """What a request's thinking steps do besides budget forcing (see the module)."""

    prefill: str | None = None
    bad_words: tuple[str, ...] = ()
    alpha: float | None = None
    alpha_break: str = ALPHA_BREAK
    alpha_p: float = ALPHA_P
    alpha_seed: int = 0
    alpha_wait: str = ALPHA_WAIT
    #: the engine caps the thinking (``thinking_cap_by=engine``): one request, no steps of ours
    engine_cap: bool = False

    @property
    def runs_steps(self) -> bool:
        """Whether ``core.controlled`` runs the thinking (prefill, alpha), not the engine alone."""
        return self.prefill is not None or self.alpha is not None

    def only_bans(self) -> ThinkingControl | None:
        """The part an engine applies itself (the banned words), for the steps run inside."""
        return ThinkingControl(bad_words=self.bad_words) if self.bad_words else None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.prefill is not None:
            out["prefill"] = self.prefill
        if self.bad_words:
            out["bad_words"] = list(self.bad_words)
        if self.alpha is not None:
            out |= {"alpha": self.alpha, "alpha_break": self.alpha_break,
                    "alpha_p": self.alpha_p, "alpha_seed": self.alpha_seed,
                    "alpha_wait": self.alpha_wait}  # fmt: skip
        if self.engine_cap:
            out["cap_by"] = "engine"
        return out


def spellings(words: tuple[str, ...]) -> tuple[str, ...]:
    """Each word as lower, Capitalised and UPPER (NoWait's variants; engines add a leading space)."""
    out: dict[str, None] = {}
    for word in words:
        for spelled in (word, word.lower(), word[:1].upper() + word[1:], word.upper()):
            out[spelled] = None
    return tuple(out)


def parse_control(
    values: Mapping[str, Any], delimiters: Delimiters, cap: int | str | None
) -> ThinkingControl | None:
    """The controls these gen_kwargs ask for (None: none); one ValueError naming the key."""
    if not any(values.get(k) is not None for k in KEYS):
        return None
    prefill = values.get("thinking_prefill")
    if prefill is not None:
        if not isinstance(prefill, str):
            raise ValueError(f"thinking_prefill={prefill!r} is invalid: expected a string.")
        # the s1 layout puts the thinking on its own line: "<|im_start|>think\n{thinking}"
        opening = "" if delimiters.thinking_start.endswith("\n") else "\n"
        prefill = opening + unescape(prefill)
    words = as_strings("thinking_bad_words", values.get("thinking_bad_words"), split=True)
    if any(not w.strip() for w in words):
        raise ValueError("thinking_bad_words contains an empty word: give words to ban.")
    bad_words = spellings(tuple(w.strip() for w in words))
    _check_bans(bad_words, delimiters)
    alpha = values.get("thinking_alpha")
    if alpha is not None:
        alpha = as_float("thinking_alpha", alpha, -math.inf)
        if alpha <= 0:
            raise ValueError(
                f"thinking_alpha={alpha} is invalid: the alpha moment is alpha x the budget, "
                "so alpha must be > 0 (the paper uses 0.8 to 1.4)."
            )
        if cap is None:
            raise ValueError(
                "thinking_alpha needs max_tokens_thinking: the alpha moment is alpha x the "
                "thinking budget; add max_tokens_thinking=N."
            )
        if prefill is not None:
            raise ValueError(
                "thinking_alpha and thinking_prefill exclude each other: a prefilled thinking "
                "is not generated; drop one."
            )
    engine_cap = _engine_cap(values.get("thinking_cap_by"), cap, prefill, alpha)
    control = ThinkingControl(
        prefill=prefill,
        bad_words=bad_words,
        alpha=alpha,
        alpha_break=_text("thinking_alpha_break", values, ALPHA_BREAK),
        alpha_p=as_float("thinking_alpha_p", values.get("thinking_alpha_p", ALPHA_P), 0.0, 1.0),
        alpha_seed=as_int("thinking_alpha_seed", values.get("thinking_alpha_seed", 0), 0),
        alpha_wait=_text("thinking_alpha_wait", values, ALPHA_WAIT),
        engine_cap=engine_cap,
    )
    return control if (control.runs_steps or control.bad_words or engine_cap) else None


def _engine_cap(value: Any, cap: int | str | None, prefill: Any, alpha: Any) -> bool:
    """``thinking_cap_by``: whether the engine caps the thinking; one line on why not."""
    if value is None or value == "ours":
        return False
    if value != "engine":
        raise ValueError(f"thinking_cap_by={value!r} is invalid: expected one of {CAP_BY}.")
    if not isinstance(cap, int):
        raise ValueError(
            "thinking_cap_by=engine needs max_tokens_thinking=N: the engine's budget is a number."
        )
    if prefill is not None or alpha is not None:
        raise ValueError(
            "thinking_cap_by=engine runs one plain request: drop thinking_prefill / thinking_alpha."
        )
    return True


def _text(key: str, values: Mapping[str, Any], default: str) -> str:
    value = values.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not unescape(value):
        raise ValueError(f"{key}={value!r} is invalid: expected a non-empty string.")
    return unescape(value)


def _check_bans(words: tuple[str, ...], delimiters: Delimiters) -> None:
    """A banned word inside the end delimiter (or a thinking stop) would keep thinking from
    ever ending on its own."""
    ends = (delimiters.thinking_end, *delimiters.until_thinking)
    for word in words:
        hit = next((end for end in ends if word in end), None)
        if hit is not None:
            raise ValueError(
                f"thinking_bad_words: {word!r} would ban the end of thinking {hit!r}; "
                "drop it from the banned words."
            )
