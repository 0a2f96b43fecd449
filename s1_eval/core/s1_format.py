"""The s1 text format, in one place: thinking delimiters, presets, cap text and answer anchors.

    completion = training_completion("3+4=7", "\\boxed{7}", "s1")  # what SFT trains on

Inference (``budget``), grading (``grading``), the trainer (``trainer.data``) and the demo all
derive their strings from here, so a new preset or a changed delimiter is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PresetName = Literal["s1", "think", "plain"]

#: what the cap appends after the closing delimiter by default (the s1 fork's text)
FINAL_ANSWER = "Final Answer:"
#: what s1's training data writes before the attempt, after the closing delimiter
ANSWER_PREFIX = "Answer: "


@dataclass(frozen=True)
class Delimiters:
    """How a thinking block opens and closes, and what is written when the cap fires."""

    thinking_start: str
    thinking_end: str
    until_thinking: tuple[str, ...]
    #: text written before ``thinking_end`` when the cap fires (llama.cpp's budget message)
    cap_message: str = ""
    #: text written after ``thinking_end`` when the cap fires (s1: "\nFinal Answer:")
    cap_suffix: str = "\n" + FINAL_ANSWER


PRESETS: dict[str, Delimiters] = {
    # s1 / s1.1: the model writes "<|im_start|>answer"; "<|im_start|>" is one token in Qwen.
    "s1": Delimiters("<|im_start|>think", "<|im_start|>answer", ("<|im_start|>",)),
    # DeepSeek-R1 distills, QwQ, Qwen3 and other <think> models.
    "think": Delimiters("<think>\n", "</think>", ("</think>",)),
    # Instruct models never trained on thinking tags follow plain-text delimiters.
    "plain": Delimiters(
        "Let's think step by step.", "The final answer is", ("The final answer is",), cap_suffix=""
    ),
}

#: the presets a model is trained to think in (``plain`` is for models never trained on tags)
TRAINING_PRESETS: tuple[PresetName, ...] = ("s1", "think")

#: every trained preset's closing delimiter: a grader reads the answer after the last of them
THINKING_END_DELIMITERS: tuple[str, ...] = tuple(
    PRESETS[name].thinking_end for name in TRAINING_PRESETS
)
#: phrases after which the answer itself follows ("Final Answer: 42", "The final answer is 42")
ANSWER_ANCHORS: tuple[str, ...] = (FINAL_ANSWER, PRESETS["plain"].thinking_end)


def training_completion(thinking: str, attempt: str, preset: PresetName = "s1") -> str:
    """The assistant turn s1 trains on (s1's train/sft.py layout).

    ``<|im_start|>think\\n{thinking}\\n<|im_start|>answer\\nAnswer: {attempt}`` for ``s1``.
    """
    delimiters = PRESETS[preset]
    start = delimiters.thinking_start
    opening = start if start.endswith("\n") else start + "\n"
    return f"{opening}{thinking}\n{delimiters.thinking_end}\n{ANSWER_PREFIX}{attempt}"


def template_thinking(tail: str, delimiters: Delimiters) -> tuple[str, Delimiters | None]:
    """How a rendered prompt's ``tail`` leaves thinking, and in whose delimiters.

    ``("opened", d)`` when it ends with d's opening tag (R1 distills; Qwen3 with thinking on),
    ``("closed", d)`` when it ends with a whole d block (Qwen3's ``enable_thinking=False`` renders
    ``<think>\\n\\n</think>\\n\\n``), else ``("", None)``. The request's ``delimiters`` are tried
    first, then every trained preset's, so a template in another preset's tags is recognised.
    """
    text = tail.rstrip()
    for candidate in (delimiters, *(PRESETS[name] for name in TRAINING_PRESETS)):
        start, end = candidate.thinking_start.strip(), candidate.thinking_end.strip()
        if text.endswith(start):
            return "opened", candidate
        if text.endswith(end) and start in text[: len(text) - len(end)]:
            return "closed", candidate
    return "", None
