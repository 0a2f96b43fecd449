"""The thinking-loop guard on the scripted fake engine: where it stops, what it records."""

from __future__ import annotations

import json
import subprocess

import pytest

from s1_eval.core.forcing import force_generate
from s1_eval.core.loop_guard import CHECK_EVERY, LoopGuard, LoopWatch, parse_loop_guard
from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.demo.run import STOCK_GEN_KWARGS
from tests.conftest import REPO, engine_args_string, lm_eval_command, read_samples
from tests.fake_engine import FakeEngine

START, END = "<|im_start|>think", "<|im_start|>answer"


def run(script, gen_kwargs):
    engine = FakeEngine({0: script})
    prompts = [engine.tokenizer.encode("Q?")]
    [out] = force_generate(engine, prompts, parse_gen_kwargs(gen_kwargs, preset="s1"))
    return out, engine


def test_a_loop_is_cut_where_it_completes_and_closed_like_the_cap():
    looping = "so x=" + "12345" * 200  # the model repeats "12345" forever
    out, engine = run(
        [looping, "42<EOS>"], {"max_tokens_thinking": 500, "thinking_loop_guard": "5:3"}
    )
    t = out.trace
    # "so x=" + 3 periods: the 5-gram "12345" has appeared 3 times
    assert out.thinking == START + "so x=" + "12345" * 3 + "\n" + END + "\nFinal Answer:"
    assert t.loop_stopped and not t.cap_fired
    assert t.thinking_tokens == 20 and t.loop_tokens_saved == 480
    assert out.answer == "42"
    thinking_steps = [s for _, s in engine.steps if s.phase == "thinking"]
    assert [s.max_tokens for s in thinking_steps] == [CHECK_EVERY]


def test_a_loop_that_starts_late_is_caught_in_a_later_chunk():
    text = "".join(chr(ord("a") + i % 26) + chr(ord("A") + i // 26 % 26) for i in range(60))
    looping = text + "xyz" * 100
    script = [looping[i : i + CHECK_EVERY] for i in range(0, 3 * CHECK_EVERY, CHECK_EVERY)]
    script.append("7<EOS>")
    out, engine = run(script, {"max_tokens_thinking": 400, "thinking_loop_guard": "3:4"})
    assert out.trace.loop_stopped and out.trace.thinking_tokens == 120 + 12
    assert out.trace.thinking_finish_reasons == ("length",) * 3
    assert [s.min_tokens for _, s in engine.steps if s.phase == "thinking"] == [0, 0, 0]


def test_without_a_loop_the_guard_changes_nothing_but_the_chunking():
    thinking = "".join(chr(ord("a") + i % 26) + chr(ord("A") + i // 26) for i in range(50))
    unguarded, _ = run([thinking + "<|im_start|>", "9<EOS>"], {"max_tokens_thinking": 300})
    chunks = [thinking[:CHECK_EVERY], thinking[CHECK_EVERY:] + "<|im_start|>", "9<EOS>"]
    guarded, _ = run(chunks, {"max_tokens_thinking": 300, "thinking_loop_guard": "4:2"})
    assert str(guarded) == str(unguarded)
    assert not guarded.trace.loop_stopped and guarded.trace.loop_tokens_saved == 0
    assert guarded.trace.thinking_tokens == unguarded.trace.thinking_tokens == 100


def test_the_cap_still_wins_over_a_loop_that_has_not_completed():
    out, _ = run(["ab" * 200, "1<EOS>"], {"max_tokens_thinking": 3, "thinking_loop_guard": "2:3"})
    assert out.trace.cap_fired and not out.trace.loop_stopped and out.trace.thinking_tokens == 3


def test_the_setting_is_recorded_with_the_results():
    settings = parse_gen_kwargs({"thinking_loop_guard": "20:3"})
    assert settings.forcing.loop_guard == LoopGuard(20, 3)
    assert settings.describe()["thinking_loop_guard"] == "20:3"
    assert parse_gen_kwargs({}).describe()["thinking_loop_guard"] is None


@pytest.mark.parametrize("value", ["0:3", "abc", "5", "4:1", "3:x", "-2:3"])
def test_bad_values_name_the_key_and_the_fix(value):
    with pytest.raises(ValueError, match=r"thinking_loop_guard=.* expected <ngram>:<repeats>"):
        parse_gen_kwargs({"thinking_loop_guard": value})


@pytest.mark.parametrize("value", [None, "", "off", "none"])
def test_off_values(value):
    assert parse_loop_guard(value) is None


def test_watch_counts_across_feeds():
    watch = LoopWatch(LoopGuard(2, 2))
    assert watch.feed([1, 2, 3]) is None
    assert watch.feed([4, 1]) is None
    assert watch.feed([2, 9]) == 1  # (1, 2) seen twice, completed by the first token fed


def test_a_continued_chunk_is_not_a_suppression():
    thinking = "".join(chr(ord("a") + i % 26) + chr(ord("A") + i // 26) for i in range(40))
    script = [
        thinking[:CHECK_EVERY],
        thinking[CHECK_EVERY:] + "<|im_start|>",
        "Q<|im_start|>",
        "<EOS>",
    ]
    kwargs = {"max_tokens_thinking": 300, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait"}
    out, engine = run(script, {**kwargs, "thinking_loop_guard": "6:2"})
    # the fork's min_tokens=1 marks the first step and the one after "Wait", not the chunk
    assert [s.min_tokens for _, s in engine.steps if s.phase == "thinking"] == [1, 0, 1]
    assert out.trace.suppressions == 1 and not out.trace.loop_stopped


def lm_eval_on_a_looping_problem(smollm2_dir, output, model="s1_vllm", model_args=None, **extra):
    """The stock demo (`s1-eval demo --stock`) at budget 512 on its problem 20, where SmolLM2,
    after its "Wait", repeats one clause until the cap."""
    gen_kwargs = {**STOCK_GEN_KWARGS, "max_tokens_thinking": 512, "max_gen_toks": 640, **extra}
    command = [*lm_eval_command(), "--model", model,
               "--model_args", model_args or engine_args_string(smollm2_dir, preset="plain"),
               "--tasks", "s1_demo_arithmetic", "--apply_chat_template",
               "--samples", json.dumps({"s1_demo_arithmetic": [20]}),
               "--gen_kwargs", json.dumps(gen_kwargs),
               "--output_path", str(output), "--log_samples"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = read_samples(output, "s1_demo_arithmetic")
    return row


@pytest.mark.engine
def test_the_guard_stops_a_real_loop_through_lm_eval(smollm2_dir, tmp_path):
    plain = lm_eval_on_a_looping_problem(smollm2_dir, tmp_path / "plain")
    guarded = lm_eval_on_a_looping_problem(
        smollm2_dir, tmp_path / "guarded", thinking_loop_guard="8:3"
    )
    print(f"thinking tokens: {plain['thinking_tokens']} without, {guarded['thinking_tokens']} with")
    assert plain["cap_fired"] == 1 and plain["thinking_tokens"] == 512
    assert guarded["loop_stopped"] == 1 and guarded["cap_fired"] == 0
    assert guarded["thinking_tokens"] < 256
    response = guarded["resps"][0][0]
    # the guard closes like the cap (plain preset: a new line and "The final answer is")
    assert response.count("\nThe final answer is") == 1
    [results] = list((tmp_path / "guarded").rglob("results_*.json"))
    forcing = json.loads(results.read_text())["config"]["s1_forcing"]
    assert forcing["thinking_loop_guard"] == "8:3"


@pytest.mark.engine
def test_the_guard_stops_the_same_loop_through_a_server(smollm2_dir, vllm_server, tmp_path):
    guarded = lm_eval_on_a_looping_problem(
        smollm2_dir,
        tmp_path,
        model="s1_server",
        model_args=f"base_url={vllm_server.url},preset=plain",
        thinking_loop_guard="8:3",
    )
    assert guarded["loop_stopped"] == 1 and guarded["cap_fired"] == 0
    assert guarded["thinking_tokens"] < 256
    assert guarded["resps"][0][0].count("\nThe final answer is") == 1
