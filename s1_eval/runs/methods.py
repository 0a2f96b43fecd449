"""The sweep methods, as a run folder's settings name them: what each is called (the s1 paper's
Table 3 rows), whether it sends its budget as the thinking cap, and the gen_kwargs it adds.

    forces_budget("prompt-tokens+forcing")   # True: the budget is also the thinking cap

What the methods are and how a sweep builds their cells: ``s1_eval.sweep.methods``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from s1_eval.common.log import did_you_mean

Method = Literal[
    "forcing",
    "prompt-tokens",
    "prompt-tokens+forcing",
    "prompt-steps",
    "prompt-steps+forcing",
    "prompt-class",
    "chat-template",
    "rejection",
]
METHODS: tuple[str, ...] = get_args(Method)
#: the paper's names of the methods (its Table 3 rows)
PAPER_NAMES = {
    "forcing": "budget forcing",
    "prompt-tokens": "token-conditional",
    "prompt-tokens+forcing": "token-conditional + budget forcing",
    "prompt-steps": "step-conditional",
    "prompt-steps+forcing": "step-conditional + budget forcing",
    "prompt-class": "class-conditional",
    "rejection": "rejection sampling",
    "chat-template": "chat-template levels",
}
CLASS_LEVELS = ("short", "long")
#: the paper's "each step is around 100 tokens"
DEFAULT_STEP_TOKENS = 100


def forces_budget(method: str | None) -> bool:
    """Whether a setting of ``method`` sends its budget as the thinking cap."""
    return method in (None, "forcing", "prompt-tokens+forcing", "prompt-steps+forcing", "rejection")


def method_gen_kwargs(method: str | None) -> dict[str, Any]:
    return {"rejection_sample": True} if method == "rejection" else {}


def default_gen_kwargs(method: str | None) -> dict[str, Any]:
    """gen_kwargs a method's cells take unless the sweep's own gen_kwargs set them: rejection
    samples at temperature 1, as the paper's."""
    return {"do_sample": True, "temperature": 1.0} if method == "rejection" else {}


def check_method(name: str) -> str:
    if name not in METHODS:
        raise ValueError(
            f"methods: {name!r} is not a method.{did_you_mean(name, METHODS)} "
            f"Methods: {', '.join(METHODS)}"
        )
    return name
