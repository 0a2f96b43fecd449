"""Ways to control thinking besides budget forcing, as sweep methods (the s1 paper's Table 3).

    settings = method_settings(MethodGrid(("forcing", "prompt-tokens"), budgets=(64, 128)), forcing)

Each method turns the sweep's budgets (or its own levels) into cells:

- ``forcing``: the budget-forcing grid of the sweep (caps, "Wait"), as without ``--methods``;
- ``prompt-tokens``: "Think for up to B tokens." appended to each question, nothing forced;
  ``prompt-tokens+forcing`` also caps thinking at B;
- ``prompt-steps``: "Think for up to N steps.", N = B // step_tokens (the paper: a step is about
  100 tokens); ``prompt-steps+forcing`` also caps thinking at N x step_tokens;
- ``prompt-class``: the paper's two generic prompts ("short", "long"), beside a run without one;
- ``chat-template``: levels of one chat-template variable (``reasoning_effort=low,medium,high``,
  ``enable_thinking=false,true``), each cell rendering the template with its level;
- ``rejection``: sample until the thinking fits the budget B (``rejection_sample``);
- decode-time methods since s1, each a cell per budget B (``s1_eval.sweep.decoding`` has their
  sources and levels): ``nothinking``, ``early-stop``, ``alphaone`` (x alpha levels),
  ``nowait``, ``engine-cap`` (vLLM caps the thinking itself), and the parallel ``majority`` /
  ``short-m`` (k seeded samples at the largest B).

The sentences are the s1 fork's (``s1_eval.tasks.prompts``, from its task code, which its
``PROMPTTOKEN``/``PROMPTSTEP``/``PROMPTSHORT``/``PROMPTLONG`` variables switch on). Control of a
run is 1[a_min <= a <= a_max] (paper, Eq. 1) with the bounds ``run_bounds`` gives each method.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from s1_eval.runs.folder import Setting
from s1_eval.runs.methods import CLASS_LEVELS, DEFAULT_STEP_TOKENS, check_method
from s1_eval.sweep.decoding import DecodingLevels, decoding_settings

#: methods whose cells come from their own levels (or the forcing grid), not from --budgets
_LEVELLED = ("forcing", "prompt-class", "chat-template")
_CLASS_SENTENCE = {"short": "PROMPTSHORT", "long": "PROMPTLONG"}


@dataclass(frozen=True)
class MethodGrid:
    """What ``--methods`` asks for: the methods, the sweep's budgets and the methods' levels."""

    methods: tuple[str, ...]
    budgets: tuple[int | str | None, ...]
    step_tokens: int = DEFAULT_STEP_TOKENS
    #: one chat-template variable's levels, e.g. ("reasoning_effort=low", "reasoning_effort=high")
    template_levels: tuple[str, ...] = ()
    #: the decode-time methods' levels (alpha, k, m, banned words): ``sweep.decoding``
    decoding: DecodingLevels = field(default_factory=DecodingLevels)

    def __post_init__(self) -> None:
        for name in self.methods:
            check_method(name)
        self.decoding.check(self.methods)
        numeric = [b for b in self.budgets if isinstance(b, int)]
        needs_numbers = [m for m in self.methods if m not in _LEVELLED]
        if needs_numbers and not numeric:
            raise ValueError(f"methods: {needs_numbers[0]} needs numeric --budgets (e.g. 512,1024)")
        if "chat-template" in self.methods and not self.template_levels:
            raise ValueError(
                "methods: chat-template needs --template_levels KEY=V1,V2 "
                "(e.g. reasoning_effort=low,medium,high)"
            )
        if self.step_tokens < 1:
            raise ValueError(f"step_tokens: {self.step_tokens}: expected an integer >= 1")


def parse_template_levels(text: str) -> tuple[str, ...]:
    """``reasoning_effort=low,medium,high`` -> ("reasoning_effort=low", ...)."""
    key, sep, values = text.partition("=")
    levels = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or len(levels) < 2:
        raise ValueError(
            f"template_levels: {text!r}: expected one chat-template variable and at least two "
            "values, e.g. reasoning_effort=low,medium,high"
        )
    return tuple(f"{key.strip()}={v}" for v in levels)


def method_settings(grid: MethodGrid, forcing: Sequence[Setting]) -> tuple[Setting, ...]:
    """Every cell of every method (duplicates removed; the forcing grid is ``forcing``)."""
    numeric = [b for b in grid.budgets if isinstance(b, int)]
    out: dict[Setting, None] = {}
    for method in grid.methods:
        if method == "forcing":
            out.update(dict.fromkeys(forcing))
        elif method.startswith("prompt-tokens") or method == "rejection":
            out.update(dict.fromkeys(Setting(b, method=method) for b in numeric))
        elif method.startswith("prompt-steps"):
            steps = sorted({max(1, b // grid.step_tokens) for b in numeric})
            out.update(
                dict.fromkeys(
                    Setting(n * grid.step_tokens, method=method, level=str(n)) for n in steps
                )
            )
        elif method == "prompt-class":
            out[Setting()] = None  # the run without a prompt: the classes' reference
            out.update(dict.fromkeys(Setting(method=method, level=c) for c in CLASS_LEVELS))
        elif method == "chat-template":
            out.update(dict.fromkeys(Setting(method=method, level=v) for v in grid.template_levels))
        else:
            out.update(dict.fromkeys(decoding_settings(method, numeric, grid.decoding)))
    return tuple(out)


# --------------------------------------------------------------------------- one cell


def prompt_sentence(setting: Setting) -> str | None:
    """The sentence a cell appends to every question, or None."""
    from s1_eval.tasks.prompts import CONTROL_SENTENCES  # imports datasets: only when prompting

    method = setting.method or ""
    if method.startswith("prompt-tokens"):
        return CONTROL_SENTENCES["PROMPTTOKEN"].format(value=setting.budget)
    if method.startswith("prompt-steps"):
        return CONTROL_SENTENCES["PROMPTSTEP"].format(value=setting.level)
    if method == "prompt-class":
        return CONTROL_SENTENCES[_CLASS_SENTENCE[setting.level or ""]]
    return None


def template_variables(setting: Setting) -> dict[str, Any]:
    """The chat-template variables a cell adds (``enable_thinking=false`` -> {...: False})."""
    if setting.method != "chat-template" or not setting.level:
        return {}
    from lm_eval.utils import handle_arg_string

    key, _, value = setting.level.partition("=")
    return {key: handle_arg_string(value)}


def describe(setting: Setting) -> dict[str, Any] | None:
    """What a cell changes besides gen_kwargs, for its ``cell.json``."""
    if not setting.method:
        return None
    return {
        "method": setting.method,
        "prompt_suffix": prompt_sentence(setting),
        "chat_template_variables": template_variables(setting) or None,
    }


def check_environment(settings: Sequence[Setting]) -> None:
    """The fork's prompt variables would add a second sentence to a prompted cell."""
    if not any(prompt_sentence(s) for s in settings):
        return
    from s1_eval.tasks.prompts import FORK_MATH_CONTROLS

    for name in FORK_MATH_CONTROLS:
        if os.environ.get(name) is not None:
            raise ValueError(
                f"methods: {name} is set in the environment and would add its own sentence to "
                f"the prompted cells; unset it (--methods sets each cell's prompt)"
            )


@contextlib.contextmanager
def applied(setting: Setting, lm) -> Iterator[None]:
    """Evaluate one cell with its method's prompt sentence and chat-template level."""
    sentence = prompt_sentence(setting)
    variables = template_variables(setting)
    with _question_suffix("\n\n" + sentence if sentence else ""), _template(lm, variables):
        yield


@contextlib.contextmanager
def _question_suffix(suffix: str) -> Iterator[None]:
    # lm-eval builds the task objects inside simple_evaluate (groups included), so the sentence
    # is added where every task renders a question, as the fork's variables do
    if not suffix:
        yield
        return
    from lm_eval.api.task import ConfigurableTask

    original = ConfigurableTask.doc_to_text

    def doc_to_text(self, doc, doc_to_text=None):
        text = original(self, doc, doc_to_text)
        return text + suffix if isinstance(text, str) else text

    ConfigurableTask.doc_to_text = doc_to_text
    try:
        yield
    finally:
        ConfigurableTask.doc_to_text = original


@contextlib.contextmanager
def _template(lm, variables: Mapping[str, Any]) -> Iterator[None]:
    if not variables:
        yield
        return
    owner = lm
    while not hasattr(owner, "template_args") and hasattr(owner, "lm"):
        owner = owner.lm  # a recording/replaying wrapper renders with the real backend
    if not hasattr(owner, "template_args"):
        raise ValueError(
            f"methods: chat-template needs an s1-eval backend (s1_vllm, s1_hf, s1_server); "
            f"{type(lm).__name__} takes chat-template variables only as model_args"
        )
    before = owner.template_args
    owner.template_args = {**before, **variables}
    try:
        yield
    finally:
        owner.template_args = before
