"""What each model_arg of the s1 backends means: the text of the generated model_args reference.

    from s1_eval.backends.model_args import MEANINGS; MEANINGS["preset"]

The names a backend accepts come from its class (``accepted_model_args``, what validation
checks); this table only explains them, and a test fails when a backend accepts a name that has
no line here or a line names something no backend accepts.
"""

from __future__ import annotations

_DELIMITER_DEFAULT = "Default for every request's gen_kwarg of the same name (a gen_kwarg wins)."

MEANINGS: dict[str, str] = {
    "pretrained": "Model folder or Hub id.",
    "preset": "The delimiters: `s1` (`<|im_start|>think` … `<|im_start|>answer`, the default), "
    "`think` (`<think>` … `</think>`, R1 / QwQ / Qwen3), `plain` (plain-text delimiters for "
    "instruct models).",
    "max_gen_toks": "Generation budget (thinking and answer) of a request whose gen_kwargs set "
    "none; 32768 by default (lm-eval's vllm: 256), since reasoning models think for thousands "
    "of tokens.",
    "thinking_start": _DELIMITER_DEFAULT,
    "thinking_end": _DELIMITER_DEFAULT,
    "until_thinking": _DELIMITER_DEFAULT,
    "thinking_cap_message": _DELIMITER_DEFAULT,
    "thinking_cap_suffix": _DELIMITER_DEFAULT,
    "enable_thinking": "Passed into the chat template, as lm-eval's vllm does (Qwen3's thinking "
    "switch); recorded as `config.s1_chat_template_args`.",
    "chat_template_args": "Variables for the chat template: a dict, or its JSON text (e.g. "
    '`{"reasoning_effort": "high"}` for gpt-oss); recorded as `config.s1_chat_template_args`.',
    "think_end_token": "As lm-eval's vllm: the response is what follows the token's last "
    "occurrence, cut at the task's stops (the trace still counts the thinking); recorded as "
    "`config.s1_think_end_token`.",
    "answer_room_tokens": "Tokens of context kept for the answer when a thinking cap does not "
    "fit the context (the cap is clamped per request; 100 by default, the room the fork's `auto` "
    "leaves).",
    "unclosed_thinking": "How thinking that used up max_gen_toks or the context is scored: "
    "`no_answer` (the default: no answer, `no_answer=1`) or `fork` (as the s1 fork: closed with "
    "the cap's text and answered with a fresh max_gen_toks).",
    "engine_thinking_budget": "s1_vllm: `True` builds vLLM with the preset's delimiters as "
    "its reasoning config, so a request with gen_kwarg `thinking_cap_by=engine` is capped by "
    "vLLM's own per-request `thinking_token_budget` instead of our loop (the sweep method "
    "`engine-cap`).",
    "batch_size": "Taken and ignored: the engines schedule requests themselves and outputs do "
    "not depend on it.",
    "max_batch_size": "s1_vllm: vLLM's max_num_seqs unless that is given (as lm-eval's vllm); "
    "elsewhere taken and ignored.",
    "base_url": "`http://HOST:PORT/v1` of a running `vllm serve` (lm-eval's "
    "`.../v1/completions` form works too); several separated by `;`.",
    "model": "The served model name; may be left out when the server serves exactly one.",
    "tokenizer": "Tokenizer folder or Hub id. s1_server: the one to load here (default: what the "
    "server loaded); s1_scripted: a real tokenizer and chat template for the toy to write in.",
    "num_concurrent": "Steps in flight across all servers.",
    "max_retries": "Retries per step on a connection error, a timeout, a stream cut mid-step or "
    "HTTP 408/429/5xx (backoff 0.5 s, 1 s, 2 s, …); then the server is dropped.",
    "timeout": "Seconds a server may stay silent during a step (steps stream, so a long "
    "thinking step is fine).",
    "max_model_len": "Context length. Default: the model config's (s1_server: what the server "
    "reports).",
    "trust_remote_code": "Run the model repository's own code (for the tokenizer it loads).",
    "dtype": "Weights dtype (s1_hf: float32 by default, the exact reference).",
    "device": "Default: lm-eval's `--device` when this machine has it, else the CPU (with a "
    "warning), like lm-eval's hf model.",
    "revision": "Hub revision of the model.",
    "patience": "Thinking tokens the toy writes before it closes thinking on its own.",
    "wait_tokens": 'Thinking tokens each inserted "Wait" buys the toy.',
}
