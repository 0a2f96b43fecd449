"""LoRA and QLoRA for s1-train: TRL's own ModelConfig options, peft's adapter, a merged model.

    s1-train --config trainer/recipes/mini_s1_lora_cpu.yaml   # or --use_peft on any recipe

The options keep TRL's names, defaults and help (`use_peft`, `lora_r`, `lora_alpha`,
`lora_dropout`, `lora_target_modules`); the LoraConfig itself comes from `trl.get_peft_config`.
A LoRA run saves the adapter in `output_dir` and the merged full model in `output_dir/merged`,
which any engine (s1_vllm included) loads like a fully fine-tuned model. QLoRA
(`load_in_4bit`, with `bnb_4bit_quant_type` and `use_bnb_nested_quant`) trains the adapter on a
4-bit base (TRL's `get_quantization_config`); it needs bitsandbytes and a CUDA GPU, and is
refused at parse time where either is missing. Its merged model folds the adapter into the base
loaded unquantized, so it is a plain full-precision model like a LoRA run's.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from trl import ModelConfig, get_peft_config, get_quantization_config

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
    load_in_4bit: bool = trl_field("load_in_4bit")
    bnb_4bit_quant_type: str = trl_field("bnb_4bit_quant_type")
    use_bnb_nested_quant: bool = trl_field("use_bnb_nested_quant")

    def check_lora_options(self) -> None:
        """A LoRA option on a full fine-tuning run would be silently ignored: name it instead."""
        if self.use_peft:
            if self.load_in_4bit:
                check_qlora_available()
            return
        for option in dataclasses.fields(LoraArgs):
            if option.name != "use_peft" and getattr(self, option.name) != option.default:
                raise ConfigError(
                    option.name, "is a LoRA option but use_peft is false (add use_peft: true)"
                )


def check_qlora_available() -> None:
    """bitsandbytes' 4-bit kernels run on CUDA only: say so before the data or model loads,
    instead of a loader traceback minutes later."""
    import torch

    missing = [
        what
        for what, present in (
            ("the bitsandbytes package (pip install bitsandbytes)", _has_bitsandbytes()),
            ("a CUDA GPU", torch.cuda.is_available()),
        )
        if not present
    ]
    if missing:
        raise ConfigError(
            "load_in_4bit",
            f"QLoRA needs {' and '.join(missing)}; without them train plain LoRA (drop "
            "load_in_4bit)",
        )


def _has_bitsandbytes() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def quantized_loading(args: LoraArgs, dtype: str) -> dict:
    """from_pretrained keywords for a QLoRA base (none otherwise): 4-bit weights computing in
    ``dtype``, on this process's GPU (each rank holds its own quantized copy)."""
    if not (args.use_peft and args.load_in_4bit):
        return {}
    from accelerate import PartialState

    options = ModelConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=args.bnb_4bit_quant_type,
        use_bnb_nested_quant=args.use_bnb_nested_quant,
        # "auto" names no compute dtype: bf16 is what every QLoRA-capable GPU computes in
        dtype="bfloat16" if dtype == "auto" else dtype,
    )
    return {
        "quantization_config": get_quantization_config(options),
        "device_map": {"": PartialState().local_process_index},
    }


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
