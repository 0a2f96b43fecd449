"""`s1-train estimate`: per-GPU memory of a recipe under each strategy, before anything loads.

    s1-train estimate --config trainer/recipes/s1_32b.yaml --num_gpus 16 [--gpu_memory_gib 80]

Reads the recipe (any `--field value` overrides it, as for training) and the model's
config.json: from a local folder, or for a hub name from the small table below (no download).
The formula and its assumptions are in s1_eval/trainer/estimate.py.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from s1_eval.common.files import read_json
from s1_eval.common.log import OneLineParser
from s1_eval.trainer.data import ConfigError
from s1_eval.trainer.estimate import ALL_LINEAR, ModelShape, Setup, estimate, table

_QWEN25_32B = {
    "model_type": "qwen2", "hidden_size": 5120, "intermediate_size": 27648,
    "num_hidden_layers": 64, "num_attention_heads": 40, "num_key_value_heads": 8,
    "vocab_size": 152064, "tie_word_embeddings": False,
}  # fmt: skip
_QWEN25_7B = {
    "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944,
    "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
    "vocab_size": 152064, "tie_word_embeddings": False,
}  # fmt: skip
_SMOLLM2_135M = {
    "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
    "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
    "vocab_size": 49152, "tie_word_embeddings": True,
}  # fmt: skip

#: config.json shapes of the hub models the recipes name, so an estimate needs no download
KNOWN_CONFIGS = {
    "Qwen/Qwen2.5-32B-Instruct": _QWEN25_32B,
    "Qwen/Qwen2.5-32B": _QWEN25_32B,
    "simplescaling/s1-32B": _QWEN25_32B,
    "simplescaling/s1.1-32B": _QWEN25_32B,
    "Qwen/Qwen2.5-7B-Instruct": _QWEN25_7B,
    "HuggingFaceTB/SmolLM2-135M-Instruct": _SMOLLM2_135M,
    "HuggingFaceTB/SmolLM2-135M": _SMOLLM2_135M,
}


def model_config(name: str) -> dict:
    path = Path(name) / "config.json"
    if path.is_file():
        return read_json(path)
    if name in KNOWN_CONFIGS:
        return KNOWN_CONFIGS[name]
    raise ConfigError(
        "model_name_or_path",
        f"{name} is neither a folder with config.json nor a known hub model "
        f"({', '.join(KNOWN_CONFIGS)}): pass a local folder",
    )


def lora_modules(target, model_type: str) -> tuple[str, ...]:
    """The projections LoRA wraps: the recipe's, or peft's default for this model type."""
    if target is None:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

        target = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type, ["q_proj"])
    if target == "all-linear" or target == ["all-linear"]:
        return ALL_LINEAR
    names = [target] if isinstance(target, str) else list(target)
    return tuple(name for name in names if name in ALL_LINEAR)


def estimate_parser() -> OneLineParser:
    """The estimate's own options; any other recipe field on the line overrides the recipe."""
    parser = OneLineParser(
        prog="s1-train estimate",
        description="Memory per GPU of a training recipe (weights, gradients, optimizer, "
        "activations), from the model's config alone: no GPU, no weights downloaded.",
        epilog="Any other recipe field overrides the recipe as in s1-train train "
        "(e.g. --max_length 16384 --per_device_train_batch_size 1).",
        raise_as=lambda message: ConfigError("estimate", message),
    )
    parser.add_argument("--config", default=None, help="the YAML recipe (trainer/recipes/...)")
    parser.add_argument("--num_gpus", type=int, required=True, help="GPUs the run shards over")
    parser.add_argument(
        "--gpu_memory_gib", type=float, default=80.0, help="memory of one GPU (default 80)"
    )
    return parser


def estimate_command(argv: list[str]) -> str:
    """Print (and return) the estimate table for the recipe and GPU count in ``argv``."""
    options, rest = estimate_parser().parse_known_args(argv)
    if options.config is None:
        raise ConfigError("--config", "estimate needs a recipe: --config RECIPE --num_gpus N")
    rest = ["--config", options.config, *rest]
    if options.num_gpus < 1:
        raise ConfigError("num_gpus", f"expected at least 1, got {options.num_gpus}")
    from s1_eval.trainer.config import parse_config  # TRL's SFTConfig: after the cheap checks

    # The recipe is for the GPU machine: swallow the "no GPU here, bf16 off" note of a CPU host.
    with contextlib.redirect_stdout(io.StringIO()):
        args, config = parse_config(rest)
    raw = model_config(args.model_name_or_path)
    shape = ModelShape.from_config(raw)
    setup = Setup(
        block=config.max_length,
        batch=config.per_device_train_batch_size,
        num_gpus=options.num_gpus,
        checkpointing=bool(config.gradient_checkpointing),
        lora_r=args.lora_r,
        lora_modules=lora_modules(args.lora_target_modules, raw.get("model_type", "")),
    )
    checkpointing = "on" if setup.checkpointing else "off"
    text = "\n".join(
        [
            f"{args.model_name_or_path}: {shape.params / 1e9:.2f} B parameters; block "
            f"{setup.block} x batch {setup.batch}; gradient checkpointing {checkpointing}; "
            f"{setup.num_gpus} GPU(s) of {options.gpu_memory_gib:g} GiB",
            table(estimate(shape, setup), options.gpu_memory_gib),
            "GiB per GPU, upper bounds at max_length; CUDA context and allocator slack not "
            "counted. LoRA modules: " + ", ".join(setup.lora_modules),
        ]
    )
    print(text)
    return text
