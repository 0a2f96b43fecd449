"""Data parallel (``data_parallel_size=N``): shares dealt round-robin with the whole batch's cap
and seeds, replicas as real Ray workers (the toy engine, then SmolLM2 through ``lm_eval``)."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import time

import pytest

from s1_eval.core.forcing import force_generate_many, forced_stream, plan_batches
from s1_eval.core.s1_format import PRESETS
from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.engines.replicas import ReplicaPool, cpu_binding, deal
from s1_eval.engines.scripted import ScriptedEngine, ScriptedTokenizer
from tests.conftest import engine_args_string, read_samples

TOKENIZER = ScriptedTokenizer()
PROMPTS = [
    TOKENIZER.encode(f"Question {i}{' please' * i} (needs {40 + 37 * i} thinking tokens): {i} + 3?")
    for i in range(7)
]
#: sampled with a seed (each request's seed follows its place) and an auto cap (longest prompt)
SAMPLED = parse_gen_kwargs(
    {
        "max_tokens_thinking": "auto",
        "thinking_n_ignore": 1,
        "thinking_n_ignore_str": "Wait",
        "temperature": 0.8,
        "seed": 11,
        "max_gen_toks": 420,
    }
)
GREEDY = parse_gen_kwargs({"max_tokens_thinking": 120, "max_gen_toks": 300})


def toy_engine() -> ScriptedEngine:
    return ScriptedEngine(PRESETS["s1"], patience=200, wait_tokens=60)


def one_engine(batches):
    return [
        [(str(t), t.trace) for t in texts] for texts in force_generate_many(toy_engine(), batches)
    ]


def test_deal_interleaves_requests_and_resolves_the_auto_cap_on_the_whole_batch():
    [(batches_0, places_0), (batches_1, places_1), (batches_2, places_2)] = deal(
        plan_batches(TOKENIZER, [(PROMPTS, SAMPLED), (PROMPTS[:2], GREEDY)]), 3
    )
    assert (places_0, places_1, places_2) == ([[0, 3, 6], [0]], [[1, 4], [1]], [[2, 5], []])
    assert batches_1[0][0] == [PROMPTS[1], PROMPTS[4]]
    cap = batches_1[0][1].cap
    # auto leaves room for the longest prompt of the whole batch, which replica 1 does not hold
    assert isinstance(cap, int) and cap == SAMPLED.forcing.resolve_cap(
        420, max(map(len, PROMPTS)), lambda text: len(TOKENIZER.encode(text))
    )
    shorter = max(len(PROMPTS[i]) for i in (1, 4))  # PROMPTS[6] is the longest
    assert cap < SAMPLED.forcing.resolve_cap(420, shorter, lambda text: len(TOKENIZER.encode(text)))
    assert batches_0[0][1].cap == batches_1[0][1].cap == batches_2[0][1].cap
    assert batches_2[1][0] == [] and batches_2[1][1].settings == GREEDY


@pytest.mark.parametrize("replicas", [2, 3])
def test_shares_run_apart_give_what_one_engine_gives_seeded_and_greedy(replicas):
    batches = [(PROMPTS, SAMPLED), (PROMPTS, GREEDY)]
    merged: list[list] = [[None] * len(PROMPTS) for _ in batches]
    for share_batches, places in deal(plan_batches(TOKENIZER, batches), replicas):
        for b, i, text in forced_stream(toy_engine(), share_batches, places):
            merged[b][places[b][i]] = (str(text), text.trace)
    assert merged == one_engine(batches)
    # the seed matters: without the places, the sampled requests come out differently
    apart = [
        str(t)
        for share_batches, _ in deal(plan_batches(TOKENIZER, batches[:1]), replicas)
        for _, _, t in forced_stream(toy_engine(), share_batches)
    ]
    assert sorted(apart) != sorted(text for text, _ in merged[0])


def test_cpu_binding_gives_each_replica_its_own_cores():
    assert [cpu_binding(r, 2, 2)["VLLM_CPU_OMP_THREADS_BIND"] for r in range(2)] == ["0-0", "1-1"]
    assert [cpu_binding(r, 2, 16)["VLLM_CPU_OMP_THREADS_BIND"] for r in range(2)] == ["0-7", "8-15"]
    assert cpu_binding(1, 2, 16)["OMP_NUM_THREADS"] == "8"
    assert cpu_binding(2, 3, 2)["VLLM_CPU_OMP_THREADS_BIND"] == "0-0"  # more replicas than cores


@pytest.mark.slow
def test_ray_replicas_stream_every_request_once_with_one_engines_results():
    batches = [(PROMPTS, SAMPLED), (PROMPTS, GREEDY)]
    pool = ReplicaPool.start(
        2, functools.partial(ScriptedEngine, PRESETS["s1"], 200, 60), TOKENIZER
    )
    planned = plan_batches(TOKENIZER, batches)
    seen = [(b, i, (str(t), t.trace)) for b, i, t in pool.run_batches(planned, share_steps=True)]
    assert sorted((b, i) for b, i, _ in seen) == [(b, i) for b in range(2) for i in range(7)]
    merged: list[list] = [[None] * len(PROMPTS) for _ in batches]
    for b, i, result in seen:
        merged[b][i] = result
    assert merged == one_engine(batches)
    assert pool.stats["asked"] >= 14  # the replicas' sharing counts come back summed
    # a second pass on the same replicas (a sweep's next call) works the same
    again = [(b, i, str(t)) for b, i, t in pool.run_batches(planned[1:], share_steps=False)]
    assert sorted(again) == sorted((0, i, merged[1][i][0]) for i in range(7))


@pytest.mark.engine
def test_the_backend_takes_data_parallel_size_and_checks_it_before_the_engine(smollm2_dir):
    from s1_eval.backends.lm import S1VLLM

    lm = S1VLLM(pretrained=str(smollm2_dir), dtype="float32", data_parallel_size="2")
    assert not lm.lazy.started  # checked and ready: the replicas start on the first request
    with pytest.raises(ValueError, match=r"^data_parallel_size=0 is invalid: expected an integer"):
        S1VLLM(pretrained=str(smollm2_dir), data_parallel_size=0)


@pytest.mark.engine
@pytest.mark.slow
def test_two_real_replicas_through_lm_eval_equal_one_engine_in_order(
    smollm2_dir, tiny_task_dir, tmp_path
):
    """lm_eval --model s1_vllm with data_parallel_size=2 (two vLLM engines, one core each) gives
    the samples of data_parallel_size=1, forced and greedy, in the same order."""

    def run(replicas: int) -> tuple[list, float]:
        out = tmp_path / f"dp{replicas}"
        args = engine_args_string(smollm2_dir, data_parallel_size=replicas, max_model_len=1024)
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "lm_eval", "--model", "s1_vllm", "--model_args", args,
             "--tasks", "s1_test_arith", "--include_path", str(tiny_task_dir),
             "--apply_chat_template", "--log_samples", "--output_path", str(out),
             "--gen_kwargs", "max_tokens_thinking=48,thinking_n_ignore=1,thinking_n_ignore_str=Wait"],
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = read_samples(out, "s1_test_arith")
        return [(r["doc_id"], r["resps"], r["thinking_tokens"]) for r in rows], (
            time.monotonic() - began
        )

    one, one_s = run(1)
    two, two_s = run(2)
    assert two == one and len(one) >= 4
    assert [doc for doc, _, _ in one] == sorted(doc for doc, _, _ in one)
    print(json.dumps({"replicas_1_s": round(one_s, 1), "replicas_2_s": round(two_s, 1)}))


def test_bad_data_parallel_size_names_the_arg():
    from s1_eval.backends.parity import apply

    with pytest.raises(ValueError, match="data_parallel_size=2 is not supported by s1_server"):
        apply("s1_server", {"data_parallel_size": 2})
    kwargs = {"data_parallel_size": "3"}
    apply("s1_vllm", kwargs)
    assert kwargs == {"data_parallel_size": 3}
    kwargs = {"data_parallel_size": 1}
    apply("s1_vllm", kwargs)
    assert kwargs == {}


@pytest.mark.slow
def test_replicas_write_their_own_store_files_and_a_rerun_reads_them_all(tmp_path):
    """Each replica appends to its own file beside the sweep's store; a later run, on replicas
    or in-process, takes every stored step from them."""
    from s1_eval.core.sharing import StepStore

    planned = plan_batches(TOKENIZER, [(PROMPTS, GREEDY)])
    store_path = tmp_path / "trajectories.jsonl"
    pool = ReplicaPool.start(
        2, functools.partial(ScriptedEngine, PRESETS["s1"], 200, 60), TOKENIZER
    )
    first = sorted(
        (b, i, str(t)) for b, i, t in pool.run_batches(planned, True, StepStore(store_path))
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["trajectories.replica0.jsonl", "trajectories.replica1.jsonl"]
    again = sorted(
        (b, i, str(t)) for b, i, t in pool.run_batches(planned, True, StepStore(store_path))
    )
    assert again == first and pool.stats["from_store"] > 0 and pool.stats["engine_steps"] == 0
    reread = StepStore(store_path)  # the in-process path reads the replicas' files too
    assert len(reread.steps) > 0 and reread.write_path == store_path


@pytest.mark.engine
@pytest.mark.slow
def test_a_killed_data_parallel_sweep_resumes_from_its_stored_steps(smollm2_dir, vllm_lm, tmp_path):
    """SIGKILL a real `s1-eval sweep` with data_parallel_size=2 after its first cell, run it
    again: the replicas continue from the steps they stored, and the cells equal one engine's."""
    from s1_eval.sweep.run import SweepConfig, make_settings, run_sweep
    from tests.conftest import kill_after_first_cell, rows_by_cell

    task, budgets = "s1_demo_counting", [8, 16]
    folder = tmp_path / "dp"
    command = [
        sys.executable, "-m", "s1_eval.cli", "sweep", "--model", "s1_vllm",
        "--model_args", engine_args_string(smollm2_dir, data_parallel_size=2),
        "--tasks", task, "--budgets", "8,16", "--n_ignore", "0,2", "--ignore_str", "Wait",
        "--gen_kwargs", "max_gen_toks=60", "--limit", "4", "--apply_chat_template",
        "--output_path", str(folder), "--no_report",
    ]  # fmt: skip
    env = {**os.environ}
    kill_after_first_cell(command, env)
    stored = sorted(p.name for p in folder.glob("trajectories*.jsonl"))
    assert any(name.startswith("trajectories.replica") for name in stored), stored
    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    from_store = [int(n) for n in re.findall(r"(\d+) from the store", log)]
    assert from_store and from_store[-1] > 0, log[-3000:]

    reference = SweepConfig(
        tasks=(task,),
        settings=make_settings(budgets, [0, 2], ["Wait"]),
        model_args=engine_args_string(smollm2_dir),
        gen_kwargs={"max_gen_toks": 60},
        limit=4,
        apply_chat_template=True,
    )
    run_sweep(reference, tmp_path / "one", lm=vllm_lm, log=lambda _: None)
    assert rows_by_cell(folder, task) == rows_by_cell(tmp_path / "one", task)
