"""The ``s1-eval`` command: run (lm-eval itself), sweep, report, plot and demo.

s1-eval sweep --model_args pretrained=DIR --tasks s1_aime24 --budgets 512,1024,2048
"""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys
import traceback
from pathlib import Path

from s1_eval.metrics import SCALING_UNIT

EPILOG = f"""Scaling is reported in {SCALING_UNIT}.
Examples:
  s1-eval run --model s1_vllm --model_args pretrained=DIR --tasks s1_aime24 \\
      --gen_kwargs max_tokens_thinking=1000,thinking_n_ignore=2 --output_path out --log_samples
  s1-eval sweep --model_args pretrained=DIR --tasks s1_aime24 --budgets 512,1024,2048 \\
      --n_ignore 0,2 --ignore_str Wait --output runs/s1_aime24
  s1-eval report runs/s1_aime24 out --output runs/board
  s1-eval plot runs/s1_aime24 --output runs/s1_aime24/scaling.png --reference
"""


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line: ``error: --key: what is accepted``."""

    def error(self, message: str):
        message = message.removeprefix("argument ")
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


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


def _metadata_action():
    """lm-eval's own parser for --metadata (key=val args or a JSON object), so both CLIs agree."""
    from lm_eval._cli.utils import MergeDictAction

    class MetadataAction(MergeDictAction):
        def __call__(self, parser, namespace, values, option_string=None):
            try:
                super().__call__(parser, namespace, values, option_string)
            except ValueError as error:  # bad JSON: one line, like every other bad option
                parser.error(f"argument {option_string}: {error}")

    return MetadataAction


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `sweep` (and meant for `demo`)."""
    parser.add_argument("--model", default="s1_vllm", help="lm-eval model name (default s1_vllm)")
    parser.add_argument("--model_args", default="", help="e.g. pretrained=DIR,dtype=bfloat16")
    parser.add_argument("--tasks", required=True, help="comma-separated lm-eval task names")
    parser.add_argument(
        "--budgets",
        required=True,
        help="comma-separated max_tokens_thinking values; 'none' = no cap, 'auto' = fork rule",
    )
    parser.add_argument("--n_ignore", default=None, help="comma-separated thinking_n_ignore values")
    parser.add_argument(
        "--ignore_str",
        action="append",
        default=None,
        help="thinking_n_ignore_str; repeat the option for several strings (taken verbatim)",
    )
    parser.add_argument("--gen_kwargs", default="", help="extra gen_kwargs for every cell, k=v,...")
    parser.add_argument(
        "--metadata",
        default=None,
        nargs="+",
        action=_metadata_action(),
        metavar="<args>",
        help="task knobs for every cell, as lm_eval's --metadata: key=val ... or a JSON object "
        '(e.g. demo_num_problems=20 or \'{"s1_data_dir": "data"}\'); merged over model_args',
    )
    parser.add_argument("--limit", type=_limit, default=None, help="samples per task (or fraction)")
    parser.add_argument("--output", default=None, help="run folder (default runs/<model>__<tasks>)")
    parser.add_argument(
        "--preset",
        default=None,
        help="delimiter preset of the backend (added to model_args as preset=NAME)",
    )
    parser.add_argument("--apply_chat_template", nargs="?", const=True, default=False)
    parser.add_argument(
        "--fewshot_as_multiturn", action=argparse.BooleanOptionalAction, default=True
    )
    parser.add_argument("--system_instruction", default=None)
    parser.add_argument("--num_fewshot", type=int, default=None)
    parser.add_argument(
        "--include_path", action="append", default=[], help="extra task folder (repeatable)"
    )
    parser.add_argument("--batch_size", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
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

    from s1_eval.sweep import SweepConfig, settings_from_strings

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    gen_kwargs = {}
    if args.gen_kwargs:
        try:
            gen_kwargs = simple_parse_args_string(args.gen_kwargs)
        except ValueError:
            raise ValueError(
                f"gen_kwargs: {args.gen_kwargs!r}: expected key=value pairs separated by commas"
            ) from None
    model_args = args.model_args
    if args.preset and not re.search(r"(?:^|,)preset=", model_args):
        model_args = f"{model_args},preset={args.preset}" if model_args else f"preset={args.preset}"
    config = SweepConfig(
        tasks=tuple(tasks),
        settings=settings_from_strings(args.budgets, args.n_ignore, args.ignore_str),
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
        seed=args.seed,
        metadata=args.metadata or {},
    )
    output = Path(args.output) if args.output else _default_output(args.model, model_args, tasks)
    return config, output


def _terminate_as_exit(signum, _frame):
    raise SystemExit(128 + signum)  # lets the sweep remove its unfinished cell


def cmd_sweep(args: argparse.Namespace) -> int:
    from s1_eval.sweep import run_sweep, sweep_and_report

    config, output = sweep_config_from_args(args)
    previous = signal.signal(signal.SIGTERM, _terminate_as_exit)
    try:
        print(f"sweep: {len(config.tasks)} task(s) × {len(config.settings)} setting(s) -> {output}")
        share = not args.independent
        if args.no_report:
            run_sweep(config, output, share=share)
            return 0
        summary = sweep_and_report(config, output, plot=not args.no_plot, share=share)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(summary.markdown)
    print("wrote: " + ", ".join(str(p) for p in summary.files))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from s1_eval.report import build_report, report_files
    from s1_eval.run_folder import write_all_atomic

    # every input is read and every output rendered before the first file is replaced
    report = build_report(args.runs, metric=args.metric, filter_name=args.filter)
    print(report.markdown(), end="")
    if not report.cells:
        print("error: runs: no finished cells to report; nothing written", file=sys.stderr)
        return 1
    if args.output:
        contents = report_files(report, args.output)
        if args.plot:
            from s1_eval.plots import render_scaling

            contents[Path(args.output) / "scaling.png"] = render_scaling(report, args.reference)
        files = write_all_atomic(contents)
        print("wrote: " + ", ".join(str(p) for p in files))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from s1_eval.verify import verify_runs

    problems, summary = verify_runs(args.runs)
    if not problems:
        print(f"verify: OK - {summary}; every check passed")
        return 0
    print(f"verify: FAILED - {len(problems)} mismatch(es) in {summary}")
    for problem in problems:
        print(f"  {problem}")
    return 1


def cmd_plot(args: argparse.Namespace) -> int:
    from s1_eval.plots import plot_scaling
    from s1_eval.report import build_report

    report = build_report(args.runs, metric=args.metric, filter_name=args.filter)
    for warning in report.warnings:
        print(f"note: {warning}", file=sys.stderr)
    if not report.cells:
        print("error: runs: no finished cells to plot; nothing written", file=sys.stderr)
        return 1
    path = plot_scaling(report, args.output, reference=args.reference, title=args.title, x=args.x)
    print(f"wrote: {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: s1 in miniature, offline on SmolLM2 (see s1_eval.demo)."""
    from s1_eval.demo import DEMO_BUDGETS, DEMO_OUTPUT, STOCK_BUDGETS, STOCK_OUTPUT, run_demo

    default_budgets, default_output = (
        (STOCK_BUDGETS, STOCK_OUTPUT) if args.stock else (DEMO_BUDGETS, DEMO_OUTPUT)
    )
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else default_budgets
    previous = signal.signal(signal.SIGTERM, _terminate_as_exit)
    try:
        run_demo(
            args.output or default_output,
            budgets=budgets,
            limit=args.limit,
            stock=args.stock,
            train_steps=args.train_steps,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def cmd_run(rest: list[str]) -> int:
    """`s1-eval run ARGS` = `lm_eval ARGS` with the s1-eval backends and tasks registered."""
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["lm_eval", *rest]
    cli_evaluate()
    return 0


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="sweep folders, lm-eval output folders or files")
    parser.add_argument("--metric", default="exact_match", help="per-sample correctness field")
    parser.add_argument("--filter", default=None, help="lm-eval filter name (default 'none')")
    parser.add_argument(
        "--reference",
        nargs="?",
        const=True,
        default=False,
        help="draw the paper's s1-32B accuracy (optionally: reference JSON)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="s1-eval",
        description="Budget forcing evaluation on lm-evaluation-harness.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (any position)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "run", help="lm_eval itself with the s1 backends (all lm_eval options)", add_help=False
    )
    sweep = sub.add_parser("sweep", help="tasks × budgets in one model process, resumable")
    add_sweep_arguments(sweep)
    report = sub.add_parser("report", help="leaderboard (markdown, CSV, JSON) across runs")
    _add_read_options(report)
    report.add_argument("--output", default=None, help="folder for leaderboard.{md,csv,json}")
    report.add_argument("--plot", action="store_true", help="also write scaling.png there")
    plot = sub.add_parser("plot", help="accuracy vs thinking tokens PNG")
    _add_read_options(plot)
    plot.add_argument("--output", required=True, help="PNG path")
    plot.add_argument("--title", default=None)
    plot.add_argument(
        "--x",
        choices=("thinking", "total"),
        default="thinking",
        help="x axis: mean thinking tokens (default) or thinking + answer tokens per sample",
    )
    verify = sub.add_parser(
        "verify", help="re-grade a run's samples and check its files agree (leaderboard intake)"
    )
    verify.add_argument("runs", nargs="+", help="sweep folders, lm-eval output folders or files")
    demo = sub.add_parser(
        "demo", help="s1 in miniature: train SmolLM2 to count, then cap and extend its thinking"
    )
    demo.add_argument("--output", default=None, help="default runs/demo (--stock: runs/demo-stock)")
    demo.add_argument(
        "--budgets",
        default=None,
        help="cap curve budgets, comma-separated, default 8,16,32,48,64,96",
    )
    demo.add_argument(
        "--stock", action="store_true", help="untrained SmolLM2, plain delimiters, arithmetic"
    )
    demo.add_argument("--limit", type=int, default=None, help="problems per cell (default all)")
    demo.add_argument(
        "--train_steps", type=int, default=None, help="SFT steps (default: the recipe's 24)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        return cmd_run(argv[1:])
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    handlers = {
        "sweep": cmd_sweep,
        "report": cmd_report,
        "plot": cmd_plot,
        "demo": cmd_demo,
        "verify": cmd_verify,
    }
    try:
        return handlers[args.command](args)
    except (ValueError, OSError) as error:
        # bad input (options, files, folders): one line and exit 2; --debug shows where
        if debug:
            traceback.print_exc()
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    raise SystemExit(main())
