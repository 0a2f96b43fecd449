"""The sweep methods, as a run folder's settings name them: what each is called (the s1 paper's
Table 3 rows), whether it sends its budget as the thinking cap, and the gen_kwargs it adds.

    forces_budget("prompt-tokens+forcing")   # True: the budget is also the thinking cap

What the methods are and how a sweep builds their cells: ``s1_eval.sweep.methods``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, get_args

from s1_eval.common.log import did_you_mean
from s1_eval.core.thinking_control import NOTHINKING_TEXT, NOWAIT_KEYWORDS

Method = Literal[
    "forcing",
    "prompt-tokens",
    "prompt-tokens+forcing",
    "prompt-steps",
    "prompt-steps+forcing",
    "prompt-class",
    "chat-template",
    "rejection",
    # decode-time methods since s1 (sources in SOURCES and s1_eval.core.thinking_control)
    "nothinking",
    "early-stop",
    "alphaone",
    "nowait",
    # the engine's own thinking budget (vLLM's thinking_token_budget) in place of our loop
    "engine-cap",
    # parallel scaling: "parallel" cells are k seeded samples per problem, from which the
    # report derives "majority" (majority@k) and "short-m" (short-m@k) runs
    "majority",
    "short-m",
    "parallel",
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
    "nothinking": "NoThinking (arXiv 2504.09858)",
    "early-stop": "early-stop prompt (Qwen3 thinking budget)",
    "alphaone": "AlphaOne (arXiv 2505.24863)",
    "nowait": "NoWait (arXiv 2506.08343)",
    "engine-cap": "engine-native cap (vLLM thinking_token_budget)",
    "majority": "majority@k (s1 paper, Fig. 4b)",
    "short-m": "short-m@k (arXiv 2505.17813)",
    "parallel": "parallel samples (for majority@k, short-m@k)",
}
#: where each method beyond the paper's Table 3 comes from
SOURCES = {
    "nothinking": "Ma et al., Reasoning Models Can Be Effective Without Thinking, arXiv 2504.09858",
    "early-stop": "Qwen3's documented thinking budget (its early-stopping sentence)",
    "alphaone": "Zhang et al., AlphaOne: Reasoning Models Thinking Slow and Fast at Test Time, "
    "arXiv 2505.24863",
    "nowait": "Wang et al., Wait, We Don't Need to 'Wait'! Removing Thinking Tokens Improves "
    "Reasoning Efficiency, arXiv 2506.08343",
    "engine-cap": "vLLM's per-request thinking_token_budget with a reasoning config (the engine "
    "writes the end delimiter at the budget)",
    "majority": "Muennighoff et al., s1: Simple test-time scaling, arXiv 2501.19393 (Fig. 4b)",
    "short-m": "Hassid et al., Don't Overthink It: Preferring Shorter Thinking Chains for "
    "Improved LLM Reasoning, arXiv 2505.17813",
}
#: Qwen's documented early-stopping sentence, written before the end delimiter at the budget
EARLY_STOP_SENTENCE = (
    "Considering the limited time by the user, I have to give the solution based on the "
    "thinking directly now."
)
#: methods whose runs the report derives from the "parallel" cells (sequential: all others)
PARALLEL = ("majority", "short-m")
#: the parallel samples' temperature unless the sweep's gen_kwargs set one (our choice)
PARALLEL_TEMPERATURE = 0.7
CLASS_LEVELS = ("short", "long")
#: the paper's "each step is around 100 tokens"
DEFAULT_STEP_TOKENS = 100


def forces_budget(method: str | None) -> bool:
    """Whether a setting of ``method`` sends its budget as the thinking cap."""
    return method in (None, "forcing", "prompt-tokens+forcing", "prompt-steps+forcing",
                      "rejection", "early-stop", "alphaone", "nowait", "engine-cap",
                      "parallel")  # fmt: skip


def method_gen_kwargs(
    method: str | None, level: str | None = None, budget: int | str | None = None
) -> dict[str, Any]:
    """The gen_kwargs a method adds to its cells (NoThinking: its budget limits the answer)."""
    if method == "rejection":
        return {"rejection_sample": True}
    if method == "nothinking":
        answer = {"max_tokens_answer": budget} if isinstance(budget, int) else {}
        return {"thinking_prefill": NOTHINKING_TEXT, **answer}
    if method == "early-stop":
        # Qwen's text: the sentence on a line of its own after a blank line, then the delimiter
        return {"thinking_cap_message": f"\n{EARLY_STOP_SENTENCE}\n", "thinking_cap_suffix": ""}
    if method == "alphaone" and level is not None:
        return {"thinking_alpha": float(level)}
    if method == "nowait":
        return {"thinking_bad_words": level or "|".join(NOWAIT_KEYWORDS)}
    if method == "engine-cap":
        return {"thinking_cap_by": "engine"}
    return {}


def default_gen_kwargs(method: str | None) -> dict[str, Any]:
    """gen_kwargs a method's cells take unless the sweep's own gen_kwargs set them: rejection
    samples at temperature 1, as the paper's; parallel samples at ``PARALLEL_TEMPERATURE``."""
    if method == "rejection":
        return {"do_sample": True, "temperature": 1.0}
    if method == "parallel":
        return {"do_sample": True, "temperature": PARALLEL_TEMPERATURE}
    return {}


def parallel_level(ks: Sequence[int], m: int) -> str:
    """The parallel cells' level: which k and m the report derives ("k1+2+4m1")."""
    return "k" + "+".join(str(k) for k in sorted(set(ks))) + f"m{m}"


def read_parallel_level(level: str | None) -> tuple[tuple[int, ...], int]:
    """``parallel_level`` read back: ((1, 2, 4), 1); a level it did not write gives ((), 1)."""
    match = re.fullmatch(r"k([\d+]+)m(\d+)", level or "")
    if not match:
        return (), 1
    return tuple(int(k) for k in match.group(1).split("+") if k), int(match.group(2))


def check_method(name: str) -> str:
    if name not in METHODS:
        raise ValueError(
            f"methods: {name!r} is not a method.{did_you_mean(name, METHODS)} "
            f"Methods: {', '.join(METHODS)}"
        )
    return name
