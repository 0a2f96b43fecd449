"""Every branch of the forcing loop, on the scripted fake engine (fast, deterministic)."""

from __future__ import annotations

import pytest

from s1_eval.core.forcing import force_generate
from s1_eval.core.settings import parse_gen_kwargs
from tests.fake_engine import OOV, FakeEngine

START, END = "<|im_start|>think", "<|im_start|>answer"


def run(scripts, gen_kwargs, prompts=None, order="fifo", preset="s1"):
    engine = FakeEngine(scripts, order=order)
    if prompts is None:
        prompts = [engine.tokenizer.encode(f"Q{k}?") for k in scripts]
    settings = parse_gen_kwargs(gen_kwargs, preset=preset)
    return force_generate(engine, prompts, settings), engine


def test_cap_fires_when_thinking_runs_long():
    [out], engine = run({0: ["x" * 50, "42<EOS>"]}, {"max_tokens_thinking": 10})
    t = out.trace
    assert t.thinking_tokens == 10 and t.cap_fired
    assert t.thinking_finish_reasons == ("length",)
    assert str(out) == START + "x" * 10 + "\n" + END + "\nFinal Answer:" + "42"
    assert out.answer == "42" and t.answer_tokens == 2
    first, answer = engine.steps[0][1], engine.steps[1][1]
    assert first.max_tokens == 10 and first.stop_token_ids == (1,) and first.min_tokens == 0
    assert first.stop == ("<|im_start|>",)
    assert answer.phase == "answer" and answer.prompt_token_ids[-1] != 2


def test_natural_end_appends_only_the_end_delimiter():
    [out], _ = run({0: ["short\n<|im_start|>", "7<EOS>"]}, {"max_tokens_thinking": 100})
    assert not out.trace.cap_fired
    assert str(out) == START + "short\n" + END + "7"
    assert "Final Answer:" not in out


def test_newline_not_doubled_before_cap_delimiter():
    [out], _ = run({0: ["xyz\n" + "y" * 20, "1<EOS>"]}, {"max_tokens_thinking": 4})
    assert out.thinking == START + "xyz\n" + END + "\nFinal Answer:"


@pytest.mark.parametrize("early_stop", ["<|im_start|>", "<EOS>"])
def test_k_suppressions_insert_the_ignore_string(early_stop):
    script = ["one" + early_stop, "two" + early_stop, "three" + early_stop, "A<EOS>"]
    gen = {"max_tokens_thinking": 100, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"}
    [out], engine = run({0: script}, gen)
    t = out.trace
    assert t.suppressions == 2 and t.inserted == ("Wait", "Wait")
    assert out.thinking == START + "oneWaittwoWaitthree" + END
    assert out.count("Wait") == 2 and not t.cap_fired
    # the remaining budget shrinks by everything thought so far, ignore strings included
    budgets = [s.max_tokens for _, s in engine.steps if s.phase == "thinking"]
    assert budgets == [100, 100 - 3 - 1, 100 - 3 - 1 - 3 - 1]
    assert t.thinking_tokens == len(engine.tokenizer.encode("oneWaittwoWaitthree"))


def test_ignore_strings_are_used_in_turn():
    script = ["a<EOS>", "b<EOS>", "c<EOS>", "d<EOS>", "ans<EOS>"]
    gen = {"max_tokens_thinking": 200, "thinking_n_ignore": 3, "thinking_n_ignore_str": "Wait|Hmm"}
    [out], _ = run({0: script}, gen)
    assert out.trace.inserted == ("Wait", "Hmm", "Wait")
    assert out.thinking == START + "aWaitbHmmcWaitd" + END


def test_no_ignore_string_is_the_forks_default():
    [out], _ = run({0: ["a<EOS>", "b<EOS>", "c<EOS>", "z<EOS>"]}, {"thinking_n_ignore": 2})
    assert out.trace.suppressions == 2 and out.trace.inserted == ("", "")
    assert out.thinking == START + "abc" + END


def test_suppression_without_a_string_still_makes_progress():
    # a model that wants to stop at once after each suppression: min_tokens=1 (the fork's
    # setting whenever thinking_n_ignore is given) makes every step write a token first
    script = ["a<EOS>", "<EOS>b<EOS>", "<|im_start|><EOS>c<EOS>", "<EOS>d<EOS>", "z<EOS>"]
    [out], engine = run({0: script}, {"thinking_n_ignore": 3, "max_gen_toks": 50})
    assert out.thinking == START + "abcd" + END and out.trace.suppressions == 3
    thinking = [s for _, s in engine.steps if s.phase == "thinking"]
    assert [s.min_tokens for s in thinking] == [1, 1, 1, 1]


def test_min_tokens_is_one_whenever_n_ignore_is_given():
    _, engine = run({0: ["<EOS>t<EOS>", "a<EOS>"]}, {"thinking_n_ignore": 0})
    assert engine.steps[0][1].min_tokens == 1  # given as 0: the fork still sets min_tokens=1
    _, engine = run({0: ["t<EOS>", "a<EOS>"]}, {"max_tokens_thinking": 9})
    assert engine.steps[0][1].min_tokens == 0  # not given: the model may end thinking at once
    gen = {"min_tokens_thinking": 6, "thinking_n_ignore": 1}
    [out], engine = run({0: ["ab<|im_start|>cdefg<|im_start|>", "h<EOS>", "k<EOS>"]}, gen)
    assert [s.min_tokens for _, s in engine.steps if s.phase == "thinking"] == [6, 1]
    assert out.thinking == START + "abcdefgh" + END


def test_a_step_that_keeps_nothing_ends_thinking_instead_of_looping():
    # "Fi" is a stop string ending inside the first token ("Final"): min_tokens cannot hold it
    # back, so the step keeps nothing; suppressing again would repeat it (greedy) forever
    gen = {"thinking_n_ignore": 10**9, "until_thinking": "Fi", "max_gen_toks": 50}
    [out], engine = run({0: ["x<EOS>", "Final", "ans<EOS>"]}, gen)
    assert out.thinking == START + "x" + END and out.answer == "ans"
    assert out.trace.suppressions == 1 and not out.trace.cap_fired
    assert len(engine.steps) == 3


def test_ignore_string_never_overruns_the_cap():
    gen = {"max_tokens_thinking": 5, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait,ok"}
    [out], engine = run({0: ["xyz<EOS>", "9<EOS>"]}, gen)
    assert out.trace.thinking_tokens == 5 and out.trace.cap_fired
    assert out.thinking == START + "xyzWait," + "\n" + END + "\nFinal Answer:"
    assert [s.phase for _, s in engine.steps] == ["thinking", "answer"]


def test_continuation_overrunning_the_cap_is_cut():
    gen = {"max_tokens_thinking": 8, "thinking_n_ignore": 1, "thinking_n_ignore_str": "W"}
    [out], _ = run({0: ["abcde<EOS>", "xxxxxxxxxx", "1<EOS>"]}, gen)
    assert out.trace.thinking_tokens == 8 and out.trace.cap_fired
    assert out.trace.thinking_finish_reasons == ("stop", "length")


def test_stop_string_inside_a_token_keeps_the_text_before_it():
    # "ab" is one token: stopping on "b" must keep the "a" without re-tokenizing the rest
    gen = {"max_tokens_thinking": 50, "until_thinking": "b", "thinking_n_ignore": 1,
           "thinking_n_ignore_str": "W"}  # fmt: skip
    [out], engine = run({0: ["xxab", "yyab", "ans<EOS>"]}, gen)
    assert out.thinking == START + "xxaWyya" + END
    second = engine.steps[1][1].prompt_token_ids
    assert engine.tokenizer.decode(second).endswith("xxaW")


def test_out_of_vocabulary_ids_are_dropped_not_fed_back():
    tok = FakeEngine({}).tokenizer
    thinking = [*tok.encode("ab"), OOV, *tok.encode("c"), 1]
    [out], engine = run({0: [thinking, [*tok.encode("5"), OOV, 2]]}, {"max_tokens_thinking": 50})
    assert out.trace.dropped_token_ids == 2
    for _, step in engine.steps:
        assert all(t < tok.vocab_size for t in step.prompt_token_ids)
    assert out == START + "abc" + END + "5"


def test_thinking_block_opened_by_the_chat_template_is_not_doubled():
    engine_tok = FakeEngine({}).tokenizer
    prompt = engine_tok.encode("Q?" + START)
    [out], engine = run({0: ["t<EOS>", "a<EOS>"]}, {"max_tokens_thinking": 9}, prompts=[prompt])
    assert out.trace.thinking_opened_by == "prompt"
    assert engine.steps[0][1].prompt_token_ids == tuple(prompt)
    assert str(out) == "t" + END + "a"


def test_auto_budget_follows_the_fork_formula():
    tok = FakeEngine({}).tokenizer
    prompts = [tok.encode("a" * 30), tok.encode("b" * 10)]
    gen = {"max_tokens_thinking": "auto", "max_gen_toks": 400}
    outs, _ = run({0: ["x" * 500, "1<EOS>"], 1: ["y<EOS>", "2<EOS>"]}, gen, prompts=prompts)
    expected = 400 - 30 - len(tok.encode(START)) - len(tok.encode(END + "\nFinal Answer:")) - 100
    assert outs[0].trace.max_tokens_thinking == expected == outs[0].trace.thinking_tokens


def test_auto_budget_without_room_is_a_clear_error():
    with pytest.raises(ValueError, match="max_tokens_thinking=auto"):
        run({0: ["x"]}, {"max_tokens_thinking": "auto", "max_gen_toks": 50})


def test_rejection_sampling_resamples_until_thinking_fits():
    gen = {"max_tokens_thinking": 5, "rejection_sample": True, "temperature": 1, "seed": 3}
    [out], engine = run({0: ["x" * 20, "xyz<|im_start|>", "ok<EOS>"]}, gen)
    t = out.trace
    assert t.rejection_tries == 2 and not t.cap_fired and t.thinking_tokens == 3
    seeds = [s.sampling.seed for _, s in engine.steps if s.phase == "thinking"]
    assert seeds == [3, 4]  # a new seed per try, or greedy-like engines repeat themselves
    assert engine.steps[0][1].max_tokens == 6  # one token over the cap reveals an overrun


def test_rejection_sampling_gives_up_and_caps():
    gen = {"max_tokens_thinking": 4, "rejection_sample": True, "temperature": 1,
           "rejection_max_tries": 3}  # fmt: skip
    [out], _ = run({0: ["x" * 9, "y" * 9, "z" * 9, "ok<EOS>"]}, gen)
    assert out.trace.rejection_tries == 3 and out.trace.cap_fired
    assert out.thinking == START + "zzzz\n" + END + "\nFinal Answer:"


def test_min_tokens_thinking_goes_to_the_engine():
    gen = {"max_tokens_thinking": 50, "min_tokens_thinking": 6}
    [out], engine = run({0: ["ab<|im_start|>cdefg<|im_start|>", "k<EOS>"]}, gen)
    assert engine.steps[0][1].min_tokens == 6
    assert out.thinking == START + "abcdefg" + END


def test_min_tokens_thinking_with_a_multi_token_stop_is_refused():
    with pytest.raises(ValueError, match="min_tokens_thinking"):
        run({0: ["x"]}, {"min_tokens_thinking": 5, "until_thinking": "STOP"})


def test_no_cap_thinks_until_the_model_stops():
    [out], engine = run({0: ["x" * 30 + "<EOS>", "1<EOS>"]}, {"max_gen_toks": 100})
    assert out.trace.max_tokens_thinking is None and not out.trace.cap_fired
    assert out.trace.thinking_tokens == 30
    assert engine.steps[1][1].max_tokens == 70  # the answer gets what thinking left


def test_answer_phase_uses_until_and_its_own_cap():
    gen = {"max_tokens_thinking": 10, "until": ["\n\n"], "max_tokens_answer": 3}
    [out], engine = run({0: ["t<EOS>", "uvwxyz"]}, gen)
    answer = engine.steps[-1][1]
    assert answer.stop == ("\n\n",) and answer.max_tokens == 3
    assert out.answer == "uvw" and out.trace.answer_finish_reason == "length"


def test_thinking_sampling_keys_apply_to_thinking_only():
    gen = {"max_tokens_thinking": 10, "temperature_thinking": 0.7, "top_p_thinking": 0.9}
    _, engine = run({0: ["t<EOS>", "a<EOS>"]}, gen)
    thinking, answer = engine.steps[0][1].sampling, engine.steps[1][1].sampling
    assert (thinking.temperature, thinking.top_p) == (0.7, 0.9)
    assert (answer.temperature, answer.top_p) == (0.0, 1.0)


def test_requests_continue_without_waiting_for_the_batch():
    long = ["x" * 40 + "<EOS>", "y" * 40 + "<EOS>", "a<EOS>"]
    short = ["s<EOS>", "t<EOS>", "b<EOS>"]
    gen = {"max_tokens_thinking": 200, "thinking_n_ignore": 1, "thinking_n_ignore_str": "W"}
    outs, engine = run({0: long, 1: short}, gen, order="shortest")
    # the short request ran all three steps while the long one was still on its first
    assert engine.log[:8] == [("submit", 0), ("submit", 1), ("finish", 1), ("submit", 1),
                              ("finish", 1), ("submit", 1), ("finish", 1), ("finish", 0)]  # fmt: skip
    assert [o.trace.suppressions for o in outs] == [1, 1]


def test_empty_batch_returns_nothing():
    outs, engine = run({}, {"max_tokens_thinking": 10}, prompts=[])
    assert outs == [] and engine.steps == []


def test_plain_preset_closes_with_the_answer_phrase():
    [out], _ = run({0: ["x" * 20, " 12.<EOS>"]}, {"max_tokens_thinking": 5}, preset="plain")
    assert str(out) == "Let's think step by step." + "x" * 5 + "\nThe final answer is 12."
    assert out.answer == " 12."


def test_cap_message_and_suffix_are_configurable():
    gen = {"max_tokens_thinking": 3, "thinking_cap_message": "Time is up.\\n",
           "thinking_cap_suffix": "\\nAnswer:"}  # fmt: skip
    [out], _ = run({0: ["xxxxx", "1<EOS>"]}, gen)
    assert out.thinking == START + "xxx\nTime is up.\n" + END + "\nAnswer:"


def test_forced_text_behaves_like_a_str_for_lm_eval():
    import pickle

    [out], _ = run({0: ["t<EOS>", "a<EOS>"]}, {"max_tokens_thinking": 9})
    gold = type(out)("a")  # lm-eval's generate_until scoring does this with the target
    assert gold == "a" and gold.trace is None and gold.answer == "a"
    copy = pickle.loads(pickle.dumps(out))  # --use_cache stores responses pickled
    assert copy == out and copy.trace == out.trace


def test_repeated_prompts_get_distinct_seeds():
    tok = FakeEngine({}).tokenizer
    prompt = tok.encode("Q?")
    gen = {"max_tokens_thinking": 5, "temperature": 1, "seed": 7}
    _, engine = run({i: ["t<EOS>", "a<EOS>"] for i in range(3)}, gen, prompts=[prompt] * 3)
    thinking_seeds = [s.sampling.seed for _, s in engine.steps if s.phase == "thinking"]
    assert len(set(thinking_seeds)) == 3 and thinking_seeds[0] == 7
