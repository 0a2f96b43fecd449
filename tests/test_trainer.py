"""The s1 SFT trainer: data layout, loss mask, guard rails, recipes, and a train -> score round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("trl")

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from s1_eval.common.bundled import TRAINER_DIR
from s1_eval.trainer import data, sft

FIXTURES = Path(__file__).parent / "fixtures"
S1K = FIXTURES / "s1k_tiny.jsonl"
S1K11 = FIXTURES / "s1k11_tiny.jsonl"
RECIPES = TRAINER_DIR / "recipes"
ACCELERATE_CONFIGS = TRAINER_DIR / "accelerate_configs"
TRAJECTORY_COLUMNS = ("question", "thinking_trajectories", "attempt")


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from s1_eval.demo.smollm2 import ensure_smollm2

    try:
        return ensure_smollm2()
    except RuntimeError as error:  # weights package not installed
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def tiny_qwen2(smollm2_path, tmp_path_factory) -> Path:
    """A random 2-layer Qwen2 (hidden 64) with SmolLM2's tokenizer and chat template."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2_path)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_argv(model: Path, output_dir: Path, *extra: str) -> list[str]:
    return [
        "--config", str(RECIPES / "tiny_cpu.yaml"),
        "--model_name_or_path", str(model),
        "--dataset_name", str(S1K),
        "--output_dir", str(output_dir),
        *extra,
    ]  # fmt: skip


def test_s1_completion_layout_matches_s1():
    assert data.s1_completion("step 1", "4") == (
        "<|im_start|>think\nstep 1\n<|im_start|>answer\nAnswer: 4"
    )
    assert data.s1_completion("step 1", "4", "think") == "<think>\nstep 1\n</think>\nAnswer: 4"


def test_thinking_list_is_joined_and_string_kept_whole():
    assert data.thinking_text(["a", "b"]) == "a\nb"
    assert data.thinking_text("abc") == "abc"  # never "a\nb\nc"
    with pytest.raises(TypeError):
        data.thinking_text(3)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        (S1K, "gemini", ("question", "thinking_trajectories", "attempt")),
        (S1K11, "gemini", ("question", "gemini_thinking_trajectory", "gemini_attempt")),
        (S1K11, "deepseek", ("question", "deepseek_thinking_trajectory", "deepseek_attempt")),
    ],
)
def test_columns_follow_the_schema(path, source, expected):
    rows = data.load_rows(str(path))
    assert tuple(vars(data.resolve_columns(rows.column_names, source)).values()) == expected


def test_generic_and_explicit_columns():
    names = ["problem", "thinking", "answer", "question"]
    assert data.resolve_columns(names) == data.Columns("question", "thinking", "answer")
    assert data.resolve_columns(names, question="problem").question == "problem"
    with pytest.raises(ValueError, match="reasoning"):
        data.resolve_columns(names, thinking="reasoning")


def test_s1k11_string_traces_become_completions():
    rows = data.load_rows(str(S1K11))
    columns = data.resolve_columns(rows.column_names, "deepseek")
    completion = data.build_s1_dataset(rows, columns)[1]["completion"][0]["content"]
    assert completion == (
        "<|im_start|>think\nOkay, let me see. 9 * 8 = 72.\nCheck: 8 * 9 = 72.\nWait, yes."
        "\n<|im_start|>answer\nAnswer: DeepSeek: The product is 72. $\\boxed{72}$"
    )


def test_hub_names_go_to_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, config=None, split=None, **kwargs):
        calls.append((name, config, split))
        return Dataset.from_json(str(S1K11))

    monkeypatch.setattr(data, "load_dataset", fake_load_dataset)
    rows = data.load_rows("simplescaling/s1K-1.1")
    assert calls == [("simplescaling/s1K-1.1", None, "train")]
    assert "gemini_thinking_trajectory" in rows.column_names


def test_missing_local_file_is_named():
    with pytest.raises(data.ConfigError, match=r"dataset_name: file not found: nope\.jsonl"):
        data.load_rows("nope.jsonl")


@pytest.mark.parametrize(
    ("name", "content", "named"),
    [
        (
            "bad.jsonl",
            '{"question": "q"}\n{"question": \n',
            r"bad\.jsonl, line 2, column \d+: invalid JSON",
        ),
        (
            "list.jsonl",
            '{"question": "q"}\n[1, 2]\n',
            r"list\.jsonl, line 2: expected a JSON object",
        ),
        ("object.json", '{"question": "q"}', r"object\.json holds a dict: expected a list"),
        ("empty.jsonl", "\n", r"empty\.jsonl has no rows"),
        ("binary.jsonl", b"\x89PNG\r\n\x1a\n\xff\xfe", r"binary\.jsonl, line 1: not UTF-8 text"),
    ],
)
def test_bad_local_data_is_named_by_file_and_line(tmp_path, name, content, named):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(data.ConfigError, match=named):
        data.load_rows(str(path))


@pytest.fixture
def tiny_trainer(tiny_qwen2, tmp_path, capsys):
    args, config = sft.parse_config(tiny_argv(tiny_qwen2, tmp_path, "--max_steps", "1"))
    trainer = sft.build_trainer(args, config)
    return trainer, capsys.readouterr().out


def test_loss_mask_is_exactly_the_prompt(tiny_trainer):
    """Token by token: -100 on the rendered prompt (system + user + assistant header), the
    token ids everywhere else, and the s1 layout in what is trained."""
    trainer, _ = tiny_trainer
    tokenizer = trainer.processing_class
    rows = data.load_rows(str(S1K))
    assert len(trainer.train_dataset) == len(rows)
    for row, sample in zip(rows, trainer.train_dataset, strict=True):
        user = [{"role": "user", "content": row["question"]}]
        completion = data.s1_completion(row["thinking_trajectories"], row["attempt"])
        assistant = [{"role": "assistant", "content": completion}]
        prompt_ids = tokenizer.apply_chat_template(user, add_generation_prompt=True)["input_ids"]
        full_ids = tokenizer.apply_chat_template(user + assistant)["input_ids"]
        input_ids, labels = sample["input_ids"], sample["labels"]
        assert input_ids == full_ids
        n = len(prompt_ids)
        assert input_ids[:n] == prompt_ids
        assert labels[:n] == [-100] * n
        assert labels[n:] == input_ids[n:]
        trained = tokenizer.decode(input_ids[n:])
        assert trained.startswith("<|im_start|>think\n")
        assert "\n<|im_start|>answer\nAnswer: " in trained
        assert trained.endswith("<|im_end|>\n")  # the model learns to stop


def test_collator_keeps_the_mask(tiny_trainer):
    trainer, _ = tiny_trainer
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    for row, sample in enumerate(trainer.train_dataset.select(range(2))):
        n = len(sample["labels"])
        assert batch["labels"][row, :n].tolist() == sample["labels"]
        assert (batch["labels"][row, n:] == -100).all()  # padding is never trained on


def test_text_column_trap_trains_on_everything(tiny_qwen2, tmp_path):
    """Why s1-train never hands TRL a `text` column: completion_only_loss does not mask it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen2)
    messages = [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": data.s1_completion("2 + 2 = 4", "4")},
    ]
    text = Dataset.from_list([{"text": tokenizer.apply_chat_template(messages, tokenize=False)}])
    config = SFTConfig(
        output_dir=str(tmp_path), max_length=256, completion_only_loss=True, use_cpu=True,
        bf16=False, report_to="none",
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2)
    trainer = SFTTrainer(model=model, args=config, train_dataset=text, processing_class=tokenizer)
    sample = trainer.train_dataset[0]
    assert sample["labels"] == sample["input_ids"]  # the prompt is trained on too
    with pytest.raises(ValueError, match="text"):
        data.require_prompt_completion(text)


def test_truncated_samples_are_counted(tiny_qwen2, tmp_path, capsys):
    args, config = sft.parse_config(tiny_argv(tiny_qwen2, tmp_path, "--max_length", "64"))
    trainer = sft.build_trainer(args, config)
    out = capsys.readouterr().out
    lengths = data.sequence_lengths(
        data.build_s1_dataset(data.load_rows(str(S1K)), data.Columns(*TRAJECTORY_COLUMNS)),
        trainer.processing_class,
    )
    over = sum(n > 64 for n in lengths)
    assert over > 0
    assert f"{over} of 8 samples are longer than max_length=64" in out
    assert max(len(s["input_ids"]) for s in trainer.train_dataset) == 64


def test_max_length_must_be_explicit(tmp_path):
    with pytest.raises(ValueError, match="max_length: must be set"):
        sft.S1SFTConfig(output_dir=str(tmp_path))
    recipe = yaml.safe_load((RECIPES / "tiny_cpu.yaml").read_text())
    del recipe["max_length"]
    path = tmp_path / "no_max_length.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(ValueError, match="max_length: must be set"):
        sft.parse_config(["--config", str(path)])


@pytest.mark.skipif(sft.has_accelerator(), reason="checks the CPU-only fallback")
def test_cpu_only_machine_turns_bf16_off(tmp_path, capsys):
    config = sft.S1SFTConfig(output_dir=str(tmp_path), max_length=128, bf16=True)
    assert (config.bf16, config.use_cpu) == (False, True)
    assert "bf16 off" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"block_size": 32768}, "block_size -> max_length"),
        ({"warmup_ratio": 0.05}, "warmup_ratio -> warmup_steps"),
        ({"learning_rat": 1e-5}, "learning_rat"),
    ],
)
def test_bad_recipe_key_is_named(tmp_path, extra, named):
    recipe = {**yaml.safe_load((RECIPES / "tiny_cpu.yaml").read_text()), **extra}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(ValueError, match=named):
        sft.parse_config(["--config", str(path)])


def test_bad_flag_is_named():
    with pytest.raises(ValueError, match="max_seq_length -> max_length"):
        sft.parse_config(["--config", str(RECIPES / "tiny_cpu.yaml"), "--max_seq_length", "8"])
    _, config = sft.parse_config(
        ["--config", str(RECIPES / "tiny_cpu.yaml"), "--no_completion_only_loss", "--max-length=9"]
    )
    assert (config.completion_only_loss, config.max_length) == (False, 9)


def test_missing_column_fails_before_the_model_loads(tiny_qwen2, tmp_path, monkeypatch):
    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(sft, "load_model", no_model)
    argv = tiny_argv(tiny_qwen2, tmp_path, "--thinking_column", "reasoning")
    with pytest.raises(ValueError, match="reasoning"):
        sft.run(argv)


CONSOLE_ERRORS = [
    (["--block_size", "8"], "error: block_size: unknown config key (renamed: block_size -> max_length)"),
    (["--delimiters", "xml"], "error: delimiters: expected one of ['s1', 'think'], got 'xml'"),
    (["--dataset_name", "missing.jsonl"], "error: dataset_name: file not found: missing.jsonl"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "line"), CONSOLE_ERRORS)
def test_bad_input_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys, extra, line):
    """s1-train's entry point in-process: each bad value is one line and exit status 2."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_status:
        sft.main(["--config", str(RECIPES / "tiny_cpu.yaml"), *extra])
    assert exit_status.value.code == 2
    stderr = capsys.readouterr().err
    errors = [row for row in stderr.splitlines() if row.startswith("error:")]
    assert errors == [line], stderr[-2000:]
    assert "Traceback" not in stderr


def test_console_script_prints_one_line_and_exits_2(tmp_path):
    """The installed `s1-train` itself (a ~12 s start: torch and TRL load), on one bad value."""
    extra, line = CONSOLE_ERRORS[0]
    script = Path(sys.executable).parent / "s1-train"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "s1_eval.trainer.sft"]
    result = subprocess.run(
        [*command, "--config", str(RECIPES / "tiny_cpu.yaml"), *extra],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    errors = [row for row in result.stderr.splitlines() if row.startswith("error:")]
    assert errors == [line], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_estimate_and_select_refuse_bad_input_before_trl_loads():
    """`s1-train estimate` / `select` read their own arguments first: a missing one is the same
    one line, and neither TRL nor the training script has been imported by then."""
    probe = (
        "import sys\n"
        "from s1_eval.trainer.command import main\n"
        "for words in (['estimate', '--config', 'x.yaml'], ['select', '--pool', 'p.jsonl']):\n"
        "    try:\n"
        "        main(words)\n"
        "    except SystemExit as stop:\n"
        "        print(stop.code)\n"
        "print(sorted(m for m in ('trl', 's1_eval.trainer.sft', 'torch') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.splitlines() == ["2", "2", "[]"], done.stdout + done.stderr[-2000:]
    errors = [row for row in done.stderr.splitlines() if row.startswith("error:")]
    assert errors == [
        "error: estimate: the following arguments are required: --num_gpus",
        "error: select: the following arguments are required: --output_dir",
    ], done.stderr[-2000:]


def test_debug_shows_the_traceback_above_the_one_line(tmp_path, monkeypatch, capsys):
    """As `s1-eval --debug`: the traceback, then the same line and exit status 2."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_status:
        sft.main(["--config", "missing.yaml", "--debug"])
    stderr = capsys.readouterr().err
    assert exit_status.value.code == 2 and "Traceback" in stderr and "ConfigError" in stderr
    assert stderr.strip().splitlines()[-1] == "error: --config: no such recipe file: missing.yaml"


def test_global_batch_size_sets_accumulation(monkeypatch, tmp_path):
    args = sft.S1Args(global_batch_size=16)
    config = sft.S1SFTConfig(
        output_dir=str(tmp_path), max_length=8, per_device_train_batch_size=1, use_cpu=True
    )
    monkeypatch.setenv("WORLD_SIZE", "4")
    sft.apply_global_batch_size(args, config)
    assert config.gradient_accumulation_steps == 4
    config.per_device_train_batch_size = 3
    with pytest.raises(ValueError, match="multiple"):
        sft.apply_global_batch_size(args, config)


def test_fsdp_activation_checkpointing_replaces_gradient_checkpointing(monkeypatch, tmp_path):
    config = sft.S1SFTConfig(output_dir=str(tmp_path), max_length=8, use_cpu=True, bf16=False)
    assert config.gradient_checkpointing
    monkeypatch.setenv("FSDP_ACTIVATION_CHECKPOINTING", "true")
    sft.avoid_double_checkpointing(config)
    assert not config.gradient_checkpointing


def test_paper_recipes(tmp_path):
    s1, s1_config = sft.parse_config(["--config", str(RECIPES / "s1_32b.yaml")])
    assert (s1.model_name_or_path, s1.dataset_name) == (
        "Qwen/Qwen2.5-32B-Instruct",
        "simplescaling/s1K",
    )
    assert s1.global_batch_size == 16 and s1.delimiters == "s1"
    expected = {
        "num_train_epochs": 5, "learning_rate": 1e-5, "lr_scheduler_type": "cosine",
        "warmup_steps": 0.05, "weight_decay": 1e-4, "adam_beta1": 0.9, "adam_beta2": 0.95,
        "max_length": 32768, "per_device_train_batch_size": 1, "completion_only_loss": True,
    }  # fmt: skip
    got = {key: getattr(s1_config, key) for key in expected}
    got["lr_scheduler_type"] = str(got["lr_scheduler_type"].value)
    assert got == expected
    assert s1_config.bf16 == sft.has_accelerator()  # bf16 unless this machine has no GPU
    s11, s11_config = sft.parse_config(["--config", str(RECIPES / "s1.1_32b.yaml")])
    assert (s11.dataset_name, s11.trace_source) == ("simplescaling/s1K-1.1", "deepseek")
    assert s11_config.max_length == 20000


def test_accelerate_configs():
    fsdp = yaml.safe_load((ACCELERATE_CONFIGS / "fsdp2.yaml").read_text())
    assert fsdp["distributed_type"] == "FSDP" and fsdp["mixed_precision"] == "bf16"
    assert {
        "fsdp_version": 2,
        "fsdp_transformer_layer_cls_to_wrap": "Qwen2DecoderLayer",
        "fsdp_activation_checkpointing": True,
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_state_dict_type": "FULL_STATE_DICT",
    }.items() <= fsdp["fsdp_config"].items()
    zero3 = yaml.safe_load((ACCELERATE_CONFIGS / "zero3.yaml").read_text())
    assert zero3["distributed_type"] == "DEEPSPEED"
    assert zero3["deepspeed_config"]["zero_stage"] == 3
    from accelerate.commands.config.config_args import ClusterConfig

    for path in (ACCELERATE_CONFIGS / "fsdp2.yaml", ACCELERATE_CONFIGS / "zero3.yaml"):
        ClusterConfig.from_yaml_file(path)  # accelerate itself accepts every key


def test_tiny_model_trains_and_saves(tiny_qwen2, tmp_path):
    out = tmp_path / "out"
    trainer = sft.run(tiny_argv(tiny_qwen2, out, "--max_steps", "2"))
    assert trainer.state.global_step == 2
    saved = json.loads((out / "config.json").read_text())
    assert saved["use_cache"] is True  # inference engines read it
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()


# --- the real round trip: SmolLM2-135M-Instruct, trained here, scored by s1_vllm ---------------
