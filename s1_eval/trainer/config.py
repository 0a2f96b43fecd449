"""The s1-train recipe: its two dataclasses (`S1Args` for model, data and LoRA, `S1SFTConfig` =
TRL's SFTConfig with s1's guard rails) and the parser that fills them from a YAML recipe and flags.

    args, config = parse_config(["--config", "trainer/recipes/s1_32b.yaml", "--max_steps", "3"])

Kept apart from the training script (``s1_eval.trainer.sft``) so that commands reading a recipe
(``s1-train estimate``) never import the trainer.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import torch
from trl import SFTConfig, TrlParser

from s1_eval.core.s1_format import TRAINING_PRESETS
from s1_eval.trainer import lora
from s1_eval.trainer.data import TRACE_SOURCES, ConfigError, check_delimiters
from s1_eval.trainer.recipe import check_keys

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class S1Args(lora.LoraArgs):
    """Model, data and LoRA. Everything else is TRL's SFTConfig (see S1SFTConfig)."""

    model_name_or_path: str = field(
        default="Qwen/Qwen2.5-32B-Instruct", metadata={"help": "Hub id or local folder."}
    )
    model_revision: str = field(default="main", metadata={"help": "Hub revision."})
    dtype: str = field(
        default="auto",
        metadata={
            "help": "Weights dtype: auto, float32, bfloat16, float16 (auto = float32 on CPU)."
        },
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "e.g. flash_attention_2, sdpa, eager."}
    )
    dataset_name: str = field(
        default="simplescaling/s1K-1.1",
        metadata={"help": "Hub dataset (s1K, s1K-1.1, ...) or a local .json/.jsonl file."},
    )
    dataset_config: str | None = field(default=None, metadata={"help": "Hub dataset config."})
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    trace_source: str = field(
        default="gemini", metadata={"help": f"s1K-1.1 traces to train on: {TRACE_SOURCES}."}
    )
    question_column: str | None = field(default=None, metadata={"help": "Default: question."})
    thinking_column: str | None = field(
        default=None,
        metadata={
            "help": "Default by schema: thinking_trajectories, <source>_thinking_trajectory."
        },
    )
    answer_column: str | None = field(
        default=None, metadata={"help": "Default by schema: attempt, <source>_attempt, answer."}
    )
    delimiters: str = field(
        default="s1", metadata={"help": f"Thinking delimiters preset: {list(TRAINING_PRESETS)}."}
    )
    max_samples: int | None = field(default=None, metadata={"help": "Train on the first N rows."})
    global_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Sets gradient_accumulation_steps = global / (per_device_batch x world size)."
        },
    )

    def __post_init__(self):
        # Checked at parse time so a typo never costs a model load.
        check_delimiters(self.delimiters)
        if self.trace_source not in TRACE_SOURCES:
            raise ConfigError(
                "trace_source", f"expected one of {TRACE_SOURCES}, got {self.trace_source!r}"
            )
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", f"expected one of {DTYPES}, got {self.dtype!r}")
        self.check_lora_options()


def has_accelerator() -> bool:
    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


@dataclass
class S1SFTConfig(SFTConfig):
    """TRL's SFTConfig with s1's loss mask, a required max_length and a CPU fallback."""

    max_length: int | None = field(
        default=None,
        metadata={"help": "Required. Tokens per sample; longer samples are truncated (counted)."},
    )
    completion_only_loss: bool | None = field(
        default=True, metadata={"help": "Loss on the assistant turn only (s1's masking)."}
    )

    def __post_init__(self):
        if self.max_length is None:
            # TRL would otherwise cut every s1 trace at 1024 tokens without a word.
            raise ConfigError("max_length", "must be set (s1: 32768, s1.1: 20000)")
        if self.max_length < 1:
            raise ConfigError(
                "max_length", f"expected a positive token count, got {self.max_length}"
            )
        if self.bf16 is not False and not self.fp16 and not has_accelerator():
            # SFTConfig turns bf16 on by default, which a CPU-only machine refuses outright.
            say("No CUDA/XPU device: bf16 off, training in float32 on the CPU.")
            self.bf16, self.use_cpu = False, True
        super().__post_init__()


def say(message: str) -> None:
    """Print once per job, not once per rank."""
    if os.environ.get("RANK", "0") == "0":
        print(f"[s1-train] {message}", flush=True)


def parse_config(argv: list[str] | None = None) -> tuple[S1Args, S1SFTConfig]:
    argv = list(sys.argv[1:] if argv is None else argv)
    check_keys(argv, (S1Args, S1SFTConfig))
    return TrlParser((S1Args, S1SFTConfig)).parse_args_and_config(argv)


def apply_global_batch_size(args: S1Args, config: S1SFTConfig) -> None:
    """One recipe for any GPU count: s1 fixed the global batch (16), not the accumulation."""
    if args.global_batch_size is None:
        return
    per_step = config.per_device_train_batch_size * int(os.environ.get("WORLD_SIZE", "1"))
    if args.global_batch_size % per_step:
        raise ValueError(
            f"global_batch_size={args.global_batch_size} is not a multiple of "
            f"per_device_train_batch_size x world size = {per_step}"
        )
    config.gradient_accumulation_steps = args.global_batch_size // per_step


def avoid_double_checkpointing(config: S1SFTConfig) -> None:
    # transformers refuses FSDP activation checkpointing together with gradient_checkpointing;
    # the recipe keeps gradient_checkpointing on so DeepSpeed and single-GPU runs still fit.
    if os.environ.get("FSDP_ACTIVATION_CHECKPOINTING") == "true" and config.gradient_checkpointing:
        say("FSDP activation checkpointing is on: gradient_checkpointing off (it does the same).")
        config.gradient_checkpointing = False
