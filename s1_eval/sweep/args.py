"""Options of `s1-eval sweep` and their translation into a SweepConfig and a run folder.

config, output = sweep_config_from_args(parser.parse_args(argv))
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import replace
from pathlib import Path

from s1_eval.common.log import SplitList, parse_bool
from s1_eval.runs.seeds import parse_seed_option

#: old spellings of sweep options (still accepted, with a one-line note naming the new one)
SWEEP_RENAMED = {
    "--output": "--output_path",
    "--no-fewshot_as_multiturn": "--fewshot_as_multiturn=false",
}


def _limit(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or (value >= 1 and not value.is_integer()):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a positive number of samples, or a fraction below 1"
        )
    return value if value < 1 else int(value)


def _default_output(model: str, model_args: str, tasks: list[str]) -> Path:
    match = re.search(r"(?:^|,)(?:pretrained|model|path)=([^,]+)", model_args)
    name = Path(match.group(1)).name if match else model
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{name}__{'+'.join(tasks)}")
    return Path("runs") / slug


def _dict_action():
    """lm-eval's own parser for --gen_kwargs and --metadata (key=val,... words or a JSON
    object), so both CLIs read the same text the same way."""
    from lm_eval._cli.utils import MergeDictAction

    class DictAction(MergeDictAction):
        def __call__(self, parser, namespace, values, option_string=None):
            try:
                super().__call__(parser, namespace, values, option_string)
            except ValueError as error:  # bad JSON: one line, like every other bad option
                parser.error(f"argument {option_string}: {error}")

    return DictAction


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `sweep` (and meant for `demo`)."""
    parser.add_argument("--model", default="s1_vllm", help="lm-eval model name (default s1_vllm)")
    parser.add_argument("--model_args", default="", help="e.g. pretrained=DIR,dtype=bfloat16")
    lists = dict(nargs="+", action=SplitList)
    parser.add_argument(
        "--tasks", required=True, **lists, help="lm-eval task names (comma- or space-separated)"
    )
    parser.add_argument(
        "--budgets",
        required=True,
        **lists,
        help="max_tokens_thinking values (comma- or space-separated); 'none' = no cap, "
        "'auto' = fork rule",
    )
    parser.add_argument("--n_ignore", default=None, **lists, help="thinking_n_ignore values")
    parser.add_argument(
        "--ignore_str",
        action="append",
        default=None,
        help="thinking_n_ignore_str; repeat the option for several strings (taken verbatim)",
    )
    parser.add_argument(
        "--methods",
        default=None,
        **lists,
        help="control methods side by side (comma-separated): forcing, prompt-tokens, "
        "prompt-tokens+forcing, prompt-steps, prompt-steps+forcing, prompt-class, chat-template, "
        "rejection, nothinking, early-stop, alphaone, nowait, engine-cap, majority, short-m; each turns "
        "--budgets into its own cells (default: forcing only)",
    )
    parser.add_argument(
        "--alpha", default=None, help="alphaone: alpha levels, e.g. 0.5,0.8 (default 0.5)"
    )
    parser.add_argument(
        "--parallel_k",
        default=None,
        help="majority, short-m: sample counts k, e.g. 1,2,4 (default); max(k) seeded samples run",
    )
    parser.add_argument("--short_m", type=int, default=None, help="short-m: m (default 1)")
    parser.add_argument(
        "--banned_words",
        default=None,
        help="nowait: words banned while thinking, separated by | (default: NoWait's list)",
    )
    parser.add_argument(
        "--step_tokens",
        type=int,
        default=None,
        help="prompt-steps: tokens per step, N = budget // step_tokens (default 100, the paper's)",
    )
    parser.add_argument(
        "--template_levels",
        default=None,
        help="chat-template: one variable's levels, e.g. reasoning_effort=low,medium,high",
    )
    parser.add_argument(
        "--gen_kwargs",
        default=None,
        nargs="+",
        action=_dict_action(),
        metavar="<arg>",
        help="extra gen_kwargs for every cell, as lm_eval's: k=v,... words or a JSON object",
    )
    parser.add_argument(
        "--metadata",
        default=None,
        nargs="+",
        action=_dict_action(),
        metavar="<args>",
        help="task knobs for every cell, as lm_eval's --metadata: key=val ... or a JSON object "
        '(e.g. demo_num_problems=20 or \'{"s1_data_dir": "data"}\'); merged over model_args',
    )
    parser.add_argument("--limit", type=_limit, default=None, help="samples per task (or fraction)")
    parser.add_argument(
        "--output_path", default=None, help="run folder (default runs/<model>__<tasks>)"
    )
    parser.add_argument(
        "--preset",
        default=None,
        help="delimiter preset of the backend (added to model_args as preset=NAME)",
    )
    parser.add_argument(
        "--apply_chat_template",
        nargs="?",
        const=True,
        default=False,
        metavar="<template>",
        help="as lm_eval's: apply the chat template (optionally: its name)",
    )
    parser.add_argument(
        "--fewshot_as_multiturn",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="<bool>",
        help="as lm_eval's: few-shot examples as turns (default true; 'false' turns it off)",
    )
    parser.add_argument("--system_instruction", default=None)
    parser.add_argument("--num_fewshot", type=int, default=None)
    parser.add_argument(
        "--include_path", action="append", default=[], help="extra task folder (repeatable)"
    )
    parser.add_argument("--batch_size", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--seed",
        default=None,
        help="lm-eval's --seed: one integer for python's, numpy's, torch's and few-shot "
        "sampling's seeds, or four values like 0,None,8,52 (default: 0,1234,1234,1234)",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        **lists,
        help="repeat every sampled setting: N runs seeds 0..N-1, or a list like 0,1,2; each "
        "seed is the cells' sampling seed gen_kwarg (needs --gen_kwargs do_sample=true,temperature=T)",
    )
    parser.add_argument(
        "--label", default=None, help="the model's name on the leaderboard (default: its folder)"
    )
    parser.add_argument("--no_report", action="store_true", help="skip leaderboard files and plot")
    parser.add_argument(
        "--independent",
        action="store_true",
        help="run cell after cell, each generating its own thinking (default: one pass in which "
        "budgets share the thinking they have in common; same outputs)",
    )
    parser.add_argument("--no_plot", action="store_true", help="skip scaling.png")


def sweep_config_from_args(args: argparse.Namespace):
    """argparse namespace -> (SweepConfig, output folder)."""
    from lm_eval.utils import simple_parse_args_string

    from s1_eval.sweep.run import SweepConfig, settings_from_strings

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    gen_kwargs = args.gen_kwargs or {}
    if isinstance(gen_kwargs, str):  # a caller's text rather than the parsed option
        try:
            gen_kwargs = simple_parse_args_string(gen_kwargs)
        except ValueError:
            raise ValueError(
                f"gen_kwargs: {gen_kwargs!r}: expected key=value pairs separated by commas"
            ) from None
    model_args = args.model_args
    if args.preset and not re.search(r"(?:^|,)preset=", model_args):
        model_args = f"{model_args},preset={args.preset}" if model_args else f"preset={args.preset}"
    settings = settings_from_strings(args.budgets, args.n_ignore, args.ignore_str)
    settings = _with_methods(args, settings)
    if any(s.method == "engine-cap" for s in settings):
        model_args = engine_cap_model_args(args.model, model_args)
    if args.seeds is not None and any(s.method == "parallel" for s in settings):
        raise ValueError(
            "--seeds: majority/short-m already draw their k seeded samples per problem "
            "(--parallel_k); drop --seeds"
        )
    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
        check_sampled(gen_kwargs)
        settings = tuple(replace(s, seed=seed) for s in settings for seed in seeds)
    config = SweepConfig(
        tasks=tuple(tasks),
        settings=settings,
        model=args.model,
        model_args=model_args,
        gen_kwargs=gen_kwargs,
        limit=args.limit,
        num_fewshot=args.num_fewshot,
        apply_chat_template=args.apply_chat_template,
        fewshot_as_multiturn=args.fewshot_as_multiturn,
        system_instruction=args.system_instruction,
        include_path=tuple(args.include_path),
        batch_size=args.batch_size,
        device=args.device,
        seed=0 if args.seed is None else parse_seed_option(args.seed),
        metadata=args.metadata or {},
        label=args.label,
    )
    output = (
        Path(args.output_path)
        if args.output_path
        else _default_output(args.model, model_args, tasks)
    )
    return config, output


def _with_methods(args: argparse.Namespace, forcing: tuple) -> tuple:
    """The cells of ``--methods`` (the forcing grid alone without it)."""
    from s1_eval.core.settings import parse_budget
    from s1_eval.runs.methods import DEFAULT_STEP_TOKENS
    from s1_eval.sweep.methods import (
        MethodGrid,
        method_settings,
        parse_template_levels,
    )

    methods = getattr(args, "methods", None)
    if not methods:
        for option in ("step_tokens", "template_levels", *DECODING_OPTIONS):
            if getattr(args, option, None) is not None:
                raise ValueError(f"{option}: only used with --methods")
        return forcing
    grid = MethodGrid(
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        budgets=tuple(parse_budget(b, "budgets") for b in args.budgets.split(",") if b.strip()),
        step_tokens=args.step_tokens if args.step_tokens is not None else DEFAULT_STEP_TOKENS,
        template_levels=parse_template_levels(args.template_levels) if args.template_levels else (),
        decoding=decoding_levels(args),
    )
    return method_settings(grid, forcing)


#: backends whose engine can cap thinking itself (the toy imitates vLLM's budget)
ENGINE_CAP_MODELS = ("s1_vllm", "s1_scripted")


def engine_cap_model_args(model: str, model_args: str) -> str:
    """The engine-cap cells need vLLM built with the delimiters: model_args gain
    ``engine_thinking_budget=True`` (s1_vllm); other backends are refused in one line."""
    if model not in ENGINE_CAP_MODELS:
        raise ValueError(
            f"methods: engine-cap needs --model s1_vllm (vLLM's own thinking_token_budget); "
            f"{model} has no engine cap"
        )
    if model != "s1_vllm" or re.search(r"(?:^|,)engine_thinking_budget=", model_args):
        return model_args
    return ",".join(x for x in (model_args, "engine_thinking_budget=True") if x)


DECODING_OPTIONS = ("alpha", "parallel_k", "short_m", "banned_words")


def decoding_levels(args: argparse.Namespace):
    """``--alpha``, ``--parallel_k``, ``--short_m``, ``--banned_words`` (defaults when absent)."""
    from s1_eval.sweep.decoding import DecodingLevels, parse_numbers

    given = {}
    if getattr(args, "alpha", None) is not None:
        given["alphas"] = parse_numbers("alpha", args.alpha, float)
    if getattr(args, "parallel_k", None) is not None:
        given["parallel_k"] = parse_numbers("parallel_k", args.parallel_k, int)
    if getattr(args, "short_m", None) is not None:
        given["short_m"] = args.short_m
    if getattr(args, "banned_words", None) is not None:
        given["banned_words"] = tuple(w.strip() for w in args.banned_words.split("|"))
    return DecodingLevels(**given)


def parse_seeds(text: str) -> list[int]:
    """``--seeds``: '3' -> [0, 1, 2]; '0,5,9' -> [0, 5, 9] (a list names the seeds)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"--seeds={text}: expected a count like 3 or seeds like 0,1,2")
    if len(parts) == 1:
        count = int(parts[0])
        if count < 1:
            raise ValueError(f"--seeds={text}: expected a count of at least 1")
        return list(range(count))
    seeds = [int(p) for p in parts]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds={text}: a seed is repeated")
    return seeds


def check_sampled(gen_kwargs: dict) -> None:
    """Repeats over seeds only mean something when the cells sample."""
    if "seed" in gen_kwargs:
        raise ValueError("--seeds: the gen_kwargs already fix seed=...; give one or the other")
    from s1_eval.core.settings import parse_gen_kwargs

    settings = parse_gen_kwargs(gen_kwargs)
    if settings.sampling.greedy and settings.thinking_sampling.greedy:
        raise ValueError(
            "--seeds: the cells are greedy, so every seed would give the same answers; "
            "sample with --gen_kwargs do_sample=true,temperature=0.6 (or another temperature > 0)"
        )
