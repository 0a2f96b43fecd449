"""Every model_arg of lm-eval's own ``vllm`` backend, classified once for ``s1_vllm`` and
``s1_server``: accepted with the same meaning, or rejected before any engine starts with one
line saying why and what to use instead. The backends consult it; the docs' model_args page
renders its table from it; a test fails when upstream gains an arg that is not classified here.

    parity.apply("s1_vllm", kwargs)   # ValueError: model_arg lora_local_path='x' is not supported ...
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from s1_eval.common.errors import InputError
from s1_eval.common.values import as_int

Backend = Literal["s1_vllm", "s1_server"]
#: same: accepted, same meaning; ignored: accepted, outputs do not depend on it;
#: limited: accepted within the limit the note gives; rejected: one error before the engine;
#: serve: a setting of the running server (s1_server only), rejected naming the `vllm serve` flag
Status = Literal["same", "ignored", "limited", "rejected", "serve"]


class Parity(NamedTuple):
    s1_vllm: Status
    s1_server: Status
    note: str = ""
    #: the reason s1_server gives, where it differs from s1_vllm's
    server_note: str = ""

    def on(self, backend: Backend) -> Status:
        return self.s1_vllm if backend == "s1_vllm" else self.s1_server


#: lm-eval 0.4.13's VLLM.__init__, in its order; ``**kwargs`` goes to vLLM's engine there too
UPSTREAM_VLLM: dict[str, Parity] = {
    "pretrained": Parity("same", "rejected", "", "the servers already run a model, so give base_url (and model) instead."),
    "dtype": Parity("same", "serve", "s1_vllm takes any dtype vLLM takes (upstream: auto, float16, bfloat16, float32)."),
    "revision": Parity("same", "serve"),
    "trust_remote_code": Parity("same", "same", "", "for the tokenizer it loads."),
    "tokenizer": Parity("same", "same"),
    "tokenizer_mode": Parity("same", "serve", "`slow` makes the forcing loop's tokenizer slow too."),
    "tokenizer_revision": Parity("same", "serve"),
    "add_bos_token": Parity("rejected", "rejected", "the prompt is encoded exactly as rendered (a chat template writes its own BOS), so write the BOS into the prompt text instead."),
    "prefix_token_id": Parity("rejected", "rejected", "it only sets the loglikelihood prefix and the s1 backends only generate, so use lm-eval's vllm for loglikelihood tasks instead."),
    "tensor_parallel_size": Parity("same", "serve"),
    "quantization": Parity("same", "serve"),
    "max_gen_toks": Parity("same", "same", "default 32768 (upstream: 256), since reasoning models think for thousands of tokens."),
    "batch_size": Parity("ignored", "ignored", "vLLM schedules requests continuously and outputs do not depend on it (upstream chunks requests by it)."),
    "max_batch_size": Parity("same", "ignored", "sets vLLM's max_num_seqs unless that is given, as upstream.", "the servers' --max-num-seqs and num_concurrent bound concurrency."),
    "max_length": Parity("same", "rejected", "another name for max_model_len (giving both is an error, as upstream).", "use max_model_len instead."),
    "max_model_len": Parity("same", "same"),
    "seed": Parity("same", "serve", "vLLM's engine seed; s1_vllm keeps vLLM's default (upstream: 1234); per-request seeds: the gen_kwarg seed."),
    "data_parallel_size": Parity("same", "limited", "N engine replicas as Ray workers, as upstream (`pip install 's1-eval[ray]'`); each runs the whole forcing loop on its share, and greedy results equal one engine's, in order.", "1 only: for N replicas start N `vllm serve` and give base_url=URL1;URL2;... instead."),
    "lora_local_path": Parity("rejected", "rejected", "the forcing loop sends no LoRA request: serve the adapter (vllm serve M --enable-lora --lora-modules NAME=PATH) and use s1_server with model=NAME, or merge it into the weights, instead."),
    "enable_thinking": Parity("same", "same", "passed into the chat template; unlike upstream, think_end_token is not required with it (the answer is split from the thinking anyway)."),
    "chat_template_args": Parity("same", "same", "passed into the chat template (a dict, or its JSON text); recorded as config.s1_chat_template_args."),
    "think_end_token": Parity("same", "same", "the response is cut after the token's last occurrence, then at the task's stops, as upstream; recorded as config.s1_think_end_token."),
    "max_lora_rank": Parity("rejected", "serve", "only used with lora_local_path, which s1_vllm rejects, so serve the adapter with --max-lora-rank and use s1_server instead."),
    "truncation_side": Parity("rejected", "rejected", "the s1 backends never truncate a prompt (one that does not fit fails naming max_model_len), so raise max_model_len or use fewer few-shot examples instead."),
    "**kwargs": Parity("same", "serve", "any other vLLM EngineArgs field, checked against the engine config vLLM would build before it starts."),
}  # fmt: skip


def _serve_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _rejection(backend: Backend, name: str, value: Any) -> InputError:
    entry = UPSTREAM_VLLM[name]
    if entry.on(backend) == "serve":
        why = (
            f"it is a setting of the running server: start `vllm serve` with {_serve_flag(name)} "
            "instead."
        )
    else:
        why = (backend == "s1_server" and entry.server_note) or entry.note
    return InputError(f"model_arg {name}={value!r} is not supported by {backend}: {why}")


def apply(backend: Backend, kwargs: dict[str, Any]) -> None:
    """Check ``kwargs`` (the backend's leftover model_args) against the table, in place:
    rejected ones raise, upstream aliases become our names, limited ones are checked and
    dropped. Runs before anything loads."""
    for name in list(kwargs):
        if name in UPSTREAM_VLLM and UPSTREAM_VLLM[name].on(backend) in ("rejected", "serve"):
            if kwargs[name] is None:  # upstream's "not set" (its default for most of these)
                del kwargs[name]
                continue
            raise _rejection(backend, name, kwargs[name])
    if "data_parallel_size" in kwargs:
        replicas = as_int("data_parallel_size", kwargs.pop("data_parallel_size"), 1)
        if replicas > 1 and backend != "s1_vllm":
            raise _rejection(backend, "data_parallel_size", replicas)
        if replicas > 1:
            kwargs["data_parallel_size"] = replicas  # s1_eval.engines.replicas
    if backend != "s1_vllm":
        return
    if "max_length" in kwargs:
        if "max_model_len" in kwargs:
            raise InputError(
                f"model_arg max_length={kwargs['max_length']!r} and "
                f"max_model_len={kwargs['max_model_len']!r} are the same setting: give one."
            )
        kwargs["max_model_len"] = as_int("max_length", kwargs.pop("max_length"), 1)
    batch = kwargs.pop("max_batch_size", None)
    if batch is not None and "max_num_seqs" not in kwargs:
        # upstream: LLM(max_num_seqs=kwargs.get("max_num_seqs", max_batch_size))
        kwargs["max_num_seqs"] = as_int("max_batch_size", batch, 1)


_CELL = {"same": "same", "ignored": "ignored", "limited": "limited", "rejected": "**rejected**"}


def _cell(name: str, status: Status) -> str:
    if status != "serve":
        return _CELL[status]
    return "on `vllm serve`" if name == "**kwargs" else f"on `vllm serve {_serve_flag(name)}`"


def readme_table() -> str:
    """The parity table of the docs' model_args page, one row per upstream model_arg."""
    rows = [
        "| lm-eval `vllm` model_arg | `s1_vllm` | `s1_server` | note |",
        "|---|---|---|---|",
    ]
    for name, entry in UPSTREAM_VLLM.items():
        note = entry.note
        if entry.server_note:
            note = f"{note} s1_server: {entry.server_note}".strip()
        vllm, server = _cell(name, entry.s1_vllm), _cell(name, entry.s1_server)
        rows.append(f"| `{name}` | {vllm} | {server} | {note} |")
    return "\n".join(rows) + "\n"
