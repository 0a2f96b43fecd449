"""vLLM's OpenAI-compatible completions API: server URLs, the check before a run, a step's wire form.

    roots, card = probe(split_urls("http://a:8000/v1;http://b:8000/v1"), model=None)

A step goes out as prompt token ids with every sampling field set and streams back its
generated token ids (``return_token_ids``), so continuations never re-tokenize text and a long
step shows it is alive.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

from s1_eval.common.errors import InputError
from s1_eval.common.log import logger
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.vllm import as_step_result, sampling_fields

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
            raise InputError(
                f"base_url={url!r} is invalid: expected http(s)://HOST:PORT[/v1], several "
                "separated by ';'."
            )
        root = re.sub(r"/+$", "", url)
        root = re.sub(r"/v1(/completions)?$", "", root)
        roots.append(root)
    if not roots:
        raise InputError("base_url is empty: give http://HOST:PORT/v1 of a running vllm serve.")
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
                raise InputError(
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
            raise InputError(
                f"model={model!r} is not served at {root}: it serves {names}. Set "
                "model= to one of them (the name given to vllm serve or --served-model-name)."
            )
        cards[root] = next(card for card in served if card["id"] == wanted)
    if not cards:
        raise InputError(
            f"No vLLM server reachable at base_url: {'; '.join(failures)}. Start one with "
            "`vllm serve MODEL` and pass base_url=http://HOST:PORT/v1."
        )
    for failure in failures:
        logger.warning("s1_server: %s is unreachable; using the other servers", failure)
    return list(cards), next(iter(cards.values()))


def request_body(model: str, step: GenerationStep, max_tokens: int) -> dict[str, Any]:
    """One step as a completions request: token ids in, token ids out, every sampling field set
    (the server's generation-config defaults cannot change a step)."""
    return {
        "model": model,
        "prompt": list(step.prompt_token_ids),
        **sampling_fields(step, max_tokens),
        "return_token_ids": True,
        # streamed, so a long step shows it is alive: the timeout is the longest silence
        "stream": True,
        "stream_options": {"include_usage": True},
    }


class StreamedStep:
    """Assembles one streamed completion: ``feed`` each SSE chunk, then ``result()``.

    Chunks carry text and token-id deltas; the last choice chunk carries the finish and stop
    reason, a final chunk the usage. ``error`` is set when the server reported one mid-stream.
    """

    def __init__(self) -> None:
        self.text: list[str] = []
        self.token_ids: list[int] = []
        self.finish_reason: str | None = None
        self.stop_reason: str | int | None = None
        self.usage: dict[str, Any] = {}
        self.error: str | None = None
        self._buffer = b""

    def feed_bytes(self, data: bytes) -> bool:
        """Take raw bytes off the wire; True once the stream's ``[DONE]`` arrived."""
        self._buffer += data
        *events, self._buffer = self._buffer.split(b"\n\n")
        for event in events:
            payload = event.decode("utf-8").strip().removeprefix("data:").strip()
            if payload == "[DONE]":
                return True
            if payload:
                self.feed(json.loads(payload))
        return False

    def feed(self, chunk: dict[str, Any]) -> None:
        if "error" in chunk:
            error = chunk["error"]
            self.error = str(error.get("message", error) if isinstance(error, dict) else error)
            return
        self.usage = chunk.get("usage") or self.usage
        for choice in chunk.get("choices") or ():
            self.text.append(choice.get("text") or "")
            self.token_ids.extend(choice.get("token_ids") or ())
            if choice.get("finish_reason") is not None:
                self.finish_reason = choice["finish_reason"]
                self.stop_reason = choice.get("stop_reason")

    def result(self) -> StepResult:
        """The step as the forcing loop's ``StepResult`` (as ``engines.vllm`` reports it)."""
        if self.error is not None:
            return StepResult((), "", "error", error=self.error)
        return as_step_result(
            self.token_ids, "".join(self.text), self.finish_reason, self.stop_reason
        )
