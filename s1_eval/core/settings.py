"""Budget-forcing settings: frozen dataclasses parsed and validated from lm-eval gen_kwargs.

    settings = parse_gen_kwargs({"max_tokens_thinking": 1000, "thinking_n_ignore": 2,
                                 "thinking_n_ignore_str": "Wait"}, preset="s1")

Every s1-fork gen_kwarg is accepted under its own name, so published s1 commands run unchanged.
Each invalid value raises one ``InputError`` (a ``ValueError``) naming the key and what is accepted, before any
generation starts. The result is engine-agnostic; engines translate ``Sampling`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from s1_eval.common.errors import InputError
from s1_eval.common.log import did_you_mean
from s1_eval.common.values import as_bool, as_float, as_int, as_strings, unescape
from s1_eval.core.loop_guard import LoopGuard, parse_loop_guard
from s1_eval.core.s1_format import PRESETS, Delimiters, PresetName
from s1_eval.core.thinking_control import GEN_KWARGS as CONTROL_GEN_KWARGS
from s1_eval.core.thinking_control import ThinkingControl, parse_control

__all__ = [
    "PRESETS",
    "Delimiters",
    "PresetName",
]  # re-exported: the s1 text format lives in s1_format

AUTO = "auto"
#: words for "no thinking cap" wherever a budget is read
NO_CAP_WORDS = frozenset({"none", "null", "off"})
#: tokens the s1 fork's ``auto`` budget leaves for the answer
AUTO_ANSWER_ROOM = 100
#: tokens of context kept free for the answer when the thinking budget has to shrink to fit:
#: the room the s1 fork's ``auto`` budget leaves (so ``auto`` with max_gen_toks equal to the
#: context is never clamped)
DEFAULT_ANSWER_ROOM = AUTO_ANSWER_ROOM
#: thinking that ran out of max_gen_toks (or the context): "no_answer" scores it as no answer;
#: "fork" does what the s1 fork did: close it with the cap's text, give the answer phase a fresh
#: max_gen_toks and grade whatever text comes out
UNCLOSED_THINKING = ("no_answer", "fork")


@dataclass(frozen=True)
class Sampling:
    """Engine-agnostic sampling settings for one phase (translated per engine)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    seed: int | None = None
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class BudgetForcingConfig:
    """The forcing knobs, named as in the s1 fork."""

    delimiters: Delimiters = PRESETS["s1"]
    max_tokens_thinking: int | Literal["auto"] | None = None
    min_tokens_thinking: int = 0
    #: None = not given. Given (even 0), every thinking step must produce a token before it may
    #: stop (the fork's ``min_tokens=1``), so a suppression always moves the thinking forward.
    thinking_n_ignore: int | None = None
    #: strings appended at each suppression, used in turn; () appends nothing (the fork's default)
    thinking_n_ignore_str: tuple[str, ...] = ()
    rejection_sample: bool = False
    rejection_max_tries: int = 16
    #: cap on the answer phase; None = whatever max_gen_toks leaves after thinking
    max_tokens_answer: int | None = None
    #: end thinking once it repeats itself (``thinking_loop_guard=n:r``); None = off
    loop_guard: LoopGuard | None = None
    #: NoThinking's prefill, NoWait's banned words, AlphaOne (``core.thinking_control``)
    control: ThinkingControl | None = None

    def resolve_cap(self, max_gen_toks: int, longest_prompt: int, count_tokens) -> int | None:
        """The thinking cap in tokens; ``auto`` follows the s1 fork's formula."""
        if self.max_tokens_thinking != AUTO:
            return self.max_tokens_thinking
        d = self.delimiters
        cap = (
            max_gen_toks
            - longest_prompt
            - count_tokens(d.thinking_start)
            - count_tokens(d.thinking_end + d.cap_suffix)
            - AUTO_ANSWER_ROOM
        )
        if cap < 1:
            raise InputError(
                f"max_tokens_thinking=auto leaves no thinking budget ({cap} tokens): it is "
                f"max_gen_toks ({max_gen_toks}) minus the longest prompt ({longest_prompt}) minus "
                f"the delimiters minus {AUTO_ANSWER_ROOM}. Raise max_gen_toks or give "
                "max_tokens_thinking=N."
            )
        return cap


@dataclass(frozen=True)
class ContextLimit:
    """The engine's context and the share of it kept for the answer (``answer_room_tokens``):
    a request whose prompt + thinking budget + answer room does not fit thinks less."""

    max_model_len: int
    answer_room: int = DEFAULT_ANSWER_ROOM


@dataclass(frozen=True)
class GenerationSettings:
    """Everything one batch of requests needs: forcing, per-phase sampling, answer stops."""

    forcing: BudgetForcingConfig = field(default_factory=BudgetForcingConfig)
    sampling: Sampling = field(default_factory=Sampling)
    thinking_sampling: Sampling = field(default_factory=Sampling)
    until: tuple[str, ...] = ()
    max_gen_toks: int = 32768
    #: False: no forcing gen_kwarg was given, so (as in the s1 fork) each request is one plain
    #: generation with no thinking phase of ours (``forcing_requested``)
    force_thinking: bool = True
    #: set by the backends from the engine's context; None: no clamp (the engine's own limit)
    context: ContextLimit | None = None
    #: one of UNCLOSED_THINKING
    unclosed_thinking: str = "no_answer"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for results files."""
        f = self.forcing
        return {
            "max_tokens_thinking": f.max_tokens_thinking,
            "min_tokens_thinking": f.min_tokens_thinking,
            "thinking_n_ignore": f.thinking_n_ignore or 0,
            "thinking_n_ignore_str": list(f.thinking_n_ignore_str),
            "thinking_start": f.delimiters.thinking_start,
            "thinking_end": f.delimiters.thinking_end,
            "until_thinking": list(f.delimiters.until_thinking),
            "cap_message": f.delimiters.cap_message,
            "cap_suffix": f.delimiters.cap_suffix,
            "rejection_sample": f.rejection_sample,
            "max_tokens_answer": f.max_tokens_answer,
            "thinking_loop_guard": str(f.loop_guard) if f.loop_guard else None,
            "max_gen_toks": self.max_gen_toks,
            "sampling": self.sampling.__dict__,
            "thinking_sampling": self.thinking_sampling.__dict__,
            "force_thinking": self.force_thinking,
            "answer_room_tokens": self.context.answer_room if self.context else None,
            "unclosed_thinking": self.unclosed_thinking,
            # only when set, so the records of plain forcing stay as they were
            **({"thinking_control": f.control.describe()} if f.control else {}),
        }


#: Every gen_kwarg the s1 backends accept, with what it does: the tables that validation
#: (``ACCEPTED_KEYS``) and the generated gen_kwargs reference page both read (the other
#: thinking controls' keys are ``s1_eval.core.thinking_control.GEN_KWARGS``).
FORCING_GEN_KWARGS: dict[str, str] = {
    "max_tokens_thinking": "Thinking cap in tokens. `auto` = max_gen_toks − longest prompt − "
    "delimiters − 100 (the s1 fork's rule); `none` = no cap, but a thinking phase is still forced "
    "(the words `s1-eval sweep --budgets` takes). Default: no cap.",
    "min_tokens_thinking": "Minimum thinking tokens, through the engine's min_tokens (needs "
    "single-token stops). Default 0.",
    "thinking_n_ignore": "How many times an early end of thinking is suppressed. Default 0.",
    "thinking_n_ignore_str": "Appended at each suppression (default: nothing, as in the fork); "
    "`Wait|Hmm` uses several in turn.",
    "thinking_start": "Opening delimiter (default from the preset); `\\n` escapes work.",
    "thinking_end": "Closing delimiter (default from the preset); it also ends thinking unless "
    "until_thinking is given.",
    "until_thinking": "Stop string that ends thinking (plus EOS); default from the preset.",
    "until_thinking_2": "A second stop string that ends thinking.",
    "rejection_sample": "Resample until the thinking fits under the cap (needs "
    "max_tokens_thinking and temperature > 0). Default false.",
    "rejection_max_tries": "Most draws per request under rejection_sample. Default 16.",
    "thinking_cap_message": "Text written before the end delimiter when the cap fires. "
    'Default `""`.',
    "thinking_cap_suffix": "Text written after the end delimiter when the cap fires. "
    'Default `"\\nFinal Answer:"`.',
    "max_tokens_answer": "Cap on the answer phase. Default: what max_gen_toks leaves after the "
    "thinking.",
    "thinking_loop_guard": "`n:r`, off by default: end thinking once some run of n thinking "
    "tokens has appeared r times.",
}
#: one per ``Sampling`` field, plus lm-eval's do_sample; each also comes as ``<key>_thinking``
SAMPLING_GEN_KWARGS: dict[str, str] = {
    "temperature": "Sampling temperature; 0 = greedy (the default).",
    "top_p": "Nucleus sampling mass, in (0, 1]. Default 1.",
    "top_k": "Top-k sampling; -1 or 0 = off (the default).",
    "min_p": "Min-p sampling, in [0, 1]. Default 0.",
    "seed": "The request's sampling seed (each forcing step derives its own from it). "
    "Default: none.",
    "repetition_penalty": "Greater than 0; 1 = off (the default).",
    "presence_penalty": "In [-2, 2]. Default 0.",
    "frequency_penalty": "In [-2, 2]. Default 0.",
    "do_sample": "lm-eval's switch: false = greedy (temperature 0); true without a temperature "
    "= temperature 1.",
}
LM_EVAL_GEN_KWARGS: dict[str, str] = {
    "until": "Stop strings of the answer phase (the task's).",
    "max_gen_toks": "Generation budget, thinking and answer together. Default: the model_arg "
    "max_gen_toks (32768).",
    # lm-eval's vllm backend accepts max_tokens for max_gen_toks; so do we
    "max_tokens": "lm-eval vllm's other name for max_gen_toks.",
}
#: the suffix that applies a sampling gen_kwarg to the thinking phase only
THINKING_SUFFIX = "_thinking"
_FORCING_KEYS = frozenset(FORCING_GEN_KWARGS) | frozenset(CONTROL_GEN_KWARGS)
ACCEPTED_KEYS = frozenset(
    SAMPLING_GEN_KWARGS.keys()
    | {k + THINKING_SUFFIX for k in SAMPLING_GEN_KWARGS}
    | _FORCING_KEYS
    | LM_EVAL_GEN_KWARGS.keys()
)


def forcing_requested(gen_kwargs: dict[str, Any]) -> bool:
    """The s1 fork's rule for whether a request gets a thinking phase: only when a gen_kwarg
    asks for one (any key with "thinking" in it, or rejection_sample; here also s1-eval's own
    forcing keys). Without one the fork, like lm-eval's vllm, generates plainly."""
    return any("thinking" in key or key in _FORCING_KEYS for key in gen_kwargs)


def _unknown_key_error(key: str) -> InputError:
    hint = did_you_mean(key, ACCEPTED_KEYS)
    return InputError(
        f"Unknown gen_kwarg {key!r}.{hint} Accepted: {', '.join(sorted(ACCEPTED_KEYS))}."
    )


def parse_budget(value: str | int | None, key: str = "budget") -> int | str | None:
    """A thinking budget as a user gives it (gen_kwarg, sweep grid, file): '512' -> 512,
    'none' -> None (no cap), 'auto' -> 'auto'.

    Anything else raises InputError("<key>=<value> is invalid: expected ...")."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # lm-eval reads "-5" in --gen_kwargs as -5.0
    problem = InputError(
        f"{key}={value!r} is invalid: expected a positive integer, 'auto' or 'none'."
    )
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise problem
    text = str(value).strip().lower()
    if text in NO_CAP_WORDS:
        return None
    if text == AUTO:
        return AUTO
    try:
        budget = int(text)
    except ValueError:
        raise problem from None
    if budget <= 0:
        raise problem
    return budget


def _parse_sampling(values: dict[str, Any], suffix: str, base: Sampling) -> Sampling:
    updates: dict[str, Any] = {}
    for name in ("temperature", "top_p", "top_k", "min_p", "seed"):
        key = name + suffix
        if key not in values:
            continue
        value = values[key]
        if name == "temperature":
            updates[name] = as_float(key, value, 0.0)
        elif name == "top_p":
            updates[name] = as_float(key, value, 1e-9, 1.0)
        elif name == "min_p":
            updates[name] = as_float(key, value, 0.0, 1.0)
        elif name == "top_k":
            top_k = as_int(key, value, -1)
            updates[name] = -1 if top_k == 0 else top_k
        else:
            updates[name] = None if value is None else as_int(key, value, 0)
    for name in ("repetition_penalty",):
        if name + suffix in values:
            updates[name] = as_float(name + suffix, values[name + suffix], 1e-9)
    for name in ("presence_penalty", "frequency_penalty"):
        if name + suffix in values:
            updates[name] = as_float(name + suffix, values[name + suffix], -2.0, 2.0)
    do_sample_key = "do_sample" + suffix
    if do_sample_key in values:
        do_sample = as_bool(do_sample_key, values[do_sample_key])
        if not do_sample:
            updates["temperature"] = 0.0  # lm-eval convention: do_sample=false means greedy
        elif "temperature" not in updates and base.temperature == 0.0:
            updates["temperature"] = 1.0
    return replace(base, **updates)


def _delimiters(values: dict[str, Any], preset: PresetName | Delimiters) -> Delimiters:
    if isinstance(preset, Delimiters):
        base = preset
    elif preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise InputError(f"preset={preset!r} is invalid: expected one of {sorted(PRESETS)}.")
    updates: dict[str, Any] = {}
    for key, attr in (
        ("thinking_start", "thinking_start"),
        ("thinking_end", "thinking_end"),
        ("thinking_cap_message", "cap_message"),
        ("thinking_cap_suffix", "cap_suffix"),
    ):
        if key in values:
            text = values[key]
            if not isinstance(text, str):
                raise InputError(f"{key}={text!r} is invalid: expected a string.")
            updates[attr] = unescape(text)
    until: list[str] = []
    for key in ("until_thinking", "until_thinking_2"):
        stops = as_strings(key, values.get(key), split=False)
        if not all(stops):  # named by the key that holds it
            raise InputError(f"{key} contains an empty string: give a non-empty stop.")
        until += stops
    if until:
        updates["until_thinking"] = tuple(until)
    elif "thinking_end" in updates and "until_thinking" not in values:
        # a custom end delimiter also ends thinking unless the user says otherwise
        updates["until_thinking"] = (*base.until_thinking, updates["thinking_end"])
    result = replace(base, **updates)
    if not result.thinking_end:
        raise InputError("thinking_end='' is invalid: the closing delimiter cannot be empty.")
    if any(not s for s in result.until_thinking):
        raise InputError("until_thinking contains an empty string: give a non-empty stop.")
    return result


def parse_gen_kwargs(
    gen_kwargs: dict[str, Any] | None,
    *,
    preset: PresetName | Delimiters = "s1",
    default_max_gen_toks: int = 32768,
) -> GenerationSettings:
    """Validate lm-eval gen_kwargs and build the settings; raises InputError naming the key."""
    values = dict(gen_kwargs or {})
    for key in values:
        if key not in ACCEPTED_KEYS:
            raise _unknown_key_error(key)

    # named as the user gave it: max_tokens is lm-eval vllm's spelling of max_gen_toks
    size_key = next((k for k in ("max_gen_toks", "max_tokens") if k in values), "max_gen_toks")
    max_gen_toks = as_int(size_key, values.get(size_key, default_max_gen_toks), 1)
    until = as_strings("until", values.get("until"), split=False)

    sampling = _parse_sampling(values, "", Sampling())
    thinking_sampling = _parse_sampling(values, THINKING_SUFFIX, sampling)

    delimiters = _delimiters(values, preset)
    cap = parse_budget(values.get("max_tokens_thinking"), "max_tokens_thinking")
    min_tokens = as_int("min_tokens_thinking", values.get("min_tokens_thinking", 0), 0)
    if isinstance(cap, int) and min_tokens > cap:
        raise InputError(
            f"min_tokens_thinking={min_tokens} is larger than max_tokens_thinking={cap}: "
            "give a minimum at or below the cap."
        )
    n_ignore = values.get("thinking_n_ignore")
    if n_ignore is not None:
        n_ignore = as_int("thinking_n_ignore", n_ignore, 0)
    ignore_strs = as_strings(
        "thinking_n_ignore_str", values.get("thinking_n_ignore_str"), split=True
    )
    rejection = as_bool("rejection_sample", values.get("rejection_sample", False))
    tries = as_int("rejection_max_tries", values.get("rejection_max_tries", 16), 1)
    if rejection:
        if cap is None:
            raise InputError(
                "rejection_sample=true needs max_tokens_thinking (the cap each sample must fit "
                "under): add max_tokens_thinking=N."
            )
        if thinking_sampling.greedy:
            raise InputError(
                "rejection_sample=true needs temperature > 0 (greedy decoding would resample "
                "the same thinking): add temperature=1 (or temperature_thinking=...)."
            )
    answer_cap = values.get("max_tokens_answer")
    if answer_cap is not None:
        answer_cap = as_int("max_tokens_answer", answer_cap, 1)

    forcing = BudgetForcingConfig(
        delimiters=delimiters,
        max_tokens_thinking=cap,
        min_tokens_thinking=min_tokens,
        thinking_n_ignore=n_ignore,
        thinking_n_ignore_str=ignore_strs,
        rejection_sample=rejection,
        rejection_max_tries=tries,
        max_tokens_answer=answer_cap,
        loop_guard=parse_loop_guard(values.get("thinking_loop_guard")),
        control=parse_control(values, delimiters, cap),
    )
    _check_engine_cap(forcing)
    return GenerationSettings(
        forcing=forcing,
        sampling=sampling,
        thinking_sampling=thinking_sampling,
        until=until,
        max_gen_toks=max_gen_toks,
    )


def _check_engine_cap(forcing: BudgetForcingConfig) -> None:
    """The engine's cap is one plain request: nothing of our loop's can run inside it."""
    if forcing.control is None or not forcing.control.engine_cap:
        return
    ours = {
        "thinking_n_ignore": forcing.thinking_n_ignore,
        "min_tokens_thinking": forcing.min_tokens_thinking,
        "rejection_sample": forcing.rejection_sample,
        "thinking_loop_guard": forcing.loop_guard,
        "thinking_bad_words": forcing.control.bad_words,
    }
    for key, value in ours.items():
        if value:
            raise ValueError(
                f"{key} cannot run with thinking_cap_by=engine: the engine caps the thinking in "
                f"one request our loop does not step through; drop {key} or thinking_cap_by."
            )
