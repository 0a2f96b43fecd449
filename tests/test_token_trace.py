"""The token trace a forced response carries: phases, inserted strings, and its compact text form.

pytest tests/test_token_trace.py
"""

from __future__ import annotations

import random

import pytest

from s1_eval.core.forcing import force_generate
from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.core.token_trace import TOKENS_COLUMN, TokenTrace
from s1_eval.tasks.scoring import process_math_results
from s1_eval.trace import flat_row, row_value
from tests.fake_engine import FakeEngine


def forced(script: list[str], gen_kwargs: dict):
    engine = FakeEngine({0: script})
    settings = parse_gen_kwargs(gen_kwargs, preset="s1")
    [out] = force_generate(engine, [engine.tokenizer.encode("Q?")], settings)
    return out, engine.tokenizer


def test_the_phases_of_a_response_with_two_suppressions():
    gen = {"max_tokens_thinking": 100, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"}
    out, tok = forced(["one<EOS>", "two<EOS>", "three<EOS>", "42<EOS>"], gen)
    trace = TokenTrace.decode(out.trace.tokens)
    assert tok.decode(trace.thinking) == "oneWaittwoWaitthree"
    assert [tok.decode(trace.thinking[s : s + n]) for s, n in trace.inserted] == ["Wait", "Wait"]
    assert tok.decode(trace.closing) == "<|im_start|>answer"
    assert tok.decode(trace.answer) == "42"
    assert len(trace.thinking) == out.trace.thinking_tokens
    assert len(trace.answer) == out.trace.answer_tokens
    phases = [trace.phase_at(i) for i in range(len(trace.tokens))]
    assert phases[0] == "thinking" and phases[3] == "inserted string 1"
    assert phases[4] == "thinking after inserted string 1" and phases[-1] == "answer"
    assert "thinking after inserted string 2" in phases and "closing text" in phases


def test_the_cap_text_is_the_closing_phase():
    out, tok = forced(["x" * 30, "7<EOS>"], {"max_tokens_thinking": 8})
    trace = TokenTrace.decode(out.trace.tokens)
    assert tok.decode(trace.closing) == "\n<|im_start|>answer\nFinal Answer:"
    assert len(trace.thinking) == 8 and trace.inserted == ()


def test_the_samples_row_carries_it_and_a_plain_string_carries_none():
    out, _ = forced(["ok<EOS>", "$\\boxed{3}$<EOS>"], {"max_tokens_thinking": 20})
    row = process_math_results({"answer": "3"}, [out])
    assert TokenTrace.decode(row_value(row, TOKENS_COLUMN)).tokens
    assert row_value(process_math_results({"answer": "3"}, ["3"]), TOKENS_COLUMN) == ""
    assert TokenTrace.decode("") is None and TokenTrace.decode(None) is None


def test_the_text_form_round_trips_large_ids_and_is_compact():
    rng = random.Random(0)
    ids = tuple(rng.randrange(152_064) for _ in range(3000))
    trace = TokenTrace(ids[:2000], ((10, 2), (900, 1)), ids[2000:2004], ids[2004:])
    text = trace.encode()
    assert TokenTrace.decode(text) == trace
    # 3-byte varints, base64: 4 characters a token at most, even where nothing repeats
    assert len(text) <= 4 * len(ids) + 64
    repetitive = TokenTrace(tuple(ids[:50]) * 60).encode()
    assert len(repetitive) < len(text) / 10


@pytest.mark.parametrize(
    "text", ["t9:1:0:0::AA==", "t1:2:0:0::" + TokenTrace((5,)).encode()[-8:], "junk"]
)
def test_unreadable_text_is_one_clear_error(text):
    with pytest.raises(ValueError, match="trace_tokens"):
        TokenTrace.decode(text)


@pytest.mark.engine
def test_the_real_engines_ids_decode_to_the_response_phase_by_phase(vllm_lm):
    from lm_eval import simple_evaluate

    gen = {"max_gen_toks": 64, "max_tokens_thinking": 24, "thinking_n_ignore": 1,
           "thinking_n_ignore_str": "\nWait,"}  # fmt: skip
    results = simple_evaluate(model=vllm_lm, tasks=["s1_demo_arithmetic"], limit=3,
                              apply_chat_template=True, log_samples=True, gen_kwargs=gen)  # fmt: skip
    decode = vllm_lm.lazy.tokenizer.decode
    start, end = "<|im_start|>think", "<|im_start|>answer"
    for row in map(flat_row, results["samples"]["s1_demo_arithmetic"]):
        trace = TokenTrace.decode(row[TOKENS_COLUMN])
        text = row["resps"][0][0]
        assert (
            len(trace.thinking) == row["thinking_tokens"]
            and len(trace.answer) == row["answer_tokens"]
        )
        assert text == start + decode(trace.thinking) + decode(trace.closing) + decode(trace.answer)
        assert end in decode(trace.closing)
        assert [decode(trace.thinking[s : s + n]) for s, n in trace.inserted] == ["\nWait,"] * row[
            "suppressions"
        ]
