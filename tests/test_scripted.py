"""The s1_scripted backend: its toy model through the real forcing loop, sharing, sweep and CLIs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from s1_eval import cli
from s1_eval.backends.lm import S1Scripted
from s1_eval.core.s1_format import PRESETS
from s1_eval.engines.scripted import RECHECK, RECONSIDER, THOUGHTS, ScriptedTokenizer
from tests.conftest import lm_eval_command

ROOT = Path(__file__).resolve().parent.parent
TASK_DIR = "tests/fixtures/s1_fake_task"
QUESTION = "Question 1 (needs {need} thinking tokens): what is 3 + 4?\nAnswer:"


def generate(lm, need: int, **gen_kwargs):
    prompt = QUESTION.format(need=need)
    [text] = lm.generate_until([Instance("generate_until", {}, (prompt, gen_kwargs), 0)], True)
    return text


def boxed(text) -> str:
    return re.findall(r"\\boxed\{(-?\d+)\}", text.answer)[-1]


def test_it_thinks_what_the_prompt_needs_or_gives_up_and_is_right_iff_it_thought_enough():
    lm = S1Scripted(patience=600, wait_tokens=200)
    plain = generate(lm, 300, max_tokens_thinking="none")
    assert plain.startswith("<|im_start|>think\nLet me read the question again.")
    assert (plain.trace.thinking_tokens, plain.trace.cap_fired, boxed(plain)) == (300, False, "7")
    assert "<|im_start|>answer\nThe answer is $\\boxed{7}$." in plain
    capped = generate(lm, 300, max_tokens_thinking=100)
    assert (capped.trace.thinking_tokens, capped.trace.cap_fired, boxed(capped)) == (100, True, "8")
    assert "\n<|im_start|>answer\nFinal Answer:\nThe answer is" in capped
    gave_up = generate(lm, 900, max_tokens_thinking="none")
    assert (gave_up.trace.thinking_tokens, boxed(gave_up)) == (600, "8")


def test_wait_buys_thinking_and_a_bare_suppression_one_token():
    lm = S1Scripted(patience=600, wait_tokens=200)
    waited = generate(lm, 900, thinking_n_ignore=2, thinking_n_ignore_str="Wait")
    # it closes at 600, then at 600 + 200 after one "Wait", at 1000 after two
    assert waited.trace.thinking_tokens == 1000 and waited.trace.inserted == ("Wait", "Wait")
    assert "Wait, let me check that." in waited and boxed(waited) == "7"
    bare = generate(lm, 900, thinking_n_ignore=1)  # the fork's default: nothing inserted
    assert bare.trace.thinking_tokens == 601 and boxed(bare) == "8"
    cut = generate(
        lm, 900, thinking_n_ignore=2, thinking_n_ignore_str="Hmm", max_tokens_thinking=700
    )
    assert (cut.trace.thinking_tokens, cut.trace.suppressions, cut.trace.cap_fired) == (
        700,
        1,
        True,
    )


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_writes_its_own_delimiters(preset):
    lm = S1Scripted(preset=preset, patience=600)
    text = generate(lm, 120, thinking_n_ignore=1, thinking_n_ignore_str="Wait")
    delimiters = PRESETS[preset]
    assert text.startswith(delimiters.thinking_start) and delimiters.thinking_end in text
    assert text.trace.thinking_tokens == 184 and boxed(text) == "7"  # 120 + 64 for the "Wait"


def test_chat_template_and_tokenizer():
    lm = S1Scripted()
    history = [{"role": "user", "content": "What is 3 + 4?"}]
    assert lm.apply_chat_template(history) == (
        "<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert lm.chat_template() and lm.tokenizer_name == "s1-scripted"
    tokenizer = ScriptedTokenizer()
    text = "<|im_start|>think\nÉtape 1 ✓<|im_end|><|endoftext|>"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode("<|im_start|>ab")) == 3
    # the model's own thinking never reconsiders, states a number or closes by accident
    for words in (THOUGHTS, RECHECK):
        assert not re.search(r"\d", words) and not any(w in words for w in RECONSIDER)
        assert not any(d.thinking_end in words + words for d in PRESETS.values())


def test_shared_steps_give_the_separate_runs_outputs_for_fewer_tokens():
    def run(share: bool):
        lm = S1Scripted(patience=300, wait_tokens=100)
        lm.share_steps = share
        cells = [
            [
                Instance("generate_until", {}, (QUESTION.format(need=need), kwargs), i)
                for i, need in enumerate((80, 250, 500))
            ]
            for kwargs in (
                {
                    "max_tokens_thinking": cap,
                    "thinking_n_ignore": k,
                    "thinking_n_ignore_str": "Wait",
                }
                for cap in (64, 200, 450)
                for k in (0, 2)
            )
        ]
        outputs = lm.generate_many(cells, disable_tqdm=True)
        records = [[(str(t), t.trace.to_dict()) for t in cell] for cell in outputs]
        return records, lm.engine.stats["generated_tokens"], lm.last_sharing

    alone, alone_tokens, _ = run(False)
    shared, shared_tokens, sharing = run(True)
    assert shared == alone
    assert shared_tokens < alone_tokens / 2 and sharing["engine_steps"] < sharing["asked"]


def test_seeded_sampling_repeats_and_each_seed_thinks_its_own_length():
    lm = S1Scripted(patience=400)

    def thinking(seed):
        return generate(
            lm, 900, temperature=1.0, seed=seed, max_tokens_thinking="none"
        ).trace.thinking_tokens

    assert thinking(1) == thinking(1)
    lengths = {thinking(seed) for seed in range(6)}
    assert len(lengths) > 1 and all(200 <= n <= 600 for n in lengths)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patiense": 5}, "Unknown model_arg 'patiense' for S1Scripted. Did you mean 'patience'?"),
        ({"patience": 0}, "patience=0 is invalid: expected an integer >= 1."),
        ({"wait_tokens": "x"}, "wait_tokens='x' is invalid"),
        ({"preset": "r1"}, "preset='r1' is invalid"),
    ],
)
def test_model_args_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        S1Scripted(**kwargs)


def test_lm_eval_defaults_are_accepted_and_the_model_is_registered():
    from lm_eval.api.registry import get_model

    assert get_model("s1_scripted") is S1Scripted
    # what lm-eval's CLI passes every model
    lm = S1Scripted.create_from_arg_string("patience=7", {"batch_size": 1, "device": "cuda:0"})
    assert lm.lazy.name == "scripted" and not lm.lazy.started


# ---------------------------------------------------------------------------------------------
# The real command lines
# ---------------------------------------------------------------------------------------------

SWEEP = [
    "sweep",
    "--model",
    "s1_scripted",
    "--model_args",
    "patience=600,wait_tokens=200",
    "--tasks",
    "s1_fake",
    "--include_path",
    TASK_DIR,
    "--n_ignore",
    "0,2",
    "--ignore_str",
    "Wait",
    "--label",
    "scripted",
]


def test_lm_eval_command_line(tmp_path):
    command = lm_eval_command()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    gen_kwargs = "max_tokens_thinking=800,thinking_n_ignore=2,thinking_n_ignore_str=Wait"
    proc = subprocess.run(
        [*command, "--model", "s1_scripted", "--model_args", "patience=600,wait_tokens=200",
         "--tasks", "s1_fake", "--include_path", TASK_DIR, "--gen_kwargs", gen_kwargs,
         "--output_path", str(tmp_path), "--log_samples"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    [results_file] = tmp_path.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert results["results"]["s1_fake"]["exact_match,none"] == 0.75
    forcing = results["config"]["s1_forcing"]
    assert forcing["max_tokens_thinking"] == 800 and forcing["thinking_n_ignore"] == 2
    [samples_file] = tmp_path.rglob("samples_s1_fake_*.jsonl")
    rows = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert [r["thinking_tokens"] for r in rows] == [500, 600, 700, 800, 800, 800, 800, 800]
    assert [r["suppressions"] for r in rows] == [2, 2, 2, 2, 2, 1, 1, 1]


def test_sweep_command_shares_resumes_extends_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "run"
    assert cli.main([*SWEEP, "--budgets", "200,800", "--output_path", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "generating 32 requests of 4 cells in one pass (shared thinking)" in printed
    assert "| scripted | s1_fake | n_ignore=2,str=Wait | 2 | 200,800 | 75.0 ± 16.4 |" in printed
    for name in ("leaderboard.md", "leaderboard.csv", "cells.csv", "scaling.png"):
        assert (out / name).is_file(), name
    assert (out / "trajectories.jsonl").stat().st_size > 0
    assert cli.main([*SWEEP, "--budgets", "200,800", "--output_path", str(out)]) == 0
    assert "4 of 4 cells already finished" in capsys.readouterr().out
    # a larger budget continues the stored thinking instead of starting over
    assert cli.main([*SWEEP, "--budgets", "200,800,1200", "--output_path", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 of 6 cells already finished" in printed
    assert int(re.search(r"(\d+) from the store", printed).group(1)) > 0
    assert cli.main(["report", str(out), "--output_path", str(tmp_path / "board")]) == 0
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "| scripted | s1_fake | n_ignore=0 | 3 | 200,800,1200 |" in board


def test_no_forcing_gen_kwarg_is_one_plain_generation_as_in_the_s1_fork():
    lm = S1Scripted(patience=600, wait_tokens=200)
    plain = generate(lm, 300, max_gen_toks=2000, temperature=0)
    assert (
        not plain.startswith("<|im_start|>think") and plain.trace.thinking_opened_by == "not_forced"
    )
    assert (plain.trace.thinking_tokens, plain.trace.max_tokens_thinking) == (0, None)
    assert plain.answer == plain and lm.forcing_runs[-1]["force_thinking"] is False
