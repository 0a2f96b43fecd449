"""A thinking cap the context cannot hold is clamped per request, and thinking that uses up the
length is scored as no answer: exact token counts on the scripted backend, then SmolLM2 on
real vLLM with a 256-token context through the real ``lm_eval --model s1_vllm`` CLI.

    pytest tests/test_context_clamp.py
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from s1_eval.backends.lm import S1Scripted
from s1_eval.common.log import LOGGER_NAME
from s1_eval.engines.tokenizer import load_tokenizer
from s1_eval.report.metrics import cell_stats
from s1_eval.runs.samples import to_record
from s1_eval.tasks.scoring import process_math_results
from s1_eval.trace import SampleRecord, flat_row, read_row_fields
from tests.conftest import ENGINE_ARGS, read_results, read_samples

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "fixtures" / "data"
CONTEXT = 256
ROOM = 32
#: the scripted model keeps thinking this long unless stopped
LONG = "What is 2 + 3? It needs 500 thinking tokens."
CAP = {"max_tokens_thinking": 30000, "max_gen_toks": 32768, "until": []}
UNCAPPED = {"max_tokens_thinking": "none", "until": []}


def _generate(lm, prompts, gen_kwargs):
    requests = [Instance("generate_until", {}, (p, gen_kwargs), i) for i, p in enumerate(prompts)]
    return lm.generate_until(requests, disable_tqdm=True)


def _scripted(**model_args):
    return S1Scripted(patience=1000, max_model_len=CONTEXT, **model_args)


def test_a_cap_the_context_cannot_hold_is_clamped_to_leave_the_answer_its_room(caplog):
    lm = _scripted(answer_room_tokens=ROOM)
    encode = lm.lazy.tokenizer.encode
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        long, short = _generate(lm, [LONG, "What is 1 + 1? It needs 40 thinking tokens."], CAP)
    head = len(encode(LONG)) + len(encode("<|im_start|>think"))
    closing = len(encode("<|im_start|>answer\nFinal Answer:"))
    limit = CONTEXT - head - closing - ROOM
    trace = long.trace
    assert (trace.thinking_tokens, trace.thinking_limit) == (limit, limit)
    assert trace.context_clamped and not trace.cap_fired and not trace.no_answer
    assert trace.max_tokens_thinking == 30000  # the row keeps the cap that was asked for
    assert long.answer.startswith("\nThe answer is") and trace.answer_tokens > 0
    # the context held all of it: the cap's newline came out of the answer's room
    newline = len(encode("\n"))
    assert head + trace.thinking_tokens + newline + closing + trace.answer_tokens <= CONTEXT
    # clamped too (its limit was lowered), though it closed thinking on its own first
    assert short.trace.context_clamped and short.trace.thinking_tokens == 40
    [warning] = [r.getMessage() for r in caplog.records if "clamped" in r.getMessage()]
    for number in (f"max_model_len={CONTEXT}", "max_tokens_thinking=30000",
                   f"answer_room_tokens={ROOM}", "for 2 of 2 capped requests"):  # fmt: skip
        assert number in warning, warning


def test_a_cap_that_fits_is_not_clamped(caplog):
    lm = _scripted()
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        [text] = _generate(lm, [LONG], {**CAP, "max_tokens_thinking": 20})
    assert text.trace.cap_fired and not text.trace.context_clamped
    assert text.trace.thinking_tokens == 20 and not caplog.records


@pytest.mark.parametrize("max_gen_toks", [150, 32768])  # used up: max_gen_toks, the context
def test_thinking_that_uses_up_the_length_is_no_answer(max_gen_toks):
    lm = _scripted()
    [text] = _generate(lm, [LONG], {**UNCAPPED, "max_gen_toks": max_gen_toks})
    trace = text.trace
    head = len(lm.lazy.tokenizer.encode(LONG)) + len(lm.lazy.tokenizer.encode("<|im_start|>think"))
    assert trace.thinking_tokens == min(max_gen_toks, CONTEXT - head)
    assert trace.no_answer and trace.answer_tokens == 0 and not trace.context_clamped
    row = flat_row(process_math_results({"answer": "5"}, [text]))
    assert row["no_answer"] == 1 and row["exact_match"] == 0
    assert (row["grading_failure"], row["extracted_answer"]) == ("no_answer", "")


def test_the_fork_flag_closes_with_final_answer_and_answers_with_max_gen_toks_again():
    lm = _scripted(unclosed_thinking="fork")
    [text] = _generate(lm, [LONG], {**UNCAPPED, "max_gen_toks": 150})
    trace = text.trace
    assert trace.thinking_tokens == 150 and not trace.no_answer and not trace.cap_fired
    assert "\n<|im_start|>answer\nFinal Answer:" in text and trace.answer_tokens > 0
    assert trace.thinking_tokens + trace.answer_tokens > 150  # a fresh max_gen_toks
    row = flat_row(process_math_results({"answer": "6"}, [text]))  # graded on what it wrote
    assert row["no_answer"] == 0 and row["exact_match"] == 1


@pytest.mark.parametrize(
    ("model_args", "message"),
    [
        ({"answer_room_tokens": -1}, "answer_room_tokens=-1 is invalid: expected an integer >= 0."),
        ({"answer_room_tokens": "lots"}, "answer_room_tokens='lots' is invalid"),
        ({"unclosed_thinking": "guess"}, "unclosed_thinking='guess' is invalid: expected no_answer or fork."),
        ({"answer_room_tonkens": 5}, "Did you mean 'answer_room_tokens'?"),
    ],
)  # fmt: skip
def test_bad_model_args_fail_in_one_line(model_args, message):
    with pytest.raises(ValueError) as error:
        S1Scripted(**model_args)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_prompt_that_leaves_no_room_to_think_is_refused_before_the_engine_starts():
    lm = _scripted(answer_room_tokens=CONTEXT - 60)
    with pytest.raises(ValueError) as error:
        _generate(lm, [LONG], CAP)
    assert "leaves no room to think" in str(error.value) and "lower answer_room_tokens" in str(
        error.value
    )
    assert not lm.lazy.started


def test_rows_written_before_the_fields_existed_still_read():
    old = {"doc_id": 0, "exact_match": 1, "has_trace": 1, "thinking_tokens": 9,
           "answer_tokens": 3, "max_tokens_thinking": 10, "suppressions": 0, "cap_fired": 0,
           "rejection_tries": 0, "loop_stopped": 0}  # fmt: skip
    assert read_row_fields(old)["context_clamped"] is None
    stats = cell_stats([to_record(old, "exact_match")])
    assert stats.within_cap_pct == 100.0
    assert stats.context_clamped_pct is None and stats.no_answer_pct is None


def test_control_counts_a_clamped_sample_within_its_cap_and_no_answer_is_its_own_share():
    base = dict(max_tokens_thinking=100, cap_fired=0, answer_tokens=5)
    records = [
        SampleRecord(0, 1.0, thinking_tokens=60, context_clamped=1, no_answer=0, **base),
        SampleRecord(1, 0.0, thinking_tokens=100, context_clamped=0, no_answer=1, **base),
    ]
    stats = cell_stats(records)
    assert stats.within_cap_pct == 100.0
    assert (stats.context_clamped_pct, stats.no_answer_pct) == (50.0, 50.0)


# -- the real engine, 256 tokens of context ----------------------------------------------------


@pytest.fixture(scope="module")
def short_context_run(smollm2_dir, tmp_path_factory):
    """One ``lm_eval --model s1_vllm`` run, max_model_len=256, over three MATH500 problems as
    two tasks: the paper's settings (cap 30000, max_gen_toks 32768) and the same uncapped."""
    tasks = tmp_path_factory.mktemp("clamp_tasks")
    for name, budget in (("capped", 30000), ("uncapped", "none")):
        (tasks / f"clamp_{name}.yaml").write_text(
            f"include: {REPO / 'tasks' / 's1_math500.yaml'}\n"
            f"task: clamp_math500_{name}\n"
            "generation_kwargs:\n  until: []\n  do_sample: false\n  temperature: 0.0\n"
            f"  max_gen_toks: 32768\n  max_tokens_thinking: {budget}\n"
        )
    out = tmp_path_factory.mktemp("clamp_out")
    args = {"pretrained": smollm2_dir, **ENGINE_ARGS, "max_model_len": CONTEXT}
    command = [
        sys.executable, "-m", "lm_eval", "--model", "s1_vllm",
        "--model_args", ",".join(f"{k}={v}" for k, v in args.items()),
        "--tasks", "clamp_math500_capped,clamp_math500_uncapped", "--include_path", str(tasks),
        "--limit", "3", "--apply_chat_template", "--log_samples", "--output_path", str(out),
    ]  # fmt: skip
    env = {**os.environ, "S1_EVAL_DATA_DIR": str(DATA)}
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr, out


@pytest.mark.engine
def test_the_paper_settings_on_a_256_token_context_say_what_happened(
    short_context_run, smollm2_dir
):
    log, out = short_context_run
    warnings = [line for line in log.splitlines() if "cannot hold prompt + thinking budget" in line]
    assert len(warnings) == 1, warnings  # one per run, naming the numbers
    for number in ("max_model_len=256", "max_tokens_thinking=30000", "answer_room_tokens=100",
                   "for 3 of 3 capped requests"):  # fmt: skip
        assert number in warnings[0], warnings[0]
    encode = load_tokenizer(str(smollm2_dir)).encode
    delimiters = len(encode("<|im_start|>think")) + len(encode("<|im_start|>answer\nFinal Answer:"))
    capped = read_samples(out, "clamp_math500_capped")
    assert len(capped) == 3
    reached = 0
    for row in capped:
        assert (row["context_clamped"], row["cap_fired"], row["no_answer"]) == (1, 0, 0), row
        assert row["max_tokens_thinking"] == 30000
        prompt = len(encode(row["arguments"]["gen_args_0"]["arg_0"]))
        limit = CONTEXT - prompt - delimiters - 100  # the answer's room is left free
        assert 0 < row["thinking_tokens"] <= limit
        reached += row["thinking_tokens"] == limit
    assert reached  # SmolLM2 thinks up to the clamped limit on some problems


@pytest.mark.engine
def test_uncapped_thinking_that_fills_the_context_is_no_answer(short_context_run):
    _, out = short_context_run
    rows = read_samples(out, "clamp_math500_uncapped")
    unanswered = [row for row in rows if row["no_answer"] == 1]
    assert unanswered, [(r["thinking_tokens"], r["answer_tokens"]) for r in rows]
    for row in unanswered:
        assert row["answer_tokens"] == 0 and row["exact_match"] == 0 and row["cap_fired"] == 0
        assert row["grading_failure"] == "no_answer" and row["context_clamped"] == 0
    # its mean is in the results file (and lm-eval's table), apart from exact_match
    results = read_results(out)["results"]["clamp_math500_uncapped"]
    assert results["no_answer,none"] == pytest.approx(len(unanswered) / len(rows))
