"""vLLM's OpenAI-compatible completions API: server URLs, the check before a run, one step's wire form.

    roots, card = probe(split_urls("http://a:8000/v1;http://b:8000/v1"), model=None)

A step goes out as prompt token ids with every sampling field set and comes back with its
generated token ids (``return_token_ids``), so continuations never re-tokenize text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from typing import Any

from s1_eval.steps import GenerationStep, StepResult

logger = logging.getLogger("lm_eval.models.s1_eval")

#: read for the Authorization header; never logged, never written to results
API_KEY_ENV = "OPENAI_API_KEY"


def split_urls(base_url: str) -> list[str]:
    """Server roots from ``base_url``: one URL or several separated by ``;`` or spaces.

    Each may be given as lm-eval's ``local-completions`` takes it (``.../v1/completions``),
    as ``.../v1`` or as the bare root.
    """
    roots = []
    for url in re.split(r"[;\s]+", str(base_url).strip()):
        if not url:
            continue
        if not re.match(r"^https?://[^/]+", url):
            raise ValueError(
                f"base_url={url!r} is invalid: expected http(s)://HOST:PORT[/v1], several "
                "separated by ';'."
            )
        root = re.sub(r"/+$", "", url)
        root = re.sub(r"/v1(/completions)?$", "", root)
        roots.append(root)
    if not roots:
        raise ValueError("base_url is empty: give http://HOST:PORT/v1 of a running vllm serve.")
    return roots


def headers() -> dict[str, str]:
    key = os.environ.get(API_KEY_ENV)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _served_models(root: str, timeout: float) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"{root}/v1/models", headers=headers())
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)["data"]


def probe(roots: list[str], model: str | None, timeout: float = 10.0) -> tuple[list[str], dict]:
    """The reachable roots and the model card they serve; one clear error when none serves it."""
    cards: dict[str, dict[str, Any]] = {}
    failures = []
    for root in roots:
        try:
            served = _served_models(root, timeout)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                raise ValueError(
                    f"The server at {root} refused the API key: set {API_KEY_ENV} to the key "
                    "it was started with (vllm serve --api-key)."
                ) from None
            failures.append(f"{root} (HTTP {error.code})")
            continue
        except (OSError, ValueError, KeyError) as error:
            failures.append(f"{root} ({getattr(error, 'reason', error)})")
            continue
        names = [card["id"] for card in served]
        wanted = model if model is not None else (names[0] if len(names) == 1 else None)
        if wanted not in names:
            raise ValueError(
                f"model={model!r} is not served at {root}: it serves {names}. Set "
                "model= to one of them (the name given to vllm serve or --served-model-name)."
            )
        cards[root] = next(card for card in served if card["id"] == wanted)
    if not cards:
        raise ValueError(
            f"No vLLM server reachable at base_url: {'; '.join(failures)}. Start one with "
            "`vllm serve MODEL` and pass base_url=http://HOST:PORT/v1."
        )
    for failure in failures:
        logger.warning("s1_server: %s is unreachable; using the other servers", failure)
    return list(cards), next(iter(cards.values()))


def request_body(model: str, step: GenerationStep, max_tokens: int) -> dict[str, Any]:
    """One step as a completions request: token ids in, token ids out, nothing left to defaults.

    Every sampling field is sent, so the server's generation-config defaults cannot change a
    step (the in-process engine runs with exactly these values).
    """
    s = step.sampling
    return {
        "model": model,
        "prompt": list(step.prompt_token_ids),
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
        "skip_special_tokens": False,
        "return_token_ids": True,
    }


def step_result(choice: dict[str, Any]) -> StepResult:
    """A completions choice as the forcing loop's ``StepResult`` (as ``engines.vllm`` does)."""
    finish = "stop" if choice.get("finish_reason") == "stop" else "length"
    return StepResult(
        token_ids=tuple(choice["token_ids"]),
        text=choice["text"],
        finish_reason=finish,
        stop_reason=choice.get("stop_reason"),
    )
