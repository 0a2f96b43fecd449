"""s1-style SFT on current TRL: s1K / s1K-1.1 / a local JSONL, loss on the assistant turn only.

    accelerate launch --config_file trainer/accelerate_configs/fsdp2.yaml -m s1_eval.trainer.sft \
        --config trainer/recipes/s1_32b.yaml [--any_field value ...]
    s1-train estimate --config trainer/recipes/s1_32b.yaml --num_gpus 16   # memory per GPU

Configuration is two dataclasses (`S1Args` for model, data and LoRA, `S1SFTConfig` = TRL's
SFTConfig with s1's guard rails), filled from a YAML recipe (`--config`) and then from flags.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer, TrlParser

from s1_eval.messages import one_line
from s1_eval.s1_format import TRAINING_PRESETS
from s1_eval.trainer import lora, preemption
from s1_eval.trainer.data import (
    TRACE_SOURCES,
    ConfigError,
    build_s1_dataset,
    check_delimiters,
    load_rows,
    require_prompt_completion,
    resolve_columns,
    sequence_lengths,
    truncation_report,
)
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


def load_tokenizer(args: S1Args, config: S1SFTConfig):
    tokenizer = AutoTokenizer.from_pretrained(
        args.model_name_or_path,
        revision=args.model_revision,
        trust_remote_code=config.trust_remote_code,
    )
    if not tokenizer.chat_template:
        raise ValueError(f"{args.model_name_or_path} has no chat template: s1 text is built by it")
    if tokenizer.pad_token is None:
        # Padding is never trained on (labels are padded with -100), so eos is a safe pad.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def prepare_dataset(args: S1Args):
    """The s1 prompt/completion pairs; reads no tokenizer, so bad data fails before any load."""
    rows = load_rows(args.dataset_name, args.dataset_config, args.dataset_split)
    if args.max_samples is not None:
        rows = rows.select(range(min(args.max_samples, len(rows))))
    columns = resolve_columns(
        rows.column_names,
        args.trace_source,
        args.question_column,
        args.thinking_column,
        args.answer_column,
    )
    say(f"{len(rows)} rows from {args.dataset_name}; columns {columns}")
    dataset = build_s1_dataset(rows, columns, args.delimiters)
    require_prompt_completion(dataset)
    return dataset


def resolve_dtype(name: str, on_cpu: bool):
    if name == "auto":
        # bf16 checkpoints would otherwise train in pure bf16 on a CPU: keep fp32 master weights.
        return torch.float32 if on_cpu else "auto"
    return getattr(torch, name)


def load_model(args: S1Args, config: S1SFTConfig, quantize: bool = True):
    model = AutoModelForCausalLM.from_pretrained(
        args.model_name_or_path,
        revision=args.model_revision,
        dtype=resolve_dtype(args.dtype, config.use_cpu or not has_accelerator()),
        attn_implementation=args.attn_implementation,
        trust_remote_code=config.trust_remote_code,
        **(lora.quantized_loading(args, args.dtype) if quantize else {}),  # QLoRA's 4-bit base
    )
    # The KV cache is useless in training and clashes with checkpointing.
    model.config.use_cache = False
    return model


def build_trainer(args: S1Args, config: S1SFTConfig) -> SFTTrainer:
    """Everything that can fail on config or data happens before the model loads."""
    apply_global_batch_size(args, config)
    avoid_double_checkpointing(config)
    dataset = prepare_dataset(args)
    tokenizer = load_tokenizer(args, config)
    say(truncation_report(sequence_lengths(dataset, tokenizer), config.max_length))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    global_batch = config.per_device_train_batch_size * config.gradient_accumulation_steps * world
    say(f"global batch {global_batch}, max_length {config.max_length}, bf16 {config.bf16}")
    peft_config = lora.peft_config(args)
    if peft_config is not None:
        modules = args.lora_target_modules or "peft's default"
        say(f"LoRA: r {args.lora_r}, alpha {args.lora_alpha}, modules {modules}")
    model = load_model(args, config)
    return SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )


def train_and_save(trainer: SFTTrainer, args: S1Args) -> str:
    """Train, save, and return the folder an engine scores: the merged model for a LoRA run."""
    preemption.train(trainer)
    # Inference engines read use_cache from the saved config.
    trainer.model.config.use_cache = True
    output_dir = trainer.args.output_dir
    trainer.save_model(output_dir)
    if args.use_peft:
        trainer.accelerator.wait_for_everyone()
        if trainer.accelerator.is_main_process:
            merged = lora.save_merged(
                output_dir,
                trainer.processing_class,
                lambda: load_model(args, trainer.args, quantize=False),
            )
            say(f"LoRA adapter in {output_dir}, merged model in {merged}")
        output_dir = str(lora.merged_dir(output_dir))
    trainer.save_state()  # written last: a rerun of this command sees a finished output_dir
    say(
        f"saved to {output_dir}; score it: lm_eval --model s1_vllm --model_args pretrained={output_dir}"
    )
    return output_dir


def run(argv: list[str] | None = None) -> SFTTrainer:
    args, config = parse_config(argv)
    if resume := preemption.plan_resume(config):
        say(resume)
    trainer = build_trainer(args, config)
    train_and_save(trainer, args)
    return trainer


def main(argv: list[str] | None = None) -> None:
    """``s1-train``: bad input is one line on stderr and exit status 2; ``--debug`` re-raises."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        if argv[:1] == ["estimate"]:
            from s1_eval.trainer.estimate_cmd import estimate_command

            estimate_command(argv[1:])
        elif argv[:1] == ["select"]:
            from s1_eval.trainer.select_cmd import select_command

            select_command(argv[1:])
        else:
            run(argv)
    except (preemption.AlreadyTrained, preemption.Preempted) as stop:
        say(str(stop))  # a finished output_dir exits 0, a SIGTERM after its checkpoint 75
        sys.exit(stop.exit_code)
    except (ConfigError, ValueError, TypeError, OSError) as error:
        if debug:
            raise
        print(f"error: {one_line(error)} (--debug shows the traceback)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
