"""gen_kwargs parsing: s1-fork names accepted unchanged, every bad value named in one ValueError."""

from __future__ import annotations

import pytest
from lm_eval.utils import simple_parse_args_string

from s1_eval.core.settings import PRESETS, parse_gen_kwargs

# gen_kwargs strings from the s1 repository's eval/commands.sh, parsed the way lm-eval does
S1_COMMANDS = [
    "max_gen_toks=32768",
    "max_gen_toks=32768,max_tokens_thinking=auto",
    "max_gen_toks=32768,max_tokens_thinking=500",
    "max_gen_toks=32768,max_tokens_thinking=16000",
    "max_gen_toks=32768,max_tokens_thinking=auto,thinking_n_ignore=1,thinking_n_ignore_str=Wait",
    "max_gen_toks=32768,max_tokens_thinking=auto,thinking_n_ignore=6,thinking_n_ignore_str=Wait",
    "max_gen_toks=32768,max_tokens_thinking=auto,thinking_n_ignore=2",
    "max_gen_toks=32768,max_tokens_thinking=auto,thinking_n_ignore=2,thinking_n_ignore_str=Hmm",
    "max_gen_toks=32768,max_tokens_thinking=auto,thinking_n_ignore=2,"
    "thinking_n_ignore_str=Alternatively",
    "max_gen_toks=32768,max_tokens_thinking=3500,rejection_sample=true,temperature=1",
]


@pytest.mark.parametrize("command", S1_COMMANDS)
def test_published_s1_gen_kwargs_parse(command):
    settings = parse_gen_kwargs(simple_parse_args_string(command))
    assert settings.max_gen_toks == 32768
    assert settings.forcing.delimiters == PRESETS["s1"]


def test_values_are_read_as_the_fork_meant_them():
    s = parse_gen_kwargs(
        simple_parse_args_string(
            "max_tokens_thinking=auto,thinking_n_ignore=2,thinking_n_ignore_str=Wait|Hmm,"
            "thinking_start=<think>\\n,thinking_end=</think>,until_thinking=</think>,"
            "until_thinking_2=<|im_end|>,temperature_thinking=0.6,do_sample=false"
        )
    )
    f = s.forcing
    assert f.max_tokens_thinking == "auto" and f.thinking_n_ignore == 2
    assert f.thinking_n_ignore_str == ("Wait", "Hmm")
    assert f.delimiters.thinking_start == "<think>\n"
    assert f.delimiters.until_thinking == ("</think>", "<|im_end|>")
    assert s.thinking_sampling.temperature == 0.6 and s.sampling.temperature == 0.0


def test_defaults_are_greedy_without_forcing_strings():
    s = parse_gen_kwargs({})
    assert s.sampling.greedy and s.forcing.thinking_n_ignore_str == ()
    assert s.forcing.max_tokens_thinking is None


def test_budget_words_are_those_of_the_sweep_grid():
    """One vocabulary: what `s1-eval sweep --budgets` accepts, the gen_kwarg accepts too."""
    for word in ("none", "None", "off"):
        assert parse_gen_kwargs({"max_tokens_thinking": word}).forcing.max_tokens_thinking is None
    assert parse_gen_kwargs({"max_tokens_thinking": " AUTO "}).forcing.max_tokens_thinking == "auto"
    assert parse_gen_kwargs({"max_tokens_thinking": 512.0}).forcing.max_tokens_thinking == 512
    # lm-eval hands "-5" over as -5.0: the error names the value as the user wrote it
    with pytest.raises(ValueError, match=r"max_tokens_thinking=-5 is invalid"):
        parse_gen_kwargs({"max_tokens_thinking": -5.0})


def test_do_sample_true_samples_at_temperature_one():
    assert parse_gen_kwargs({"do_sample": True}).sampling.temperature == 1.0


def test_custom_thinking_end_also_stops_thinking():
    s = parse_gen_kwargs({"thinking_end": "</reasoning>"})
    assert s.forcing.delimiters.until_thinking == ("<|im_start|>", "</reasoning>")


@pytest.mark.parametrize(
    ("gen_kwargs", "key"),
    [
        ({"max_tokens_thinking": -5}, "max_tokens_thinking"),
        ({"max_tokens_thinking": 0}, "max_tokens_thinking"),
        ({"max_tokens_thinking": "lots"}, "max_tokens_thinking"),
        ({"max_tokens_thinking": 1.5}, "max_tokens_thinking"),
        ({"max_tokens_thinking": True}, "max_tokens_thinking"),
        ({"thinking_n_ignore": -1}, "thinking_n_ignore"),
        ({"thinking_n_ignore": "two"}, "thinking_n_ignore"),
        ({"min_tokens_thinking": -3}, "min_tokens_thinking"),
        ({"min_tokens_thinking": 50, "max_tokens_thinking": 10}, "min_tokens_thinking"),
        ({"rejection_sample": True}, "max_tokens_thinking"),
        ({"rejection_sample": True, "max_tokens_thinking": 100}, "temperature"),
        ({"rejection_sample": True, "max_tokens_thinking": 100, "temperature": 0}, "temperature"),
        ({"rejection_sample": "maybe"}, "rejection_sample"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -7}, "top_k"),
        ({"max_gen_toks": 0}, "max_gen_toks"),
        ({"thinking_end": ""}, "thinking_end"),
        ({"until_thinking": ""}, "until_thinking"),
        ({"thinking_start": 5}, "thinking_start"),
        ({"max_token_thinking": 100}, "max_token_thinking"),
        ({"thinking_n_ignore_string": "Wait"}, "thinking_n_ignore_string"),
        ({"best_of": 4}, "best_of"),
    ],
)
def test_invalid_gen_kwargs_name_the_key(gen_kwargs, key):
    with pytest.raises(ValueError, match=key):
        parse_gen_kwargs(gen_kwargs)


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ValueError, match="Did you mean 'max_tokens_thinking'"):
        parse_gen_kwargs({"max_token_thinking": 100})


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="preset='r1'"):
        parse_gen_kwargs({}, preset="r1")


def test_describe_is_json_ready():
    import json

    s = parse_gen_kwargs({"max_tokens_thinking": 64, "thinking_n_ignore_str": "Wait"})
    described = json.loads(json.dumps(s.describe()))
    assert described["max_tokens_thinking"] == 64
    assert described["thinking_n_ignore_str"] == ["Wait"]
