"""Sustained load on ``--model s1_server``: 500 forced requests, 64 in flight, on two real
``vllm serve`` processes, one of them killed and restarted twice during the run.

    make test-load      # minutes: runs the load test and rewrites results/load/

The faulted run must lose and duplicate nothing in lm-eval's samples file and give, request by
request, the responses of a clean run on the same servers (greedy, float32); both runs start
on freshly started servers. The load test is marked ``load`` and left out of the default run;
the default run checks the committed result.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s1_eval.common.files import write_all_atomic
from s1_eval.engines.local_server import LocalServer
from s1_eval.runs.hardware import hardware_summary, vllm_version
from tests.conftest import REPO, read_samples, serve_args, write_arith_task
from tests.test_server import steps_served

RESULTS = REPO / "results" / "load"
#: where `make test-load` asks the load test to write its result
RESULTS_ENV = "S1_EVAL_LOAD_RESULTS"
REQUESTS = 500
NUM_CONCURRENT = 64
GEN_KWARGS = "max_tokens_thinking=48,thinking_n_ignore=1,thinking_n_ignore_str=Wait"
MAX_GEN_TOKS = 16
#: finished requests a server serves before it is killed (its counter restarts with it)
KILL_AFTER = (40, 10)


def load_questions(n: int = REQUESTS, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = [(rng.randint(10, 99), rng.randint(10, 99)) for _ in range(n)]
    return [(f"What is {a} + {b}?", str(a + b)) for a, b in pairs]


def lm_eval_command(urls: str, task_dir: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "lm_eval", "--model", "s1_server",
        "--model_args", f"base_url={urls},num_concurrent={NUM_CONCURRENT}",
        "--tasks", "s1_test_arith", "--include_path", str(task_dir), "--apply_chat_template",
        "--gen_kwargs", GEN_KWARGS, "--output_path", str(out), "--log_samples",
    ]  # fmt: skip


def responses(out: Path) -> list[tuple[int, str]]:
    return [(row["doc_id"], row["resps"][0][0]) for row in read_samples(out, "s1_test_arith")]


def load_markdown(result: dict) -> str:
    """The committed result in a few lines (results/load/server_load.md and the README)."""
    return (
        f"{result['requests']} forced requests (`{result['gen_kwargs']}`), "
        f"`num_concurrent={result['num_concurrent']}`, two `vllm serve` processes of SmolLM2 "
        f"(float32, greedy) on {result['hardware']}, each run on freshly started servers; one "
        f"server killed (SIGKILL) and restarted {result['restarts']} times during the faulted "
        "run:\n\n"
        "| run | wall s | samples | lost | duplicated | responses differing from the clean run |\n"
        "|---|---|---|---|---|---|\n"
        f"| clean | {result['clean_wall_s']:.1f} | {result['requests']} | 0 | 0 | - |\n"
        f"| {result['kills']} kills + {result['restarts']} restarts | "
        f"{result['faulted_wall_s']:.1f} | {result['samples']} | {result['lost']} | "
        f"{result['duplicated']} | {result['differing']} |\n"
    )


def test_committed_load_result_lost_nothing():
    result = json.loads((RESULTS / "server_load.json").read_text())
    assert result["requests"] >= 500 and result["num_concurrent"] == 64
    assert result["kills"] == result["restarts"] == 2
    assert result["samples"] == result["requests"]
    assert result["lost"] == result["duplicated"] == result["differing"] == 0
    assert (RESULTS / "server_load.md").read_text() == load_markdown(result)


@pytest.mark.engine
@pytest.mark.load
def test_two_servers_under_load_with_two_restarts_lose_nothing(smollm2_dir, tmp_path):
    task_dir = write_arith_task(tmp_path / "task", load_questions(), max_gen_toks=MAX_GEN_TOKS)
    with LocalServer(smollm2_dir, *serve_args()) as steady:
        doomed = LocalServer(smollm2_dir, *serve_args()).start()
        try:
            urls = f"{steady.url};{doomed.url}"
            start = time.monotonic()
            clean = subprocess.run(lm_eval_command(urls, task_dir, tmp_path / "clean"),
                                   capture_output=True, text=True, timeout=1800)  # fmt: skip
            clean_wall = time.monotonic() - start
            assert clean.returncode == 0, clean.stderr[-4000:]
            # both runs start on cold servers: a warm prefix cache holding every prompt would
            # make the second run several times faster than the first
            for server in (steady, doomed):
                server.stop()
                server.start()

            start = time.monotonic()
            run = subprocess.Popen(lm_eval_command(urls, task_dir, tmp_path / "faulted"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
            kills = 0
            for threshold in KILL_AFTER:
                deadline = time.monotonic() + 900
                while steps_served(doomed) < threshold:
                    assert run.poll() is None, "the run ended before the server was killed"
                    assert time.monotonic() < deadline, "the server served too few requests"
                    time.sleep(0.2)
                doomed.kill()
                kills += 1
                doomed.start()  # the same port: a restarted node, readmitted by /health
            assert run.poll() is None, "the run ended before the last restart was back"
            _, stderr = run.communicate(timeout=1800)
            faulted_wall = time.monotonic() - start
            assert run.returncode == 0, stderr[-4000:]
        finally:
            doomed.stop()

    expected, got = dict(responses(tmp_path / "clean")), responses(tmp_path / "faulted")
    ids = [doc_id for doc_id, _ in got]
    result = {
        "requests": REQUESTS,
        "num_concurrent": NUM_CONCURRENT,
        "gen_kwargs": GEN_KWARGS,
        "max_gen_toks": MAX_GEN_TOKS,
        "kills": kills,
        "restarts": kills,
        "clean_wall_s": round(clean_wall, 1),
        "faulted_wall_s": round(faulted_wall, 1),
        "samples": len(got),
        "lost": len(set(expected) - set(ids)),
        "duplicated": len(ids) - len(set(ids)),
        "differing": sum(expected.get(doc_id) != response for doc_id, response in got),
        "hardware": hardware_summary(),
        "vllm": vllm_version(),
    }
    if os.environ.get(RESULTS_ENV):
        out = Path(os.environ[RESULTS_ENV])
        write_all_atomic({out / "server_load.json": json.dumps(result, indent=2),
                          out / "server_load.md": load_markdown(result)})  # fmt: skip
    assert len(expected) == REQUESTS, "the clean run lost requests"
    assert result["lost"] == result["duplicated"] == 0, result
    assert result["samples"] == REQUESTS
    assert result["differing"] == 0, result
