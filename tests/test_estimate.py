"""s1-train estimate against the paper's setup and real models; s1-train's stray words."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("trl")

from s1_eval.trainer import estimate_cmd
from s1_eval.trainer.data import ConfigError
from s1_eval.trainer.estimate import GIB, ModelShape, Setup, estimate
from tests.test_trainer import RECIPES, smollm2_path, tiny_qwen2  # noqa: F401 (fixtures)

QWEN_32B = ModelShape.from_config(estimate_cmd.KNOWN_CONFIGS["Qwen/Qwen2.5-32B-Instruct"])
#: s1 / s1.1: Qwen2.5-32B-Instruct, block 32768, 16 x H100 80GB, FSDP, gradient checkpointing
PAPER = Setup(block=32768, batch=1, num_gpus=16, checkpointing=True)


def s1_train(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s1_eval.trainer.sft", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )  # fmt: skip


def totals(rows) -> dict[str, float]:
    return {row.name: row.total / GIB for row in rows}


def test_paper_setup_fits_with_fsdp_and_not_on_one_gpu():
    gib = totals(estimate(QWEN_32B, PAPER))
    assert gib["FSDP2 x16"] <= 80 and gib["ZeRO-3 x16"] <= 80
    assert gib["full FT x1"] > 80
    assert gib["full FT x1"] == pytest.approx(16 * QWEN_32B.params / GIB + 35.3, abs=0.5)
    # Halving the GPUs doubles the sharded states: 32768 tokens of 32B no longer fit on 8.
    assert totals(estimate(QWEN_32B, Setup(block=32768, num_gpus=8)))["FSDP2 x8"] > 80


def test_parameter_counts_match_real_models(tiny_qwen2):  # noqa: F811
    from transformers import AutoModelForCausalLM

    assert QWEN_32B.params == pytest.approx(32.76e9, rel=1e-3)  # Qwen2.5-32B's model card
    smollm2 = ModelShape.from_config(estimate_cmd.KNOWN_CONFIGS["HuggingFaceTB/SmolLM2-135M"])
    assert smollm2.params == 134_515_008
    tiny = ModelShape.from_config(estimate_cmd.model_config(str(tiny_qwen2)))
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2)
    assert tiny.params == sum(p.numel() for p in model.parameters())  # biases, tied head


def test_checkpointing_block_and_lora_move_the_right_columns():
    rows = {row.name: row for row in estimate(QWEN_32B, PAPER)}
    no_gc = {r.name: r for r in estimate(QWEN_32B, Setup(block=32768, checkpointing=False))}
    assert no_gc["full FT x1"].activations > 10 * rows["full FT x1"].activations
    half = {r.name: r for r in estimate(QWEN_32B, Setup(block=16384, num_gpus=16))}
    assert half["FSDP2 x16"].activations < 0.55 * rows["FSDP2 x16"].activations
    lora = rows["LoRA r16"]
    assert lora.weights == pytest.approx(2 * QWEN_32B.params, rel=0.01)  # frozen bf16
    assert lora.grads + lora.optimizer < 0.01 * GIB * 100  # the adapter only
    wide = estimate(QWEN_32B, Setup(block=32768, lora_r=64, lora_modules=("q_proj", "o_proj")))
    assert wide[-1].optimizer > lora.optimizer


def test_unknown_hub_model_is_named():
    with pytest.raises(ConfigError, match=r"^model_name_or_path: org/unknown is neither a folder"):
        estimate_cmd.model_config("org/unknown")
    assert estimate_cmd.lora_modules(None, "qwen2") == ("q_proj", "v_proj")  # peft's default
    assert len(estimate_cmd.lora_modules("all-linear", "qwen2")) == 7


def test_estimate_command_prints_the_paper_table(tmp_path):
    result = s1_train(
        "estimate", "--config", str(RECIPES / "s1_32b.yaml"), "--num_gpus", "16", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Qwen/Qwen2.5-32B-Instruct: 32.76 B parameters; block 32768")
    assert "gradient checkpointing on; 16 GPU(s) of 80 GiB" in lines[0]
    fits = {line[:14].strip(): line.split()[-1] for line in lines[2:6]}
    assert fits == {"full FT x1": "no", "FSDP2 x16": "yes", "ZeRO-3 x16": "yes", "LoRA r16": "no"}
    assert "Loading" not in result.stderr  # read config.json only: no weights, no download


def test_estimate_reads_a_local_model_and_recipe_overrides(tiny_qwen2, capsys):  # noqa: F811
    text = estimate_cmd.estimate_command(
        ["--config", str(RECIPES / "tiny_cpu.yaml"), "--num_gpus", "2",
         "--model_name_or_path", str(tiny_qwen2), "--max_length", "64", "--gpu_memory_gib", "1"]
    )  # fmt: skip
    assert "block 64 x batch 2; gradient checkpointing off; 2 GPU(s) of 1 GiB" in text
    assert "FSDP2 x2" in text and text == capsys.readouterr().out.strip()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["nonsense"], "nonsense: unexpected word: s1-train takes --config RECIPE and --field "
         "value flags, or a subcommand ['estimate', 'select']."),
        (["estimat"], "estimat: unexpected word: s1-train takes --config "
         "RECIPE and --field value flags, or a subcommand ['estimate', 'select']. Did you mean 'estimate'?"),
        (["estimate", "--config", "RECIPE"], "estimate: the following arguments are required: "
         "--num_gpus"),
    ],
)  # fmt: skip
def test_stray_word_is_one_line_before_anything_loads(tmp_path, monkeypatch, capsys, args, line):
    """s1-train's entry point in-process (the console script's exit 2 is tested in
    test_trainer.py; the estimate command's run below is a real one)."""
    from s1_eval.trainer import sft

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_status:
        sft.main(list(args))
    assert exit_status.value.code == 2
    stderr = capsys.readouterr().err
    errors = [row for row in stderr.splitlines() if row.startswith("error:")]
    assert errors == [f"error: {line}"], stderr[-2000:]


def test_stray_word_after_flags_is_named():
    from s1_eval.trainer import sft

    with pytest.raises(ConfigError, match=r"^extra: unexpected word"):
        sft.parse_config(["--config", str(RECIPES / "tiny_cpu.yaml"), "--max_steps", "3", "extra"])
    _, config = sft.parse_config(  # a list flag's values are not stray
        ["--config", str(RECIPES / "tiny_cpu.yaml"), "--report_to", "none", "--bf16", "false"]
    )
    assert config.max_steps == 8


def test_the_training_page_shows_the_estimate_as_printed(capsys):
    """The training page's table for the paper's setup, and its 8-GPU figure, are the
    command's own."""
    from tests.conftest import REPO

    page = (REPO / "docs" / "training.md").read_text()
    recipe = ["--config", str(RECIPES / "s1_32b.yaml")]
    sixteen = estimate_cmd.estimate_command([*recipe, "--num_gpus", "16"]).splitlines()
    assert "\n".join(sixteen[:6]) in page
    eight = estimate_cmd.estimate_command([*recipe, "--num_gpus", "8"]).splitlines()
    [fsdp] = [line for line in eight if line.startswith("FSDP2 x8")]
    total = float(fsdp.split()[-2])
    assert f"The same recipe on 8 GPUs needs {total:.0f} GiB each with FSDP2" in page
    capsys.readouterr()
