"""Adapts a Hugging Face tokenizer to the forcing loop's ``Tokenizer`` protocol.

tokenizer = load_tokenizer("simplescaling/s1.1-32B")   # or HFTokenizer(hf, extra_eos=[151643])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from s1_eval.common.errors import InputError


class HFTokenizer:
    """Adapts a Hugging Face tokenizer to the forcing loop's ``Tokenizer`` protocol."""

    def __init__(self, tokenizer: Any, extra_eos: Sequence[int] = ()):
        self.hf = tokenizer
        eos = {tokenizer.eos_token_id, *extra_eos} - {None}
        self.eos_token_ids = frozenset(eos)
        self.vocab_size = len(tokenizer)

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False)

    def decode(self, token_ids: Sequence[int]) -> str:
        # keep special tokens: the engines return text the same way, so prefixes line up
        return self.hf.decode(list(token_ids), skip_special_tokens=False)


def generation_eos_ids(pretrained: str, revision: str | None = None) -> list[int]:
    """The end-of-sequence ids of the model's generation config (Qwen lists several); [] if none."""
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(pretrained, revision=revision)
    except (OSError, ValueError):  # a model without generation_config.json
        return []
    eos = config.eos_token_id
    return [e for e in (eos if isinstance(eos, list) else [eos]) if e is not None]


def load_tokenizer(
    pretrained: str,
    tokenizer: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    use_fast: bool = True,
) -> HFTokenizer:
    """The tokenizer lm-eval needs before generation (chat template, name), without the model.

    Raises ValueError naming ``pretrained`` (or ``tokenizer``) when it cannot be loaded.
    """
    from transformers import AutoTokenizer

    source = tokenizer or pretrained
    try:
        hf = AutoTokenizer.from_pretrained(
            source, revision=revision, trust_remote_code=trust_remote_code, use_fast=use_fast
        )
    except (OSError, ValueError) as error:
        key = "tokenizer" if tokenizer else "pretrained"
        raise InputError(
            f"{key}={source!r}: cannot load its tokenizer ({str(error).splitlines()[0]}). Give "
            "a local model folder or a Hugging Face model name (downloaded or reachable)."
        ) from None
    extra = generation_eos_ids(pretrained, revision)
    return HFTokenizer(hf, extra)
