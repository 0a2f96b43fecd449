"""s1-style SFT on current TRL: s1K / s1K-1.1 / a local JSONL, loss on the assistant turn only.

    accelerate launch --config_file trainer/accelerate_configs/fsdp2.yaml -m s1_eval.trainer.sft \
        --config trainer/recipes/s1_32b.yaml [--any_field value ...]
    s1-train estimate --config trainer/recipes/s1_32b.yaml --num_gpus 16   # memory per GPU
    s1-train --help                                                        # the commands

Configuration is two dataclasses (`S1Args` for model, data and LoRA, `S1SFTConfig` = TRL's
SFTConfig with s1's guard rails), filled from a YAML recipe (`--config`) and then from flags.
"""

from __future__ import annotations

import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTTrainer

from s1_eval.common.log import bad_input_is_one_line
from s1_eval.trainer import lora, preemption
from s1_eval.trainer.config import (
    S1Args,
    S1SFTConfig,
    apply_global_batch_size,
    avoid_double_checkpointing,
    has_accelerator,
    parse_config,
    say,
)
from s1_eval.trainer.data import (
    build_s1_dataset,
    load_rows,
    require_prompt_completion,
    resolve_columns,
    sequence_lengths,
    truncation_report,
)
from s1_eval.trainer.usage import BAD_INPUT, TOOL_COMMANDS, command_words, run_tool_command


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
    """``s1-train``: bad input is one line on stderr and exit status 2 (``--debug``: the
    traceback above it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = command_words([a for a in argv if a != "--debug"])
    if argv[0] in TOOL_COMMANDS:
        run_tool_command(argv, debug)
        return
    with bad_input_is_one_line(debug, BAD_INPUT):
        try:
            run(argv)
        except (preemption.AlreadyTrained, preemption.Preempted) as stop:
            say(str(stop))  # a finished output_dir exits 0, a SIGTERM after its checkpoint 75
            sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
