"""``--model s1_server``: budget forcing against real ``vllm serve`` processes.

The engine tests start real servers of SmolLM2 (float32, greedy) and run the real ``lm_eval``
command against them: responses and traces equal the in-process ``s1_vllm`` engine; a server
killed mid-run hands its steps to the other one; a lone server killed mid-run ends the run with
an error naming it, and ``--use_cache`` keeps what had finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.core.steps import GenerationStep
from s1_eval.engines import openai_api
from s1_eval.engines import server as served
from s1_eval.engines.local_server import LocalServer, free_port
from tests.conftest import TINY_QUESTIONS, read_results, read_samples, serve_args

STARTED = "s1-eval: starting the"
SECRET = "s1-eval-test-key-4f8a"
#: long enough that a server can be killed while requests are still thinking
SLOW_KWARGS = "max_tokens_thinking=160,thinking_n_ignore=3,thinking_n_ignore_str=Wait"


def lm_eval(model_args, task_dir, out, *extra, gen_kwargs=None, env=None, popen=False):
    command = [
        sys.executable, "-m", "lm_eval", "--model", "s1_server", "--model_args", model_args,
        "--tasks", "s1_test_arith", "--include_path", str(task_dir), "--apply_chat_template",
        "--output_path", str(out), "--log_samples", *extra,
    ]  # fmt: skip
    if gen_kwargs:
        command += ["--gen_kwargs", gen_kwargs]
    env = {**os.environ, **(env or {})}
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)


def last_line(run) -> str:
    return run.stderr.strip().splitlines()[-1]


# -- without a server -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base_url", "roots"),
    [
        ("http://a:8000/v1", ["http://a:8000"]),
        ("http://a:8000/v1/completions", ["http://a:8000"]),
        ("http://a:8000/", ["http://a:8000"]),
        ("http://a:8000/v1;http://b:8000/v1", ["http://a:8000", "http://b:8000"]),
        ("http://a:8000/v1 http://b:9000/prefix/v1", ["http://a:8000", "http://b:9000/prefix"]),
    ],
)
def test_base_url_lists_one_or_more_servers(base_url, roots):
    assert openai_api.split_urls(base_url) == roots


@pytest.mark.parametrize("base_url", ["", "a:8000/v1", "ftp://a/v1"])
def test_bad_base_url_is_refused(base_url):
    with pytest.raises(ValueError, match="base_url"):
        openai_api.split_urls(base_url)


def test_every_sampling_setting_is_sent_so_server_defaults_cannot_change_a_step():
    sampling = parse_gen_kwargs({"temperature": 0.7, "top_p": 0.9, "seed": 3}).sampling
    step = GenerationStep((1, 2), 30, sampling, stop=("x",), stop_token_ids=(7,), min_tokens=2)
    body = openai_api.request_body("m", step, 20)
    assert {f.name for f in dataclasses.fields(sampling)} <= set(body)
    assert body["prompt"] == [1, 2] and body["max_tokens"] == 20 and body["min_tokens"] == 2
    assert body["return_token_ids"] is True and body["skip_special_tokens"] is False
    assert body["stream"] is True, "streamed: the timeout is a silence, not a step's length"
    assert body["stop"] == ["x"] and body["stop_token_ids"] == [7]


def test_a_stream_split_anywhere_assembles_to_the_same_step():
    events = [
        {"choices": [{"text": "Hel", "token_ids": [1, 2], "finish_reason": None}]},
        {"choices": [{"text": "lo", "token_ids": [3], "finish_reason": None}]},
        {"choices": [{"text": "", "token_ids": [4], "finish_reason": "stop", "stop_reason": 4}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4}},
    ]
    wire = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
    for size in (1, 7, len(wire)):
        stream = openai_api.StreamedStep()
        done = [stream.feed_bytes(wire[i : i + size]) for i in range(0, len(wire), size)]
        assert done[-1] and not any(done[:-1])
        result = stream.result()
        assert (result.token_ids, result.text, result.finish_reason) == (
            (1, 2, 3, 4),
            "Hello",
            "stop",
        )
        assert result.stop_reason == 4 and stream.usage["completion_tokens"] == 4
    stream = openai_api.StreamedStep()
    stream.feed({"error": {"message": "boom", "code": 500}})
    assert stream.result().finish_reason == "error" and stream.result().error == "boom"


def test_a_prompt_stays_on_its_server_unless_that_is_far_busier_new_ones_go_to_the_least_busy():
    engine = served.ServerEngine(
        ["http://127.0.0.1:1", "http://127.0.0.1:2"], served.ServerSettings("m"), None, 2048
    )
    first, second = engine.servers
    sampling = parse_gen_kwargs({}).sampling

    def step(prompt, thinking=()):
        return GenerationStep((*prompt, *thinking), 8, sampling, head_len=len(prompt))

    first.outstanding = 100
    assert engine._server_for(step((1, 2, 3))) is second  # least outstanding work
    second.outstanding = 500
    # a continuation (same head, more thinking) and a sweep's other budget go back to it
    assert engine._server_for(step((1, 2, 3), thinking=(9, 9))) is second
    assert engine._server_for(step((4, 5))) is first
    # ...unless it has far more steps in flight than another (a restarted node): then it moves
    second.in_flight, first.in_flight = 6, 0
    assert engine._server_for(step((1, 2, 3), thinking=(9, 9, 9))) is second
    second.in_flight = 12
    assert engine._server_for(step((1, 2, 3), thinking=(9, 9, 9))) is first
    assert engine._server_for(step((1, 2, 3), thinking=(9, 9, 9, 9))) is first  # its new home
    first.in_flight = second.in_flight = 0
    second.healthy = False
    assert engine._server_for(step((1, 2, 3), thinking=(9,))) is first
    first.healthy = False
    with pytest.raises(served.ServerUnavailable, match=r"127\.0\.0\.1:1, http://127\.0\.0\.1:2"):
        engine._server_for(step((1, 2, 3)))
    engine.close()


def test_no_server_reachable_is_one_error_before_generation(tiny_task_dir, tmp_path):
    urls = f"http://127.0.0.1:{free_port()}/v1;http://127.0.0.1:{free_port()}/v1"
    began = time.perf_counter()
    run = lm_eval(f"base_url={urls}", tiny_task_dir, tmp_path)
    assert run.returncode != 0
    assert last_line(run).startswith("error: No vLLM server reachable"), run.stderr[-2000:]
    assert urls.split(";")[1].removesuffix("/v1") in last_line(run)
    assert STARTED not in run.stderr
    assert time.perf_counter() - began < 120


BAD_MODEL_ARGS = [
    ("num_concurrent=0", "num_concurrent=0 is invalid: expected a whole number ≥ 1"),
    ("max_retries=-1", "max_retries=-1 is invalid: expected a whole number ≥ 0"),
    ("timeout=0", "timeout=0 is invalid: expected seconds > 0"),
    ("num_concurent=4", "Did you mean 'num_concurrent'"),
    ("api_key=x", "export OPENAI_API_KEY"),  # lm-eval writes model_args into the results
]


@pytest.mark.parametrize(("extra", "message"), BAD_MODEL_ARGS)
def test_bad_model_args_fail_before_any_server_is_asked(extra, message):
    """In-process, as lm-eval builds the model: its own model_args parser, then our checks."""
    from lm_eval.api.registry import get_model

    model_args = f"base_url=http://127.0.0.1:{free_port()}/v1,{extra}"
    lm_eval_adds = {"batch_size": 1, "max_batch_size": None, "device": "cuda:0"}
    with pytest.raises(ValueError) as error:
        get_model("s1_server").create_from_arg_string(model_args, lm_eval_adds)
    assert message in str(error.value) and "No vLLM server reachable" not in str(error.value)


def test_a_bad_model_arg_is_the_last_line_of_the_lm_eval_command(tiny_task_dir, tmp_path):
    """One value above through the real command (each run costs lm-eval's ~15 s task index):
    the command line parses "-1" as a float, which the in-process parser does not."""
    message = "max_retries=-1.0 is invalid: expected a whole number ≥ 0"
    model_args = f"base_url=http://127.0.0.1:{free_port()}/v1,max_retries=-1"
    run = lm_eval(model_args, tiny_task_dir, tmp_path)
    assert run.returncode != 0
    assert message in last_line(run) and "No vLLM server reachable" not in run.stderr


# -- against real servers ---------------------------------------------------------------------
def replay_in_process(vllm_lm, samples) -> list:
    """The same requests (prompt + gen_kwargs of each sample) through the in-process engine."""
    requests = [
        Instance("generate_until", {}, (s["arguments"]["gen_args_0"]["arg_0"],
                                        s["arguments"]["gen_args_0"]["arg_1"]), i)
        for i, s in enumerate(samples)
    ]  # fmt: skip
    return vllm_lm.generate_until(requests, disable_tqdm=True)


def assert_same_as_in_process(vllm_lm, samples):
    expected = replay_in_process(vllm_lm, samples)
    assert len(samples) == len(TINY_QUESTIONS)
    for sample, reference in zip(samples, expected, strict=True):
        assert sample["resps"][0][0] == str(reference)
        for name, value in reference.trace.sample_fields().items():
            assert sample[name] == value, (name, sample["doc_id"])


@pytest.mark.engine
def test_lm_eval_on_a_server_equals_the_in_process_engine(
    vllm_server, vllm_lm, tiny_task_dir, tmp_path
):
    kwargs = "max_tokens_thinking=48,thinking_n_ignore=1,thinking_n_ignore_str=Wait"
    run = lm_eval(f"base_url={vllm_server.url},num_concurrent=4", tiny_task_dir, tmp_path,
                  gen_kwargs=kwargs, env={openai_api.API_KEY_ENV: SECRET})  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    samples = read_samples(tmp_path, "s1_test_arith")
    assert_same_as_in_process(vllm_lm, samples)
    assert any(s["suppressions"] for s in samples) and any(s["cap_fired"] for s in samples)
    results = read_results(tmp_path)
    assert results["config"]["s1_engine"] == "server"
    written = "".join(p.read_text() for p in Path(tmp_path).rglob("*.json*"))
    assert SECRET not in written and SECRET not in run.stderr + run.stdout


@pytest.mark.engine
def test_a_step_that_finished_before_collect_is_still_collected(vllm_server):
    engine = served.prepare(vllm_server.url).get()
    prompt = tuple(engine.tokenizer.encode("Hello"))
    engine.submit("early", GenerationStep(prompt, 4, parse_gen_kwargs({}).sampling))
    deadline = time.monotonic() + 60
    while engine.stats["steps"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the result is queued right after it is counted
    [(key, result)] = engine.collect()
    assert key == "early" and len(result.token_ids) == 4
    with pytest.raises(RuntimeError, match="no request in flight"):
        engine.collect()
    engine.close()


@pytest.mark.engine
def test_wrong_model_name_names_the_served_ones(vllm_server, tiny_task_dir, tmp_path):
    run = lm_eval(f"base_url={vllm_server.url},model=s1.1-32B", tiny_task_dir, tmp_path)
    assert run.returncode != 0
    assert "model='s1.1-32B' is not served at" in last_line(run), run.stderr[-2000:]
    assert vllm_server.model in last_line(run)


@pytest.mark.engine
def test_a_refused_request_ends_with_its_reason_and_the_run_goes_on(vllm_server):
    from s1_eval.backends.lm import S1Server

    # the client is told the context is longer than the server's 2048 tokens
    lm = S1Server(base_url=vllm_server.url, max_model_len=8192, num_concurrent=2)
    long_prompt = "Count the words: " + "apple " * 2100
    requests = [
        Instance("generate_until", {}, (p, {"max_tokens_thinking": 16, "max_gen_toks": 40}), i)
        for i, p in enumerate(["What is 2 + 3?", long_prompt])
    ]
    short, refused = lm.generate_until(requests, disable_tqdm=True)
    assert short.trace.error == "" and short.trace.thinking_tokens > 0
    assert refused.trace.error.startswith("HTTP 400") and "2048" in refused.trace.error
    assert refused.trace.thinking_finish_reasons == ("error",)
    assert refused.trace.answer_finish_reason == "error" and refused.trace.thinking_tokens == 0
    assert lm.engine.stats["errors"] == 1


@pytest.mark.engine
def test_s1_eval_sweep_through_a_server_equals_separate_in_process_cells(
    vllm_server, vllm_lm, smollm2_dir, tmp_path
):
    from s1_eval.sweep.run import SweepConfig, make_settings, run_sweep
    from tests.conftest import engine_args_string, rows_by_cell

    task, budgets = "s1_demo_counting", ["8", "16"]
    command = [
        str(Path(sys.executable).parent / "s1-eval"), "sweep", "--model", "s1_server",
        "--model_args", f"base_url={vllm_server.url}", "--tasks", task,
        "--budgets", ",".join(budgets), "--n_ignore", "0,2", "--ignore_str", "Wait",
        "--gen_kwargs", "max_gen_toks=60", "--limit", "4", "--apply_chat_template",
        "--no_report", "--output_path", str(tmp_path / "served"),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    reference = SweepConfig(
        tasks=(task,),
        settings=make_settings([8, 16], [0, 2], ["Wait"]),
        model_args=engine_args_string(smollm2_dir),
        gen_kwargs={"max_gen_toks": 60},
        limit=4,
        apply_chat_template=True,
    )
    run_sweep(reference, tmp_path / "local", lm=vllm_lm, log=lambda _: None, share=False)
    served_cells = rows_by_cell(tmp_path / "served", task)
    assert len(served_cells) == 4 and served_cells == rows_by_cell(tmp_path / "local", task)


def steps_served(server: LocalServer) -> float:
    """Requests the server has finished, from its Prometheus metrics (a server sharing its one
    core with a test run can take several seconds to answer)."""
    with urllib.request.urlopen(server.url.removesuffix("/v1") + "/metrics", timeout=60) as r:
        text = r.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("vllm:request_success_total")
    )


def wait_until(condition, process, timeout=600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the run ended before the server could be killed"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def _spare(smollm2_dir):
    server = LocalServer(smollm2_dir, *serve_args())
    yield server
    server.stop()


@pytest.fixture
def spare_server(_spare):
    """A second ``vllm serve`` that tests kill, shared by them (a start costs ~25 s of CPU):
    started again for a test that finds it dead. The test that restarts it runs first."""
    if _spare.process is None or _spare.process.poll() is not None:
        _spare.start()
    return _spare


@pytest.mark.engine
def test_a_dropped_server_takes_new_prompts_once_it_is_back(vllm_server, spare_server, monkeypatch):
    monkeypatch.setattr(served, "READMIT_S", 0.5)
    monkeypatch.setattr(served, "BACKOFF_S", 0.1)
    sampling = parse_gen_kwargs({}).sampling
    flaky = spare_server  # left running (restarted) for the next test
    engine = served.prepare(f"{vllm_server.url};{flaky.url}", max_retries=1).get()
    first, second = engine.servers

    def run(prompts: list[str]) -> None:
        for i, text in enumerate(prompts):
            ids = tuple(engine.tokenizer.encode(text))
            engine.submit(i, GenerationStep(ids, 8, sampling, head_len=len(ids)))
        done = 0
        while done < len(prompts):
            done += len(engine.collect())

    flaky.kill()
    run(["What is 2 + 3?", "What is 7 + 8?", "Name a colour."])
    assert not second.healthy and second.steps == 0 and first.steps == 3
    flaky.start()  # the same port: a restarted node
    deadline = time.monotonic() + 60
    while not second.healthy and time.monotonic() < deadline:
        time.sleep(0.2)
    assert second.healthy, "the restarted server was not taken back"
    run(["What is 6 times 7?", "Why is the sky blue?", "What is 9 - 9?", "Count to three."])
    assert second.steps >= 1, "a server that is back takes new prompts"
    engine.close()


@pytest.mark.engine
def test_a_server_killed_mid_run_hands_its_steps_to_the_other(
    vllm_server, vllm_lm, spare_server, tiny_task_dir, tmp_path
):
    doomed = spare_server
    before = steps_served(doomed)  # what it served for an earlier test
    urls = f"{vllm_server.url};{doomed.url}"
    run = lm_eval(f"base_url={urls},num_concurrent=4", tiny_task_dir, tmp_path,
                  gen_kwargs=SLOW_KWARGS, popen=True)  # fmt: skip
    wait_until(lambda: steps_served(doomed) >= before + 2, run)
    doomed.kill()
    _, stderr = run.communicate(timeout=900)
    assert run.returncode == 0, stderr[-4000:]
    assert f"{doomed.url.removesuffix('/v1')} failed" in stderr
    assert_same_as_in_process(vllm_lm, read_samples(tmp_path, "s1_test_arith"))


def cached_responses(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as connection:
            return connection.execute("SELECT COUNT(*) FROM unnamed").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not there yet, or locked for a moment
        return 0


@pytest.mark.engine
def test_a_lone_server_killed_mid_run_fails_naming_it_and_the_cache_keeps_finished_work(
    vllm_server, smollm2_dir, tiny_task_dir, tmp_path
):
    cache = tmp_path / "cache"
    db = Path(f"{cache}_rank0.db")
    with LocalServer(smollm2_dir, *serve_args(), "--api-key", SECRET) as doomed:
        refused = lm_eval(f"base_url={doomed.url}", tiny_task_dir, tmp_path / "a")
        assert refused.returncode != 0 and "refused the API key" in last_line(refused)

        run = lm_eval(f"base_url={doomed.url},num_concurrent=2", tiny_task_dir, tmp_path / "b",
                      "--use_cache", str(cache), gen_kwargs=SLOW_KWARGS,
                      env={openai_api.API_KEY_ENV: SECRET}, popen=True)  # fmt: skip
        wait_until(lambda: cached_responses(db) >= 1, run)
        doomed.kill()
        _, stderr = run.communicate(timeout=900)
    assert run.returncode != 0
    # one of our errors: one line through lm_eval (S1_EVAL_DEBUG=1 shows the traceback)
    [error] = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith("error: Every vLLM server failed")
    assert doomed.url.removesuffix("/v1") in error
    kept = cached_responses(db)
    assert 1 <= kept < len(TINY_QUESTIONS)

    rerun = lm_eval(f"base_url={vllm_server.url}", tiny_task_dir, tmp_path / "c",
                    "--use_cache", str(cache), gen_kwargs=SLOW_KWARGS)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"Cached requests: {kept}" in rerun.stderr
    assert len(read_samples(tmp_path / "c", "s1_test_arith")) == len(TINY_QUESTIONS)
    assert read_results(tmp_path / "c")["config"]["s1_engine"] == "server"
