"""LoRA for s1-train: TRL's own ModelConfig options, peft's adapter, and a merged model to score.

    s1-train --config trainer/recipes/mini_s1_lora_cpu.yaml   # or --use_peft on any recipe

The options keep TRL's names, defaults and help (`use_peft`, `lora_r`, `lora_alpha`,
`lora_dropout`, `lora_target_modules`); the LoraConfig itself comes from `trl.get_peft_config`.
A LoRA run saves the adapter in `output_dir` and the merged full model in `output_dir/merged`,
which any engine (s1_vllm included) loads like a fully fine-tuned model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from trl import ModelConfig, get_peft_config

from s1_eval.trainer.data import ConfigError

MERGED_SUBDIR = "merged"

_TRL_FIELDS = {f.name: f for f in dataclasses.fields(ModelConfig)}


def trl_field(name: str):
    """ModelConfig's field ``name`` as a field of ours: TRL's default and help text, unchanged."""
    source = _TRL_FIELDS[name]
    return field(default=source.default, metadata=dict(source.metadata))


@dataclass
class LoraArgs:
    """The LoRA subset of TRL's ModelConfig (S1Args has the model and dtype fields already)."""

    use_peft: bool = trl_field("use_peft")
    lora_r: int = trl_field("lora_r")
    lora_alpha: int = trl_field("lora_alpha")
    lora_dropout: float = trl_field("lora_dropout")
    lora_target_modules: list[str] | None = trl_field("lora_target_modules")  # noqa: RUF009

    def check_lora_options(self) -> None:
        """A LoRA option on a full fine-tuning run would be silently ignored: name it instead."""
        if self.use_peft:
            return
        for option in dataclasses.fields(LoraArgs):
            if option.name != "use_peft" and getattr(self, option.name) != option.default:
                raise ConfigError(
                    option.name, "is a LoRA option but use_peft is false (add use_peft: true)"
                )


def peft_config(args: LoraArgs):
    """peft's LoraConfig for these options, or None for full fine-tuning."""
    if not args.use_peft:
        return None
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(LoraArgs)}
    return get_peft_config(ModelConfig(**options))


def merged_dir(output_dir: str) -> Path:
    return Path(output_dir) / MERGED_SUBDIR


def save_merged(adapter_dir: str, tokenizer, load_base) -> Path:
    """The base weights with the adapter folded in (peft's merge_and_unload), next to the adapter.

    The base is loaded afresh rather than merged in place so this works the same whether the
    trained copy is sharded (FSDP, ZeRO-3) or not; ``load_base`` is the trainer's own loader.
    """
    from peft import PeftModel

    merged = PeftModel.from_pretrained(load_base(), adapter_dir).merge_and_unload()
    merged.config.use_cache = True  # inference engines read it from the saved config
    target = merged_dir(adapter_dir)
    merged.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
