"""Budget forcing vs plain generation on one vLLM engine: wall time, tokens/s, prefill computed.

    python bench/forcing_bench.py --batch-sizes 8,32 --caps 256,128 --k 2 --out results/bench

Three paths run interleaved on the same prompts and the same ``LLM`` (one engine start):
(a) ``plain``: one ``LLM.generate`` producing exactly the tokens each request produced under
forcing (``min_tokens = max_tokens = n_i``, ``ignore_eos``); (b) ``rounds``: the s1 fork's
algorithm (every round re-sends full prefixes as a new batch and waits for its slowest request);
(c) ``continuous``: s1-eval's forcing (each request continues the moment its step ends, the
engine reuses its cached prefix); and (b') the fork's rounds with prefix-cache reads off, as
on the fork's vLLM 0.6 (prefix caching off by default there; ``--no-fork-without-cache`` skips
it). The prefix cache is reset before every path, so no path profits from another's cache.
Not a test: numbers depend on the machine and on what else runs on it; repetitions are
interleaved and the median is reported with every run and the process's CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # in-process engine: starts faster and decodes faster on a few CPU cores
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from s1_eval.core.forcing import force_generate
from s1_eval.core.settings import GenerationSettings, parse_gen_kwargs
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.vllm import VLLMEngine, sampling_params
from s1_eval.trace import ForcedText

PATHS = ("plain", "rounds", "continuous")
#: (b') the fork's rounds as it ran on its vLLM 0.6 (V0: automatic prefix caching off by default)
NOCACHE = "rounds_nocache"

#: short and long questions, so SmolLM2 stops thinking at different points (mixed lengths)
QUESTIONS = (
    "What is 2 + 3?",
    "Explain why the sky is blue, step by step, as you would to a curious ten-year-old who "
    "keeps asking why after every answer.",
    "Tom has 3 apples and buys 2 more. How many apples does he have?",
    "Write a short plan for learning to play the guitar in three months.",
    "What is 12 times 11?",
    "A train leaves at 3 pm and travels 180 km at 60 km/h. When does it arrive? Explain your "
    "reasoning carefully and check it.",
    "Is 91 a prime number?",
    "Describe the water cycle and name each of its stages.",
    "What is 100 divided by 4?",
    "List three differences between a cat and a dog, then say which one makes a better pet "
    "for a small flat and why.",
    "Sarah reads 20 pages a day. How many pages does she read in two weeks?",
    "Why do we have seasons on Earth?",
    "What is 7 + 8?",
    "Summarise the plot of a story about a lost dog that finds its way home across a city, "
    "including at least three obstacles it meets on the way.",
    "If a shirt costs 25 dollars and is 20 percent off, what is the sale price?",
    "What causes rain?",
    "What is 9 - 9?",
    "Give step-by-step instructions for making a cup of tea, and explain what happens if the "
    "water is not hot enough.",
    "A box holds 6 eggs. How many eggs are in 5 boxes?",
    "What is the capital of France, and why is it famous?",
    "What is 15 + 27?",
    "Explain how a bicycle stays upright while moving.",
    "How many minutes are in 3 hours?",
    "Compare renting and buying a house. Give two advantages of each and a recommendation for "
    "a young family that may move in a few years.",
    "What is 6 times 7?",
    "Why do leaves change colour in autumn?",
    "A car uses 5 litres of fuel per 100 km. How much fuel does it need for 340 km?",
    "Write a haiku about the sea and explain its syllable count.",
    "What is 81 divided by 9?",
    "How does a refrigerator keep food cold?",
    "Lisa has 4 bags with 7 marbles each. She gives away 10 marbles. How many are left?",
    "What are the three states of water?",
)


# -- measured paths --------------------------------------------------------------------------
@dataclass
class PathRun:
    """One timed run of one path on one batch."""

    path: str
    wall_s: float
    #: CPU seconds of this process (the in-process engine included): robust to other load
    cpu_s: float
    #: tokens each request produced (thinking, ignore strings included, + answer)
    tokens: list[int]
    #: tokens the engine sampled (plain: same as tokens; forcing: + stop tokens it dropped)
    decoded_tokens: int
    prompt_tokens: int
    cached_prompt_tokens: int
    steps: int
    outputs: list[str] = field(default_factory=list, repr=False)
    traces: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: per request, the generated length of every step: [[thinking..., answer], ...]
    step_lengths: list[list[int]] = field(default_factory=list, repr=False)

    @property
    def prefill_computed(self) -> int:
        return self.prompt_tokens - self.cached_prompt_tokens

    @property
    def tokens_per_s(self) -> float:
        return sum(self.tokens) / self.wall_s

    def summary(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "tokens": sum(self.tokens),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "decoded_tokens": self.decoded_tokens,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "prefill_computed": self.prefill_computed,
            "engine_requests": self.steps,
        }


class StepLog:
    """Wraps an engine and records each step's generated length per request (for the report)."""

    def __init__(self, engine: VLLMEngine):
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.lengths: dict[Hashable, list[int]] = {}

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self.engine.submit(key, step)

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        done = self.engine.collect()
        for key, result in done:
            self.lengths.setdefault(key, []).append(len(result.token_ids))
        return done


class RoundsEngine(VLLMEngine):
    """The s1 fork's scheduling, the baseline: every round is one ``LLM.generate`` batch of the
    full prefixes queued so far, returned only when its slowest request has finished.

    ``read_prefix_cache=False`` prefills every prefix in full, as on the fork's vLLM 0.6
    (automatic prefix caching off by default there).
    """

    def __init__(self, llm: Any, read_prefix_cache: bool = True):
        super().__init__(llm)
        self.read_prefix_cache = read_prefix_cache
        self._queued: list[tuple[Hashable, GenerationStep, int]] = []

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        room = self.max_model_len - len(step.prompt_token_ids)
        if room < 1:
            self._ready.append((key, StepResult((), "", "length")))
            return
        self._queued.append((key, step, min(step.max_tokens, room)))

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        batch, self._queued = self._queued, []
        if not batch:
            raise RuntimeError("collect() called with no request queued")
        params = [sampling_params(step, max_tokens) for _, step, max_tokens in batch]
        for p in params:
            p.skip_reading_prefix_cache = not self.read_prefix_cache
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(step.prompt_token_ids)} for _, step, _ in batch],
            params,
            use_tqdm=False,
        )
        return [(key, self._record(o)) for (key, _, _), o in zip(batch, outputs, strict=True)]


def reset_cache(llm: Any) -> None:
    if not llm.reset_prefix_cache():
        raise RuntimeError("vLLM refused to reset the prefix cache (requests still running?)")


def run_forced(
    path: str, engine: VLLMEngine, prompts: Sequence[Sequence[int]], settings: GenerationSettings
) -> PathRun:
    """Path (b) or (c): budget forcing through ``force_generate`` on this engine."""
    reset_cache(engine.llm)
    before = dict(engine.stats)
    log = StepLog(engine)
    start, cpu = time.perf_counter(), time.process_time()
    outputs: list[ForcedText] = force_generate(log, prompts, settings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    delta = {k: engine.stats[k] - before[k] for k in before}
    # force_generate keys each request by (batch, index); it runs one batch
    lengths = [log.lengths[(0, i)] for i in range(len(prompts))]
    return PathRun(
        path=path,
        wall_s=wall,
        cpu_s=cpu,
        tokens=[o.trace.thinking_tokens + o.trace.answer_tokens for o in outputs],
        decoded_tokens=sum(sum(x) for x in lengths),
        prompt_tokens=delta["prompt_tokens"],
        cached_prompt_tokens=delta["cached_prompt_tokens"],
        steps=delta["steps"],
        outputs=[str(o) for o in outputs],
        traces=[o.trace.to_dict() for o in outputs],
        step_lengths=lengths,
    )


def run_plain(llm: Any, prompts: Sequence[Sequence[int]], lengths: Sequence[int]) -> PathRun:
    """Path (a): one plain batch, request i generates exactly ``lengths[i]`` tokens."""
    from vllm import SamplingParams

    reset_cache(llm)
    params = [
        SamplingParams(max_tokens=n, min_tokens=n, ignore_eos=True, temperature=0.0)
        for n in lengths
    ]
    start, cpu = time.perf_counter(), time.process_time()
    outs = llm.generate([{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    produced = [len(o.outputs[0].token_ids) for o in outs]
    if produced != list(lengths):
        raise RuntimeError(f"plain generation produced {produced}, asked for {list(lengths)}")
    return PathRun(
        path="plain",
        wall_s=wall,
        cpu_s=cpu,
        tokens=produced,
        decoded_tokens=sum(produced),
        prompt_tokens=sum(len(o.prompt_token_ids) for o in outs),
        cached_prompt_tokens=sum(o.num_cached_tokens or 0 for o in outs),
        steps=len(outs),
    )


# -- one batch size -------------------------------------------------------------------------
def chat_prompts(tokenizer: Any, n: int) -> list[list[int]]:
    texts = [
        tokenizer.hf.apply_chat_template(
            [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for i in range(n)
    ]
    return [tokenizer.encode(t) for t in texts]


def make_settings(cap: int, k: int, ignore: str, answer_tokens: int, preset: str):
    gen = {
        "max_tokens_thinking": cap,
        "thinking_n_ignore": k,
        "thinking_n_ignore_str": ignore,
        "max_tokens_answer": answer_tokens,
        "max_gen_toks": cap + answer_tokens,
        "until": [],
    }
    return parse_gen_kwargs(gen, preset=preset)


def stop_points(run: PathRun, k: int) -> dict[str, Any]:
    """Where each request stopped: thinking segment lengths, suppressions, cap, answer."""
    rows = []
    for trace, lengths in zip(run.traces, run.step_lengths, strict=True):
        rows.append(
            {
                "thinking_segments": lengths[:-1],
                "answer_tokens": trace["answer_tokens"],
                "thinking_tokens": trace["thinking_tokens"],
                "suppressions": trace["suppressions"],
                "cap_fired": trace["cap_fired"],
            }
        )
    totals = sorted(run.tokens)
    first = sorted(r["thinking_segments"][0] for r in rows)
    return {
        "requests": rows,
        "first_stop": {"min": first[0], "median": statistics.median(first), "max": first[-1]},
        "tokens_per_request": {
            "min": totals[0],
            "median": statistics.median(totals),
            "max": totals[-1],
        },
        "cap_fired": sum(r["cap_fired"] for r in rows),
        "ended_after_k_suppressions": sum(
            (not r["cap_fired"]) and r["suppressions"] == k for r in rows
        ),
    }


def spread(values: Sequence[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def bench_batch(
    llm: Any,
    prompts: Sequence[Sequence[int]],
    settings: GenerationSettings,
    repeats: int,
    k: int,
    fork_without_cache: bool = False,
    log=print,
) -> dict[str, Any]:
    """All paths on one batch, ``repeats`` interleaved repetitions (rotating the order)."""
    engines: dict[str, VLLMEngine] = {"rounds": RoundsEngine(llm), "continuous": VLLMEngine(llm)}
    names = PATHS
    if fork_without_cache:
        engines[NOCACHE] = RoundsEngine(llm, read_prefix_cache=False)
        names = (*PATHS, NOCACHE)
    # untimed warm-up, which also fixes the per-request token counts plain must match
    reference = run_forced("continuous", engines["continuous"], prompts, settings)
    lengths = reference.tokens
    runs: dict[str, list[PathRun]] = {p: [] for p in names}
    loads = [os.getloadavg()[0]]
    for rep in range(repeats):
        shift = rep % len(names)
        order = names[shift:] + names[:shift]
        for path in order:
            if path == "plain":
                run = run_plain(llm, prompts, lengths)
            else:
                run = run_forced(path, engines[path], prompts, settings)
            runs[path].append(run)
            log(
                f"  batch {len(prompts)} rep {rep + 1}/{repeats} {path:>10}: "
                f"{run.wall_s:6.2f} s wall, {run.cpu_s:6.2f} s CPU, {run.tokens_per_s:6.1f} tok/s, "
                f"prefill {run.prefill_computed}"
            )
        loads.append(os.getloadavg()[0])

    same = {
        # greedy decoding: every forced run must reproduce the warm-up's traces exactly
        path: all(
            r.outputs == reference.outputs and r.traces == reference.traces for r in runs[path]
        )
        for path in names
        if path != "plain"
    }
    same_tokens = {path: all(r.tokens == lengths for r in runs[path]) for path in names}

    paths = {}
    for path in names:
        walls = [r.wall_s for r in runs[path]]
        cpus = [r.cpu_s for r in runs[path]]
        paths[path] = {
            **runs[path][0].summary(),
            "wall_s": round(statistics.median(walls), 3),
            "cpu_s": round(statistics.median(cpus), 3),
            "tokens_per_s": round(sum(lengths) / statistics.median(walls), 1),
            "tokens_per_cpu_s": round(sum(lengths) / statistics.median(cpus), 1),
            "wall_s_runs": [round(w, 3) for w in walls],
            "cpu_s_runs": [round(c, 3) for c in cpus],
            "wall_spread": round(spread(walls), 3),
        }

    def ratio(x: str, y: str, attr: str) -> float:
        mine = statistics.median(getattr(r, attr) for r in runs[x])
        return round(mine / statistics.median(getattr(r, attr) for r in runs[y]), 3)

    ratios = {
        "c/a": ratio("continuous", "plain", "wall_s"),
        "b/c": ratio("rounds", "continuous", "wall_s"),
        "c/a_cpu": ratio("continuous", "plain", "cpu_s"),
        "b/c_cpu": ratio("rounds", "continuous", "cpu_s"),
        "per_repetition": [
            {
                "c/a": round(runs["continuous"][i].wall_s / runs["plain"][i].wall_s, 3),
                "b/c": round(runs["rounds"][i].wall_s / runs["continuous"][i].wall_s, 3),
            }
            for i in range(repeats)
        ],
    }
    if fork_without_cache:
        ratios["b'/c"] = ratio(NOCACHE, "continuous", "wall_s")
        ratios["b'/c_cpu"] = ratio(NOCACHE, "continuous", "cpu_s")
    return {
        "batch_size": len(prompts),
        "prompt_tokens": [len(p) for p in prompts],
        "paths": paths,
        "ratios": ratios,
        "same_outputs_as_reference": same,
        "same_token_counts": same_tokens,
        "stop_points": stop_points(reference, k),
        "load_average_1min": [round(x, 2) for x in loads],
    }


# -- report ----------------------------------------------------------------------------------
LABELS = {
    "plain": "(a) plain generation, same tokens",
    "rounds": "(b) s1 fork rounds (baseline)",
    "continuous": "(c) s1-eval continuous forcing",
    NOCACHE: "(b') s1 fork rounds, no prefix cache",
}


def markdown(result: dict[str, Any]) -> str:
    cfg = result["config"]
    cap = f"{cfg['cap']} tokens" if isinstance(cfg["cap"], int) else "per batch (see headings)"
    lines = [
        "# Budget forcing vs plain generation",
        "",
        f"Model {cfg['model_name']}, {cfg['device']}; thinking cap {cap}, "
        f'k = {cfg["k"]} suppressions ("{cfg["ignore"]}"), answer ≤ {cfg["answer_tokens"]} '
        f"tokens, greedy, preset `{cfg['preset']}`; prefix caching on for every path, reset "
        f"before each; median of {cfg['repeats']} interleaved repetitions. CPU time of the "
        "benchmark process (the in-process engine included) is shown beside wall time "
        "because other jobs shared the machine.",
        "",
    ]
    for batch in result["batches"]:
        b = batch["batch_size"]
        sp = batch["stop_points"]
        lines += [
            f"## Batch {b}" + (f" (cap {batch['cap']})" if "cap" in batch else ""),
            "",
            "| path | wall s | wall s, each run | CPU s | tokens | tokens/s (wall) | "
            "tokens/CPU s | prefill computed / prompt tokens | engine requests |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for path in batch["paths"]:
            p = batch["paths"][path]
            runs = ", ".join(f"{w:.1f}" for w in p["wall_s_runs"])
            lines.append(
                f"| {LABELS[path]} | {p['wall_s']:.2f} | {runs} | {p['cpu_s']:.2f} | "
                f"{p['tokens']} | {p['tokens_per_s']:.0f} | {p['tokens_per_cpu_s']:.0f} | "
                f"{p['prefill_computed']} / {p['prompt_tokens']} | {p['engine_requests']} |"
            )
        r = batch["ratios"]
        per = "; ".join(f"{x['c/a']:.2f} / {x['b/c']:.2f}" for x in r["per_repetition"])
        same = batch["same_outputs_as_reference"]
        fork_note = ""
        if "b'/c" in r:
            wall, cpu = r["b'/c"], r["b'/c_cpu"]
            fork_note = f" Against the fork without prefix cache: b'/c = {wall:.2f} (wall), {cpu:.2f} (CPU)."
        lines += [
            "",
            f"Wall: **c/a = {r['c/a']:.2f}**, **b/c = {r['b/c']:.2f}**; "
            f"per repetition c/a / b/c: {per}. "
            f"CPU time: c/a = {r['c/a_cpu']:.2f}, b/c = {r['b/c_cpu']:.2f}." + fork_note,
            f"Stop points: first end of thinking after {sp['first_stop']['min']}–"
            f"{sp['first_stop']['max']} tokens (median {sp['first_stop']['median']}); "
            f"tokens per request {sp['tokens_per_request']['min']}–"
            f"{sp['tokens_per_request']['max']} (median {sp['tokens_per_request']['median']}); "
            f"cap fired on {sp['cap_fired']}/{b}, ended after k suppressions on "
            f"{sp['ended_after_k_suppressions']}/{b}.",
            f"Same greedy traces as the reference run: rounds {same['rounds']}, continuous "
            f"{same['continuous']}; same token counts: {batch['same_token_counts']}. 1-min load average during the runs: "
            f"{', '.join(str(x) for x in batch['load_average_1min'])} "
            f"(on {cfg['cpu_count']} CPUs; other work shared the machine).",
            "",
        ]
    return "\n".join(lines)


def device_name() -> str:
    """The GPUs when torch sees CUDA (vLLM runs there), else the CPU, as the tables word them."""
    import torch

    from s1_eval.runs.hardware import hardware_summary

    if torch.cuda.is_available():
        return hardware_summary()
    return f"{platform.machine()} CPU x{os.cpu_count()}"


def parse_engine_args(items: Sequence[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        for cast in (int, float):
            try:
                args[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            args[key] = {"true": True, "false": False}.get(value.lower(), value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="8,32")
    parser.add_argument("--cap", type=int, default=256, help="max_tokens_thinking")
    parser.add_argument("--caps", default="", help="per batch size, e.g. 256,128 (overrides --cap)")
    parser.add_argument("--k", type=int, default=2, help="thinking_n_ignore")
    parser.add_argument("--ignore", default="Wait", help="thinking_n_ignore_str")
    parser.add_argument("--answer-tokens", type=int, default=32, help="max_tokens_answer")
    parser.add_argument("--preset", default="plain")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None, help="model path or name (default SmolLM2)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument(
        "--engine-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra vLLM engine args, e.g. --engine-arg tensor_parallel_size=2",
    )
    parser.add_argument(
        "--no-fork-without-cache",
        action="store_true",
        help="skip (b'), the fork's rounds with prefix caching off (its vLLM 0.6 default)",
    )
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args(argv)

    sizes = [int(x) for x in args.batch_sizes.split(",")]
    caps = [int(x) for x in args.caps.split(",")] if args.caps else [args.cap] * len(sizes)
    if len(caps) != len(sizes):
        parser.error("--caps needs one value per batch size")
    if args.model is None:
        from s1_eval.demo.smollm2 import ensure_smollm2

        model, model_name = str(ensure_smollm2()), "SmolLM2-135M-Instruct"
        engine_args = {"max_model_len": 2048, "block_size": 32, "enforce_eager": True}
    else:
        model, model_name = args.model, args.model
        engine_args = {}
    engine_args.update({"dtype": args.dtype, "seed": 0})
    engine_args.update(parse_engine_args(args.engine_arg))

    start = time.perf_counter()
    engine = VLLMEngine.load(model, **engine_args)
    print(f"engine started in {time.perf_counter() - start:.1f} s")
    result: dict[str, Any] = {
        "config": {
            "model_name": model_name,
            "engine_args": engine_args,
            "cap": args.cap if not args.caps else dict(zip(sizes, caps, strict=True)),
            "k": args.k,
            "ignore": args.ignore,
            "answer_tokens": args.answer_tokens,
            "preset": args.preset,
            "repeats": args.repeats,
            "device": engine_args.get("device") or device_name(),
            "cpu_count": os.cpu_count(),
            "vllm": __import__("vllm").__version__,
        },
        "batches": [],
    }
    for size, cap in zip(sizes, caps, strict=True):
        settings = make_settings(cap, args.k, args.ignore, args.answer_tokens, args.preset)
        prompts = chat_prompts(engine.tokenizer, size)
        print(f"batch {size}, cap {cap}:")
        batch = bench_batch(
            engine.llm,
            prompts,
            settings,
            args.repeats,
            args.k,
            fork_without_cache=not args.no_fork_without_cache,
        )
        batch["cap"] = cap
        result["batches"].append(batch)
        r = batch["ratios"]
        print(f"  c/a = {r['c/a']:.2f}, b/c = {r['b/c']:.2f}")
    result["total_s"] = round(time.perf_counter() - start, 1)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "forcing_bench.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "forcing_bench.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
