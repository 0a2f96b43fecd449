"""transformers engine adapter: the exact, slow reference for the forcing loop (batch 1).

    engine = HFEngine.load("simplescaling/s1.1-1.5B", dtype="float32")   # or prepare(...): lazy

Runs one step at a time with ``model.generate`` and reports results the way vLLM does (stop
string/token stripped from the text, the stop token kept in ``token_ids``), so greedy float32
traces can be compared token for token with the vLLM adapter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any

from s1_eval.common.errors import InputError
from s1_eval.common.log import logger
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.lazy import LazyEngine
from s1_eval.engines.tokenizer import HFTokenizer, load_tokenizer


def resolve_device(device: str | None) -> str:
    """The asked device when this machine has it; else what lm-eval's ``hf`` model falls back to.

    lm-eval's CLI passes ``device="cuda:0"`` to every model by default, also on CPU-only
    machines: a valid but absent device falls back (with a warning), a malformed one is refused.
    """
    import torch

    fallback = "cuda" if torch.cuda.is_available() else "cpu"
    if device is None:
        return fallback
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(
            f"device={device!r} is invalid: expected cpu, cuda, cuda:N, mps (or another torch "
            "device name)."
        ) from None
    if parsed.type == "cpu" or _available(torch, parsed):
        return str(parsed)
    logger.warning("s1_hf: device %r is not available here; using %s instead.", device, fallback)
    return fallback


def _available(torch: Any, device: Any) -> bool:
    if device.type == "mps":
        return torch.backends.mps.is_available()
    backend = getattr(torch, device.type, None)  # cuda, xpu, npu, hpu expose the same two calls
    try:
        return bool(backend.is_available()) and (device.index or 0) < backend.device_count()
    except AttributeError:
        return False


def prepare(
    pretrained: str,
    dtype: str = "float32",
    device: str | None = None,
    tokenizer: str | None = None,
    trust_remote_code: bool = False,
    max_model_len: int | None = None,
    revision: str | None = None,
) -> LazyEngine:
    """Check every argument and load the tokenizer and config; the model loads on first use."""
    import torch
    from transformers import AutoConfig

    if dtype != "auto" and not isinstance(getattr(torch, str(dtype), None), torch.dtype):
        raise InputError(
            f"dtype={dtype!r} is invalid: expected float32, bfloat16, float16 or auto."
        )
    if max_model_len is not None and (
        isinstance(max_model_len, bool) or not isinstance(max_model_len, int) or max_model_len < 1
    ):
        raise InputError(
            f"max_model_len={max_model_len!r} is invalid: expected a positive integer (the "
            "context length in tokens), or leave it out to use the model's own."
        )
    device = resolve_device(device)
    try:
        config = AutoConfig.from_pretrained(
            pretrained, revision=revision, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as error:
        raise InputError(
            f"pretrained={pretrained!r}: cannot load its config ({str(error).splitlines()[0]}). "
            "Give a local model folder or a Hugging Face model name (downloaded or reachable)."
        ) from None
    loop_tokenizer = load_tokenizer(pretrained, tokenizer, revision, trust_remote_code)
    context = max_model_len or getattr(config, "max_position_embeddings", None) or 1 << 30

    def start() -> HFEngine:
        return HFEngine.load(pretrained, dtype, device, loop_tokenizer, trust_remote_code,
                             context, revision)  # fmt: skip

    return LazyEngine("hf", loop_tokenizer, context, start)


class OutputPenalties:
    """vLLM's presence and frequency penalties, which transformers lacks: subtract
    ``presence`` from every token this step already generated and ``frequency`` times its count
    (the prompt does not count, as in vLLM). Runs before temperature, as in vLLM."""

    def __init__(self, prompt_len: int, presence: float, frequency: float):
        self.prompt_len, self.presence, self.frequency = prompt_len, presence, frequency

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] == 0:
            return scores
        counts = scores.new_zeros(scores.shape).scatter_add_(
            1, generated, scores.new_ones(generated.shape)
        )
        return scores - self.frequency * counts - self.presence * (counts > 0).to(scores.dtype)


class HFEngine:
    """A transformers causal LM driven one step at a time."""

    def __init__(self, model: Any, tokenizer: Any, max_model_len: int | None = None):
        self.model = model
        if not isinstance(tokenizer, HFTokenizer):
            generation_eos = model.generation_config.eos_token_id
            extra = generation_eos if isinstance(generation_eos, list) else [generation_eos]
            tokenizer = HFTokenizer(tokenizer, [e for e in extra if e is not None])
        self.tokenizer = tokenizer
        self.max_model_len = max_model_len or getattr(
            model.config, "max_position_embeddings", 1 << 30
        )
        self._queue: deque[tuple[Hashable, GenerationStep]] = deque()

    @classmethod
    def load(
        cls,
        pretrained: str,
        dtype: str = "float32",
        device: str | None = None,
        tokenizer: str | HFTokenizer | None = None,
        trust_remote_code: bool = False,
        max_model_len: int | None = None,
        revision: str | None = None,
    ) -> HFEngine:
        """Load the model; ``tokenizer`` is a name/path or an already loaded ``HFTokenizer``."""
        import torch
        from transformers import AutoModelForCausalLM

        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        model = AutoModelForCausalLM.from_pretrained(
            pretrained, dtype=torch_dtype, trust_remote_code=trust_remote_code, revision=revision
        )
        model.to(resolve_device(device)).eval()
        if not isinstance(tokenizer, HFTokenizer):
            tokenizer = load_tokenizer(pretrained, tokenizer, revision, trust_remote_code)
        return cls(model, tokenizer, max_model_len)

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self._queue.append((key, step))

    def cancel(self) -> None:
        self._queue.clear()

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        key, step = self._queue.popleft()
        return [(key, self._generate(step))]

    def _generate(self, step: GenerationStep) -> StepResult:
        import torch
        from transformers import GenerationConfig

        room = self.max_model_len - len(step.prompt_token_ids)
        if room < 1:
            return StepResult((), "", "length")
        s, hf = step.sampling, self.tokenizer.hf
        stop_ids = sorted(self.tokenizer.eos_token_ids | set(step.stop_token_ids))
        config = GenerationConfig(
            max_new_tokens=min(step.max_tokens, room),
            min_new_tokens=step.min_tokens or None,
            do_sample=not s.greedy,
            temperature=s.temperature if not s.greedy else None,
            top_p=s.top_p if not s.greedy else None,
            top_k=(s.top_k if s.top_k > 0 else None) if not s.greedy else None,
            min_p=(s.min_p or None) if not s.greedy else None,
            repetition_penalty=s.repetition_penalty,
            eos_token_id=stop_ids,
            pad_token_id=hf.pad_token_id if hf.pad_token_id is not None else stop_ids[0],
            stop_strings=list(step.stop) or None,
            bad_words_ids=bad_word_ids(self.tokenizer, step.control) or None,
        )
        if s.seed is not None:
            torch.manual_seed(s.seed)
        device = self.model.device
        input_ids = torch.tensor([list(step.prompt_token_ids)], device=device)
        penalties = []
        if s.presence_penalty or s.frequency_penalty:
            penalties.append(
                OutputPenalties(input_ids.shape[1], s.presence_penalty, s.frequency_penalty)
            )
        with torch.no_grad():
            out = self.model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=config,
                logits_processor=penalties or None,
                tokenizer=hf if step.stop else None,
            )
        new = out[0, input_ids.shape[1] :].tolist()
        return self._result(new, step)

    def _result(self, new: list[int], step: GenerationStep) -> StepResult:
        decode = self.tokenizer.decode
        if new and new[-1] in step.stop_token_ids:
            return StepResult(tuple(new), decode(new[:-1]), "stop", new[-1])
        if new and new[-1] in self.tokenizer.eos_token_ids:
            return StepResult(tuple(new), decode(new[:-1]), "stop", None)
        text = decode(new)
        hits = [(text.find(stop), stop) for stop in step.stop if stop in text]
        if hits:
            index, stop = min(hits)
            return StepResult(tuple(new), text[:index], "stop", stop)
        return StepResult(tuple(new), text, "length")


def bad_word_ids(tokenizer, control) -> list[list[int]]:
    """NoWait's banned words as token sequences, with and without a leading space (as vLLM)."""
    if control is None:
        return []
    sequences = {tuple(tokenizer.encode(p + w)) for w in control.bad_words for p in ("", " ")}
    return [list(ids) for ids in sorted(sequences) if ids]
