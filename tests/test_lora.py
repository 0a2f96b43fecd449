"""LoRA in s1-train: TRL's options, the adapter and merged folders, and LoRA keys on a full-FT run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

pytest.importorskip("trl")
pytest.importorskip("peft")

from s1_eval.trainer import lora, sft
from tests.test_trainer import RECIPES, S1K, smollm2_path, tiny_qwen2  # noqa: F401 (fixtures)


def test_lora_run_saves_adapter_and_merged_model(tiny_qwen2, tmp_path):  # noqa: F811
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = tmp_path / "lora"
    result = subprocess.run(
        [sys.executable, "-m", "s1_eval.trainer.sft",
         "--config", str(RECIPES / "mini_s1_lora_cpu.yaml"),
         "--model_name_or_path", str(tiny_qwen2), "--dataset_name", str(S1K),
         "--output_dir", str(out), "--max_steps", "2", "--per_device_train_batch_size", "2",
         "--max_length", "128"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    merged = out / "merged"
    assert f"score it: lm_eval --model s1_vllm --model_args pretrained={merged}" in result.stdout
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA" and adapter["r"] == 16
    assert (out / "adapter_model.safetensors").is_file()
    assert json.loads((merged / "config.json").read_text())["use_cache"] is True
    assert (merged / "tokenizer.json").is_file()

    model = AutoModelForCausalLM.from_pretrained(merged)  # a plain model: no peft needed to load
    base = load_file(tiny_qwen2 / "model.safetensors")
    weights = model.state_dict()
    assert not any("lora" in name for name in weights)
    changed = [name for name, tensor in base.items() if not weights[name].equal(tensor)]
    assert "model.layers.0.self_attn.q_proj.weight" in changed  # all-linear: every projection
    assert "model.embed_tokens.weight" not in changed  # frozen


def test_peft_config_is_trls(tmp_path):
    args, _ = sft.parse_config(
        ["--config", str(RECIPES / "mini_s1_lora_cpu.yaml"), "--lora_r", "4", "--output_dir", "x"]
    )
    config = lora.peft_config(args)
    assert (config.r, config.lora_alpha, config.lora_dropout) == (4, 32, 0.05)
    assert config.target_modules == "all-linear" and config.task_type == "CAUSAL_LM"
    full, _ = sft.parse_config(["--config", str(RECIPES / "mini_s1_cpu.yaml")])
    assert lora.peft_config(full) is None


@pytest.mark.parametrize(
    "extra",
    [
        ["--lora_r", "8"],
        ["--lora_alpha", "8"],
        ["--lora_dropout", "0.1"],
        ["--lora_target_modules", "q_proj", "v_proj"],
    ],
)
def test_lora_option_on_a_full_ft_run_fails_before_the_model_loads(extra, monkeypatch):
    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(sft, "load_model", no_model)
    key = extra[0][2:]
    with pytest.raises(ValueError, match=rf"^{key}: is a LoRA option but use_peft is false"):
        sft.run(["--config", str(RECIPES / "tiny_cpu.yaml"), *extra])


def test_lora_keys_in_a_full_ft_recipe(tmp_path):
    recipe = yaml.safe_load((RECIPES / "tiny_cpu.yaml").read_text())
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**recipe, "lora_r": 16, "use_peft": False}))
    args, _ = sft.parse_config(["--config", str(path)])  # TRL's default value: harmless
    assert not args.use_peft
    path.write_text(yaml.safe_dump({**recipe, "lora_target_modules": ["q_proj"]}))
    with pytest.raises(ValueError, match=r"^lora_target_modules: is a LoRA option"):
        sft.parse_config(["--config", str(path)])


def test_lora_option_line_from_the_command_line(tmp_path, monkeypatch, capsys):
    """s1-train's entry point in-process (its console script's exit 2: test_trainer.py)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_status:
        sft.main(["--config", str(RECIPES / "tiny_cpu.yaml"), "--lora_r", "8"])
    assert exit_status.value.code == 2
    errors = [row for row in capsys.readouterr().err.splitlines() if row.startswith("error:")]
    assert errors == ["error: lora_r: is a LoRA option but use_peft is false (add use_peft: true)"]
