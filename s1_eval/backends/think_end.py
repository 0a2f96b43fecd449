"""``think_end_token`` as lm-eval's vllm backend applies it: the returned response is what
follows the token's last occurrence (left-stripped), cut at the task's first stop sequence.

    text = strip_thinking(response, "</think>", until=["\\n\\n"], eos="<|im_end|>")

Upstream does this in ``postprocess_generated_text``, which is called here itself so the meaning
cannot drift. A ``ForcedText`` keeps its trace, with ``answer_start`` moved to the new text, so
the graders and the samples file still read it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lm_eval.models.utils import handle_stop_sequences, postprocess_generated_text

from s1_eval.common.errors import InputError
from s1_eval.trace import ForcedText


def check_think_end_token(value: Any) -> str | None:
    """The model_arg as upstream uses it (a non-empty string, taken literally), or None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # lm-eval's model_args parser casts digits to numbers
    if not isinstance(value, str) or not value:
        raise InputError(
            f"think_end_token={value!r} is invalid: expected a non-empty string such as "
            "</think> (the text that ends the model's thinking)."
        )
    return value


def strip_thinking(response: str, think_end_token: str, until: Any, eos: str | None) -> str:
    """The response as upstream returns it with ``think_end_token`` set.

    ``until`` is the request's gen_kwarg (a string, a list or None); ``eos`` is added to it as
    upstream adds its tokenizer's end-of-text string.
    """
    # a copy: upstream appends eos to the list, which here is the request's own gen_kwarg
    stops = handle_stop_sequences(list(until) if isinstance(until, (list, tuple)) else until, eos)
    text = postprocess_generated_text(str(response), stops, think_end_token)
    trace = getattr(response, "trace", None)
    if trace is None:
        return text
    # what the token split and lstrip removed from the front; the stops only cut the end
    removed = len(response) - len(postprocess_generated_text(str(response), None, think_end_token))
    start = min(max(trace.answer_start - removed, 0), len(text))
    return ForcedText(text, replace(trace, answer_start=start))


def eos_text(tokenizer: Any) -> str | None:
    """The end-of-text string upstream adds to the stops (decoded id, else the token's text)."""
    hf = getattr(tokenizer, "hf", None)
    eos_id = getattr(hf, "eos_token_id", None)  # the scripted toy's tokenizer has none
    if eos_id is None:
        return getattr(hf, "eos_token", None)
    return hf.decode(eos_id) or getattr(hf, "eos_token", None)
