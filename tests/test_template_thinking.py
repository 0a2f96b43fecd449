"""Chat templates that open or close the thinking block themselves (R1 distills; Qwen3's
``enable_thinking``), through a real tokenizer whose template reads the switch.

    .venv/bin/python -m pytest -q tests/test_template_thinking.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from s1_eval.core.forcing import force_generate
from s1_eval.core.s1_format import PRESETS, template_thinking
from s1_eval.core.settings import parse_gen_kwargs
from tests.conftest import lm_eval_command
from tests.fake_engine import FakeEngine

ROOT = Path(__file__).resolve().parent.parent
TASK_DIR = "tests/fixtures/s1_fake_task"
THINK = PRESETS["think"]
OPENED, CLOSED = "<think>\n", "<think>\n\n</think>\n\n"
#: Qwen3-like: the assistant turn opens thinking, or renders an empty block when it is off
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}" + CLOSED + "{% else %}"
    + OPENED + "{% endif %}{% endif %}"
)  # fmt: skip


@pytest.fixture(scope="module")
def thinking_tokenizer(smollm2_dir, tmp_path_factory) -> Path:
    """The test model's tokenizer (no weights) with the Qwen3-like template."""
    folder = tmp_path_factory.mktemp("thinking_tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (smollm2_dir / name).is_file():
            shutil.copy(smollm2_dir / name, folder / name)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "chat_template.jinja").write_text(TEMPLATE)
    return folder


# ---------------------------------------------------------------------------------------------
# The core: how a prompt's tail leaves thinking
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "state"),
    [("Q<|im_start|>assistant\n" + OPENED, "opened"), ("Q" + CLOSED, "closed"), ("Q\n", "")],
)
def test_the_tail_says_opened_closed_or_neither(tail, state):
    assert template_thinking(tail, THINK)[0] == state
    # in the s1 preset's tags a <think> template is still recognised, as the think preset's
    found = template_thinking(tail, PRESETS["s1"])
    assert found == ((state, THINK) if state else ("", None))


def run(prompt: str, gen_kwargs, scripts, preset="think"):
    engine = FakeEngine(scripts)
    settings = parse_gen_kwargs(gen_kwargs, preset=preset)
    [out] = force_generate(engine, [engine.tokenizer.encode(prompt)], settings)
    return out, engine


def test_a_closed_block_is_answered_without_forcing():
    gen = {"max_tokens_thinking": 5, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait",
           "max_gen_toks": 77}  # fmt: skip
    out, engine = run("Q" + CLOSED, gen, {0: ["the answer 7<EOS>"]})
    [(_, step)] = engine.steps  # one plain generation, the prompt as the template wrote it
    assert step.phase == "answer" and step.max_tokens == 77
    assert engine.tokenizer.decode(step.prompt_token_ids) == "Q" + CLOSED
    assert str(out) == out.answer == "the answer 7"
    t = out.trace
    assert (t.thinking_tokens, t.suppressions, t.cap_fired, t.answer_start) == (0, 0, False, 0)
    assert t.thinking_opened_by == "template_closed" and t.max_tokens_thinking is None


def test_an_opened_block_is_not_opened_again_and_the_budget_counts_from_it():
    out, engine = run("Q" + OPENED, {"max_tokens_thinking": 4}, {0: ["xxxxxxxx", "ans<EOS>"]})
    assert engine.steps[0][1].prompt_token_ids == tuple(engine.tokenizer.encode("Q" + OPENED))
    assert out.trace.thinking_opened_by == "prompt" and out.trace.thinking_tokens == 4
    assert str(out).startswith("xxxx\n</think>")


def test_a_plain_prompt_gets_the_presets_opening():
    out, _ = run("Q\n", {"max_tokens_thinking": 9}, {0: ["t<EOS>", "a<EOS>"]})
    assert out.trace.thinking_opened_by == "appended" and str(out) == OPENED + "t</think>a"


# ---------------------------------------------------------------------------------------------
# A real tokenizer's template, through the backend and the lm_eval command line
# ---------------------------------------------------------------------------------------------


def test_a_template_in_other_tags_than_the_preset_fails_before_the_engine(thinking_tokenizer):
    from s1_eval.backends.lm import S1Scripted

    lm = S1Scripted(tokenizer=str(thinking_tokenizer), enable_thinking=True)  # preset s1
    prompt = lm.apply_chat_template([{"role": "user", "content": "What is 3 + 4?"}])
    assert prompt.endswith("assistant\n" + OPENED)
    request = Instance("generate_until", {}, (prompt, {"max_tokens_thinking": 50}), 0)
    with pytest.raises(ValueError, match="use preset=think"):
        lm.generate_until([request], True)
    assert not lm.lazy.started


def lm_eval_samples(tmp_path: Path, model_args: str, chat_template: bool):
    command = lm_eval_command()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    gen_kwargs = "max_tokens_thinking=300,thinking_n_ignore=1,thinking_n_ignore_str=Wait"
    proc = subprocess.run(
        [*command, "--model", "s1_scripted", "--model_args", model_args, "--tasks", "s1_fake",
         "--include_path", TASK_DIR, "--gen_kwargs", gen_kwargs, "--limit", "2",
         "--output_path", str(tmp_path), "--log_samples",
         *(["--apply_chat_template"] if chat_template else [])],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    [samples_file] = tmp_path.rglob("samples_s1_fake_*.jsonl")
    rows = [json.loads(line) for line in samples_file.read_text().splitlines()]
    [results_file] = tmp_path.rglob("results_*.json")
    return rows, json.loads(results_file.read_text())["config"], proc.stderr


@pytest.mark.parametrize("case", ["opened", "closed", "plain"])
def test_lm_eval_with_a_template_that_opens_or_closes_thinking(thinking_tokenizer, tmp_path, case):
    thinking = {"opened": "True", "closed": "False", "plain": "True"}[case]
    model_args = (f"tokenizer={thinking_tokenizer},preset=think,enable_thinking={thinking},"
                  "patience=200,wait_tokens=50")  # fmt: skip
    rows, config, stderr = lm_eval_samples(tmp_path, model_args, chat_template=case != "plain")
    assert config["s1_chat_template_args"] == {"enable_thinking": thinking == "True"}
    warning = "the chat template closed the thinking block"
    assert stderr.count(warning) == (1 if case == "closed" else 0)
    for row in rows:
        prompt, response = row["arguments"]["gen_args_0"]["arg_0"], row["resps"][0][0]
        if case == "opened":  # the template's tag, no second one; the budget counts from it
            assert prompt.endswith(OPENED) and "<think>" not in response
            assert response.count("</think>") == 1 and "Wait" in response
            assert 0 < row["thinking_tokens"] <= 300 and row["suppressions"] == 1
        elif case == "closed":  # no thinking phase: the whole response is the answer
            assert prompt.endswith(CLOSED) and "</think>" not in response
            assert "Wait" not in response and "\\boxed{" in response
            assert (row["thinking_tokens"], row["suppressions"], row["cap_fired"]) == (0, 0, 0)
        else:  # no template: the forcing writes the preset's opening, as ever
            assert OPENED not in prompt and response.startswith(OPENED)
            assert response.count("</think>") == 1 and row["suppressions"] == 1


@pytest.mark.engine
def test_s1_vllm_with_a_template_that_opens_or_closes_thinking(vllm_lm, thinking_tokenizer):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(thinking_tokenizer))
    chat = [{"role": "user", "content": "What is 2 + 3?"}]
    gen = {"thinking_start": OPENED, "thinking_end": "</think>", "until_thinking": "</think>",
           "max_tokens_thinking": 12, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait",
           "max_gen_toks": 40, "until": ["<|im_end|>"]}  # fmt: skip
    prompts = [
        hf.apply_chat_template(chat, tokenize=False, add_generation_prompt=True, enable_thinking=on)
        for on in (True, False)
    ]
    requests = [Instance("generate_until", {}, (p, gen), i) for i, p in enumerate(prompts)]
    opened, closed = vllm_lm.generate_until(requests, True)
    assert prompts[0].endswith(OPENED) and not str(opened).startswith("<think>")
    assert opened.trace.thinking_opened_by == "prompt"
    assert 0 < opened.trace.thinking_tokens <= 12 and "</think>" in opened.thinking
    assert prompts[1].endswith(CLOSED) and closed.trace.thinking_opened_by == "template_closed"
    assert closed.trace.thinking_tokens == 0 and closed.answer == str(closed)
    assert "Wait" not in closed and closed.trace.answer_tokens > 0
