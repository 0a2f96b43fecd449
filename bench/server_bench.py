"""Budget forcing through running vLLM servers: forcing vs plain generation, two servers vs one.

    python bench/server_bench.py --n 16 --cap 128 --k 1 --repeats 3 --out results/bench

Starts local ``vllm serve`` processes of SmolLM2 and drives them over HTTP with the
``s1_server`` engine. (a) ``plain``: every request generates, in one concurrent burst through
the same server and client, exactly the tokens it produced under forcing
(``min_tokens = max_tokens = n_i``); (b) ``forced``: budget forcing through one server;
(c) ``forced_2_servers``: the same forcing spread over two servers. The prefix cache of every
server is reset before each run (the dev-mode endpoint), runs are interleaved and the median of
``--repeats`` is reported. Not a test: timings depend on the machine and its load. On GPUs
(``--gpus N``, as ``make bench-gpu`` runs it) each server gets its own GPU, or, with one GPU,
0.4 of its memory each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_tables import server_markdown
from forcing_bench import chat_prompts, make_settings

from s1_eval.core.forcing import force_generate
from s1_eval.core.steps import GenerationStep
from s1_eval.demo.smollm2 import ensure_smollm2
from s1_eval.engines.local_server import LocalServer
from s1_eval.engines.server import ServerEngine, ServerSettings
from s1_eval.engines.tokenizer import load_tokenizer
from s1_eval.runs.hardware import hardware_summary

SERVE_FLAGS = ("--max-model-len", "2048", "--block-size", "32", "--seed", "0")
#: the dev-mode API adds POST /reset_prefix_cache, so no run profits from another's cache
SERVER_ENV = {"VLLM_SERVER_DEV_MODE": "1", "VLLM_CPU_KVCACHE_SPACE": "2"}


def reset(servers: list[LocalServer]) -> None:
    for server in servers:
        root = server.url.removesuffix("/v1")
        urllib.request.urlopen(urllib.request.Request(f"{root}/reset_prefix_cache", method="POST"))


def forced(engine: ServerEngine, prompts, settings) -> tuple[float, list[int], list[str]]:
    start = time.perf_counter()
    outputs = force_generate(engine, prompts, settings)
    wall = time.perf_counter() - start
    tokens = [o.trace.thinking_tokens + o.trace.answer_tokens for o in outputs]
    return wall, tokens, [str(o) for o in outputs]


def plain(engine: ServerEngine, prompts, lengths, sampling) -> float:
    """One concurrent burst: request i generates exactly lengths[i] tokens, no forcing."""
    start = time.perf_counter()
    for i, (prompt, n) in enumerate(zip(prompts, lengths, strict=True)):
        engine.submit(i, GenerationStep(tuple(prompt), n, sampling, min_tokens=n))
    produced = {}
    while len(produced) < len(prompts):
        produced.update({key: len(r.token_ids) for key, r in engine.collect()})
    wall = time.perf_counter() - start
    if [produced[i] for i in range(len(prompts))] != list(lengths):
        raise RuntimeError("plain generation did not produce the asked lengths")
    return wall


def run(args: argparse.Namespace) -> dict[str, Any]:
    model = str(ensure_smollm2())
    tokenizer = load_tokenizer(model)
    prompts = chat_prompts(tokenizer, args.n)
    settings = make_settings(args.cap, args.k, "Wait", args.answer_tokens, preset="plain")
    flags = (*SERVE_FLAGS, "--dtype", args.dtype)
    envs = [{**os.environ, **SERVER_ENV} for _ in range(2)]
    if args.gpus == 0:
        flags += ("--enforce-eager",)  # on a CPU, compiling graphs costs more than it saves
    elif args.gpus == 1:
        flags += ("--gpu-memory-utilization", "0.4")  # both servers on the one GPU
    else:
        for index, env in enumerate(envs):
            env["CUDA_VISIBLE_DEVICES"] = str(index)
    first = LocalServer(model, *flags, env=envs[0]).start()
    second = LocalServer(model, *flags, env=envs[1]).start()
    try:
        one = ServerEngine([first.url.removesuffix("/v1")], ServerSettings(model, args.n),
                           tokenizer, 2048)  # fmt: skip
        two = ServerEngine([s.url.removesuffix("/v1") for s in (first, second)],
                           ServerSettings(model, args.n), tokenizer, 2048)  # fmt: skip
        walls: dict[str, list[float]] = {"plain": [], "forced": [], "forced_2_servers": []}
        lengths: list[int] = []
        outputs: list[str] = []
        # on GPUs, batch-dependent kernels may change greedy bfloat16 outputs: recorded, not fatal
        same = True
        for _ in range(args.repeats):
            reset([first])
            wall, lengths, outputs = forced(one, prompts, settings)
            walls["forced"].append(wall)
            reset([first])
            walls["plain"].append(plain(one, prompts, lengths, settings.sampling))
            reset([first, second])
            wall, _, outputs_two = forced(two, prompts, settings)
            walls["forced_2_servers"].append(wall)
            same = same and outputs_two == outputs
            if not same and args.dtype == "float32" and args.gpus == 0:
                raise RuntimeError("two servers gave other outputs than one (greedy float32)")
        per_server = [s.steps for s in two.servers]
        one.close()
        two.close()
    finally:
        first.stop()
        second.stop()
    median = {path: statistics.median(w) for path, w in walls.items()}
    return {
        "setup": {
            "n": args.n,
            "cap": args.cap,
            "k": args.k,
            "answer_tokens": args.answer_tokens,
            "repeats": args.repeats,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "tokens": sum(lengths),
            "dtype": args.dtype,
            "device": hardware_summary() if args.gpus else f"{os.cpu_count()} CPUs",
        },
        "walls": walls,
        "median_s": median,
        "forced_over_plain": round(median["forced"] / median["plain"], 3),
        "two_over_one": round(median["forced_2_servers"] / median["forced"], 3),
        "steps_per_server_two": per_server,
        "same_outputs_two_servers": same,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--cap", type=int, default=128)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--answer-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--gpus", type=int, default=0, help="CUDA GPUs to spread the servers on")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = run(args)
    text = server_markdown(result)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "server_bench.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "server_bench.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
