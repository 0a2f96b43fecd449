"""lm-eval backends with budget forcing: ``s1_vllm`` (vLLM), ``s1_server`` (running vLLM servers),
``s1_hf`` (transformers reference) and ``s1_scripted`` (a deterministic toy, no model).

    lm_eval --model s1_vllm --model_args pretrained=simplescaling/s1.1-32B,tensor_parallel_size=8 \
        --tasks s1_aime24 --apply_chat_template --gen_kwargs max_tokens_thinking=auto

The classes check their model_args and load only the tokenizer; the engine starts in the first
``generate_until``, after every request's gen_kwargs and prompt length were checked, so bad
input fails in seconds. Generation is delegated to ``forcing.force_generate``; the result is a
``ForcedText`` (a str carrying its Trace). Budget settings come per request through gen_kwargs,
so one loaded model serves a whole sweep of budgets.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lm_eval import utils
from lm_eval.api.model import LM
from tqdm import tqdm

from s1_eval.backends import parity
from s1_eval.backends.chat_template import CHAT_TEMPLATE_ARGS, chat_template_variables
from s1_eval.backends.think_end import check_think_end_token, eos_text, strip_thinking
from s1_eval.common.errors import InputError
from s1_eval.common.log import did_you_mean, logger
from s1_eval.common.values import as_bool, as_int
from s1_eval.common.versions import check_versions
from s1_eval.core.plan import BatchPlan, plan_batch
from s1_eval.core.runner import as_runner
from s1_eval.core.settings import (
    AUTO,
    DEFAULT_ANSWER_ROOM,
    PRESETS,
    UNCLOSED_THINKING,
    ContextLimit,
    GenerationSettings,
    forcing_requested,
    parse_gen_kwargs,
)
from s1_eval.core.sharing import StepStore

#: model_args that set delimiter defaults for every request (gen_kwargs still override them)
DELIMITER_ARGS = ("thinking_start", "thinking_end", "until_thinking", "thinking_cap_message",
                  "thinking_cap_suffix")  # fmt: skip
#: passed by lm-eval's CLI to every model; the engines size their own batches
IGNORED_ARGS = ("batch_size", "max_batch_size")
#: lm-eval's vllm name for the text that ends thinking: the response keeps what follows it
THINK_END_ARG = "think_end_token"
#: tokens of context kept for the answer when the thinking budget must shrink to fit it
ANSWER_ROOM_ARG = "answer_room_tokens"
#: how thinking that used up max_gen_toks (or the context) is scored: no_answer | fork
UNCLOSED_ARG = "unclosed_thinking"
#: s1_vllm: let vLLM cap the thinking itself (thinking_cap_by=engine)
ENGINE_CAP_ARG = "engine_thinking_budget"
#: s1-eval's own model_args, taken by every s1 backend
S1_ARGS = (ANSWER_ROOM_ARG, UNCLOSED_ARG)
S1_ARG_DEFAULTS = {ANSWER_ROOM_ARG: DEFAULT_ANSWER_ROOM, UNCLOSED_ARG: UNCLOSED_THINKING[0]}


class _ForcingLM(LM):
    """Shared lm-eval glue: chat template, grouping by gen_kwargs, progress, caching."""

    def __init__(self, preset: str, max_gen_toks: int, kwargs: dict[str, Any]):
        check_versions(("lm-eval",))
        super().__init__()
        if preset not in PRESETS:
            raise InputError(f"preset={preset!r} is invalid: expected one of {sorted(PRESETS)}.")
        self.preset = preset
        self.defaults = {k: kwargs.pop(k) for k in DELIMITER_ARGS if k in kwargs}
        self.template_args = chat_template_variables(
            kwargs.pop("enable_thinking", None), kwargs.pop("chat_template_args", None)
        )
        self.think_end_token = check_think_end_token(kwargs.pop(THINK_END_ARG, None))
        self.answer_room = as_int(
            ANSWER_ROOM_ARG, kwargs.pop(ANSWER_ROOM_ARG, S1_ARG_DEFAULTS[ANSWER_ROOM_ARG]), 0
        )
        self.unclosed_thinking = kwargs.pop(UNCLOSED_ARG, S1_ARG_DEFAULTS[UNCLOSED_ARG])
        if self.unclosed_thinking not in UNCLOSED_THINKING:
            raise ValueError(
                f"model_arg {UNCLOSED_ARG}={self.unclosed_thinking!r} is invalid: expected "
                f"{' or '.join(UNCLOSED_THINKING)}."
            )
        for key in IGNORED_ARGS:
            kwargs.pop(key, None)
        # bad delimiter model_args and max_gen_toks fail here, before anything loads
        self.delimiters = parse_gen_kwargs(
            self.defaults, preset=preset, default_max_gen_toks=max_gen_toks
        ).forcing.delimiters
        self.max_gen_toks = max_gen_toks
        self.forcing_runs: list[dict[str, Any]] = []
        self.lazy: Any = None  # set by the backend: a LazyEngine
        #: run steps common to several requests once (exact: see s1_eval.core.sharing)
        self.share_steps = True
        self.last_sharing: dict[str, int] | None = None
        #: whether the engine can cap thinking itself (``thinking_cap_by=engine``)
        self.engine_caps_thinking = False

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None):
        # lm-eval adds --device/--batch_size to every model; a key also given in model_args
        # (device=cpu) would be a "got multiple values" TypeError: model_args win.
        args = utils.simple_parse_args_string(arg_string)
        return cls.create_from_arg_obj(args, additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict[str, Any], additional_config: dict | None = None):
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None}
        return cls(**{**extra, **arg_dict})

    @classmethod
    def accepted_model_args(cls) -> dict[str, Any]:
        """Every model_arg this backend takes by name, with its default (``inspect._empty``
        when required, None when it follows the preset or is unset); s1_vllm passes any other
        to vLLM. reject_unknown checks against it, and the docs' model_args page lists it."""
        parameters = inspect.signature(cls.__init__).parameters
        accepted = {n: p.default for n, p in parameters.items() if n not in ("self", "kwargs")}
        for name in (*DELIMITER_ARGS, *CHAT_TEMPLATE_ARGS, THINK_END_ARG, *S1_ARGS, *IGNORED_ARGS):
            accepted.setdefault(name, S1_ARG_DEFAULTS.get(name))
        return accepted

    @classmethod
    def reject_unknown(cls, kwargs: dict[str, Any]) -> None:
        """One error naming the first unknown model_arg; the accepted ones come from __init__."""
        if not kwargs:
            return
        key = next(iter(kwargs))
        accepted = list(cls.accepted_model_args())
        hint = did_you_mean(key, accepted)
        raise InputError(
            f"Unknown model_arg {key!r} for {cls.__name__}.{hint} Accepted: {', '.join(accepted)}."
        )

    @property
    def engine(self):
        """The engine, started on first use."""
        return self.lazy.get()

    # -- lm-eval API ------------------------------------------------------------------------
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return self.generate_many([requests], disable_tqdm=disable_tqdm)[0]

    def generate_many(
        self,
        request_lists,
        on_done: Callable[[int, int, str], None] | None = None,
        store: StepStore | None = None,
        disable_tqdm: bool = False,
    ) -> list[list[str]]:
        """``generate_until`` for several request lists (e.g. a sweep's cells) in one pass.

        Each list is planned as its own ``generate_until`` call would plan it, so its outputs
        are the same; steps the lists have in common run once (``s1_eval.core.sharing``) unless
        ``share_steps`` is False. ``on_done(list, index, text)`` fires per finished request.
        """
        clamps = ContextClamps()
        checked = [self._check(requests, clamps) for requests in request_lists]  # before the engine
        clamps.warn()
        runner = as_runner(self.engine)
        outputs: list[list[str]] = [[""] * len(requests) for requests in request_lists]
        total = sum(len(requests) for requests in request_lists)
        bar = tqdm(total=total, disable=disable_tqdm, desc=f"{self.lazy.name} forcing")
        planned, owners = [], []
        for which, groups in enumerate(checked):
            for indices, plan, prompts in groups:
                self._record_settings(plan.settings)
                planned.append((prompts, plan))
                owners.append((which, indices))

        def done(batch: int, i: int, text: str) -> None:
            which, indices = owners[batch]
            request = request_lists[which][indices[i]]
            if self.think_end_token:
                text = strip_thinking(
                    text,
                    self.think_end_token,
                    request.args[1].get("until"),
                    eos_text(self.lazy.tokenizer),
                )
            outputs[which][indices[i]] = text
            # cached at once: with --use_cache an interrupted run keeps every finished one
            self.cache_hook.add_partial("generate_until", request.args, text)
            bar.update(1)
            if on_done is not None:
                on_done(which, indices[i], text)

        stream = runner.run_batches(planned, self.share_steps, store)
        try:
            for batch, index, text in stream:
                done(batch, index, text)
        finally:  # a failed pass cancels its steps and must not print its bar after the error
            stream.close()
            bar.close()
        self.last_sharing = runner.stats if self.share_steps else None
        return outputs

    def settings_record(self, gen_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The forcing settings these gen_kwargs give, as ``get_model_info`` records them."""
        return self._settings(gen_kwargs).describe()

    def _settings(self, gen_kwargs: dict[str, Any]) -> GenerationSettings:
        """A request's settings. With no forcing gen_kwarg (nor delimiter model_arg) it is one
        plain generation, as in the s1 fork; with think_end_token too, the task's stops are
        applied after the thinking is cut, not sent to the engine (as lm-eval's vllm does)."""
        merged = {**self.defaults, **gen_kwargs}
        settings = parse_gen_kwargs(
            merged, preset=self.preset, default_max_gen_toks=self.max_gen_toks
        )
        control = settings.forcing.control
        if control is not None and control.engine_cap and not self.engine_caps_thinking:
            raise InputError(
                "thinking_cap_by=engine needs the engine's own thinking budget: --model s1_vllm "
                "with model_arg engine_thinking_budget=True (vLLM with thinking_token_budget); "
                f"{type(self).__name__} has none here."
            )
        context = getattr(self.lazy, "max_model_len", None)
        settings = replace(
            settings,
            context=ContextLimit(context, self.answer_room) if context else None,
            unclosed_thinking=self.unclosed_thinking,
        )
        if forcing_requested(merged):
            return settings
        return replace(
            settings, force_thinking=False, until=() if self.think_end_token else settings.until
        )

    def _check(self, requests, clamps=None) -> list[tuple[list[int], BatchPlan, list[list[int]]]]:
        """Group requests by gen_kwargs and check every group: a typo fails in seconds.
        ``clamps`` gathers the requests whose thinking the context will clamp."""
        tokenizer, context = self.lazy.tokenizer, self.lazy.max_model_len
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(repr(sorted(request.args[1].items())), []).append(index)
        plans = []
        for indices in groups.values():
            settings = self._settings(requests[indices[0]].args[1])
            prompts = [tokenizer.encode(requests[i].args[0]) for i in indices]
            plan = plan_batch(tokenizer, prompts, settings)  # the cap (auto) and the stops
            opening = len(plan.start_ids) if settings.force_thinking else 0
            longest = max(len(p) for p in prompts) + opening
            if longest >= context:
                raise InputError(
                    f"A prompt is {longest} tokens long (with the thinking delimiter) but the "
                    f"context length is {context} (max_model_len): raise max_model_len if the "
                    "model allows it, or shorten the prompts (fewer few-shot examples)."
                )
            if settings.force_thinking:
                (clamps or ContextClamps()).add(plan, prompts)
            plans.append((indices, plan, prompts))
        return plans

    def loglikelihood(self, requests):
        raise NotImplementedError(
            f"{type(self).__name__} only generates (generate_until tasks); use lm-eval's "
            "vllm or hf model for loglikelihood tasks."
        )

    def loglikelihood_rolling(self, requests):
        self.loglikelihood(requests)

    @property
    def tokenizer_name(self) -> str:
        return self.lazy.tokenizer.hf.name_or_path.replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.lazy.tokenizer.hf.chat_template

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        return self.lazy.tokenizer.hf.apply_chat_template(
            chat_history,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=not add_generation_prompt,
            **self.template_args,
        )

    def get_model_info(self) -> dict[str, Any]:
        """Merged into the results JSON's ``config``: the forcing settings actually used."""
        from s1_eval import __version__

        return {
            "s1_eval_version": __version__,
            "s1_engine": self.lazy.name,
            "s1_preset": self.preset,
            "s1_chat_template_args": self.template_args,
            "s1_think_end_token": self.think_end_token,
            "s1_forcing": self.forcing_runs[-1] if self.forcing_runs else None,
            "s1_forcing_runs": self.forcing_runs,
        }

    def _record_settings(self, settings) -> None:
        described = settings.describe()
        if described not in self.forcing_runs:
            self.forcing_runs.append(described)


class ContextClamps:
    """The requests of one pass whose thinking budget the context cannot hold: refused when no
    thinking fits at all, otherwise counted for one warning naming the numbers."""

    def __init__(self):
        self.total = 0
        self.limits: list[int] = []
        self.budgets: set[str] = set()
        self.context: ContextLimit | None = None

    def add(self, plan, prompts) -> None:
        context = plan.settings.context
        if context is None or plan.cap is None:
            return  # only a cap is clamped
        for index, prompt in enumerate(prompts):
            if index < len(plan.templates) and plan.templates[index] == "closed":
                continue  # no thinking phase for it
            self.total += 1
            limit, clamped = plan.thinking_limit(plan.head(index, len(prompt)))
            if limit < 1:
                raise ValueError(
                    f"A prompt of {plan.head(index, len(prompt))} tokens leaves no room to "
                    f"think: max_model_len={context.max_model_len} minus it, the closing text "
                    f"({plan.closing_tokens}) and {ANSWER_ROOM_ARG}={context.answer_room} is "
                    f"{limit}: lower {ANSWER_ROOM_ARG}, raise max_model_len or shorten the prompt."
                )
            if clamped:
                self.limits.append(limit)
                self.context = context
                cap = plan.settings.forcing.max_tokens_thinking
                self.budgets.add(
                    f"max_tokens_thinking={plan.cap}" + (" (auto)" if cap == AUTO else "")
                )

    def warn(self) -> None:
        if not self.limits:
            return
        low, high = min(self.limits), max(self.limits)
        span = f"{low}" if low == high else f"{low} to {high}"
        logger.warning(
            "s1-eval: max_model_len=%d cannot hold prompt + thinking budget (%s) + %s=%d: "
            "thinking clamped to %s tokens for %d of %d capped requests, so each keeps room to "
            "answer (samples: context_clamped=1, cap_fired=0). Raise max_model_len or lower "
            "the budget for a run that tests the budget.",
            self.context.max_model_len,
            ", ".join(sorted(self.budgets)),
            ANSWER_ROOM_ARG,
            self.context.answer_room,
            span,
            len(self.limits),
            self.total,
        )


class S1VLLM(_ForcingLM):
    """``--model s1_vllm``: vLLM with budget forcing. lm-eval vllm's model_args are taken as
    ``s1_eval.backends.parity`` classifies them; other model_args go to vLLM's EngineArgs."""

    def __init__(
        self,
        pretrained: str,
        preset: str = "s1",
        max_gen_toks: int = 32768,
        engine_thinking_budget: bool = False,
        **kwargs: Any,
    ):
        from s1_eval.engines import vllm

        check_versions(("lm-eval", "vllm"))  # from metadata: before vLLM is even imported
        parity.apply("s1_vllm", kwargs)  # lm-eval vllm's names: mapped, or one line on why not
        super().__init__(preset, max_gen_toks, kwargs)
        kwargs.pop("device", None)  # lm-eval's --device: vLLM picks its platform itself
        if "scheduler" in kwargs:
            raise InputError(
                "model_arg 'scheduler' is gone: s1_vllm always continues each request the "
                "moment its step ends. The s1 fork's batch rounds are a baseline in "
                "bench/forcing_bench.py; drop scheduler=..."
            )
        self.engine_caps_thinking = as_bool(ENGINE_CAP_ARG, engine_thinking_budget)
        ends = (self.delimiters.thinking_start, self.delimiters.thinking_end)
        self.lazy = vllm.prepare(
            pretrained, thinking_delimiters=ends if self.engine_caps_thinking else None, **kwargs
        )


class S1Server(_ForcingLM):
    """``--model s1_server``: running ``vllm serve`` processes (one or several) over HTTP.

    Arguments follow lm-eval's ``local-completions``: ``base_url`` (several separated by ``;``),
    ``model``, ``tokenizer``, ``num_concurrent``, ``max_retries``, ``timeout``. The API key is
    read from ``OPENAI_API_KEY``, never from model_args (which lm-eval writes into results).
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        tokenizer: str | None = None,
        preset: str = "s1",
        max_gen_toks: int = 32768,
        num_concurrent: int = 64,
        max_retries: int = 3,
        timeout: float = 600.0,
        max_model_len: int | None = None,
        trust_remote_code: bool = False,
        **kwargs: Any,
    ):
        from s1_eval.engines import openai_api, server

        super().__init__(preset, max_gen_toks, kwargs)
        kwargs.pop("device", None)  # lm-eval's --device: the servers chose theirs
        if "api_key" in kwargs:
            raise InputError(
                "model_arg 'api_key' would be written into the results file: export "
                f"{openai_api.API_KEY_ENV} instead."
            )
        parity.apply("s1_server", kwargs)
        self.reject_unknown(kwargs)
        self.lazy = server.prepare(base_url, model, tokenizer, num_concurrent, max_retries,
                                   timeout, max_model_len, trust_remote_code)  # fmt: skip


class S1HF(_ForcingLM):
    """``--model s1_hf``: transformers, batch 1, float32 by default; the exact reference."""

    def __init__(
        self,
        pretrained: str,
        preset: str = "s1",
        max_gen_toks: int = 32768,
        dtype: str = "float32",
        device: str | None = None,
        tokenizer: str | None = None,
        max_model_len: int | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        **kwargs: Any,
    ):
        from s1_eval.engines import hf

        super().__init__(preset, max_gen_toks, kwargs)
        self.reject_unknown(kwargs)
        self.lazy = hf.prepare(pretrained, dtype, device, tokenizer, trust_remote_code,
                               max_model_len, revision)  # fmt: skip


class S1Scripted(_ForcingLM):
    """``--model s1_scripted``: no model, a deterministic toy (``s1_eval.engines.scripted``) run
    through the real forcing loop, step sharing and sweeps: try gen_kwargs and sweeps on any machine.

    ``patience``: thinking tokens before it tries to answer; ``wait_tokens``: how many more
    each "Wait" buys; ``tokenizer``: a real tokenizer (and its chat template) to write in.
    """

    def __init__(
        self,
        preset: str = "s1",
        max_gen_toks: int = 32768,
        patience: int = 128,
        wait_tokens: int = 64,
        max_model_len: int = 32768,
        tokenizer: str | None = None,
        **kwargs: Any,
    ):
        from s1_eval.engines import scripted

        super().__init__(preset, max_gen_toks, kwargs)
        kwargs.pop("device", None)  # lm-eval's --device: nothing runs on one
        self.reject_unknown(kwargs)
        self.lazy = scripted.prepare(preset, patience, wait_tokens, max_model_len, tokenizer)
        self.engine_caps_thinking = True  # the toy applies a step's thinking_token_budget
