"""The ``s1-eval`` command: run (lm-eval itself), sweep, report, compare, plot, verify, submit, demo,
reproduce.

s1-eval sweep --model_args pretrained=DIR --tasks s1_aime24 --budgets 512,1024,2048
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from s1_eval.common.log import OneLineParser, SplitList, bad_input_is_one_line
from s1_eval.report.metrics import SCALING_UNIT
from s1_eval.sweep.args import SWEEP_RENAMED, add_sweep_arguments, sweep_config_from_args

#: lm-eval's name for where output goes; the old one still works, with a one-line note
OUTPUT_RENAMED = {"--output": "--output_path"}

EPILOG = f"""Scaling is reported in {SCALING_UNIT}.
Examples:
  s1-eval run --model s1_vllm --model_args pretrained=DIR --tasks s1_aime24 \\
      --gen_kwargs max_tokens_thinking=1000,thinking_n_ignore=2 --output_path out --log_samples
  s1-eval sweep --model_args pretrained=DIR --tasks s1_aime24 --budgets 512,1024,2048 \\
      --n_ignore 0,2 --ignore_str Wait --output_path runs/s1_aime24
  s1-eval report runs/s1_aime24 out --output_path runs/board
  s1-eval compare runs/s1_aime24:budget=512,n_ignore=0 runs/s1_aime24:budget=512,n_ignore=2,str=Wait
  s1-eval plot runs/s1_aime24 --output_path runs/s1_aime24/scaling.png --reference
"""


class _Interrupted(SystemExit):
    """Ctrl-C or SIGTERM, raised where the program is, so context managers clean up (a sweep
    removes its unfinished cell, verify its unpacked archive)."""

    @classmethod
    def raise_(cls, signum, _frame):
        raise cls(128 + signum)


@contextlib.contextmanager
def _signals_as_exit(*numbers: int) -> Iterator[None]:
    """While the block runs, these signals raise ``_Interrupted``; their handlers come back after."""
    previous = {number: signal.signal(number, _Interrupted.raise_) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def cmd_sweep(args: argparse.Namespace) -> int:
    from s1_eval.sweep.run import run_sweep, sweep_and_report

    config, output = sweep_config_from_args(args)
    with _signals_as_exit(signal.SIGTERM):
        print(f"sweep: {len(config.tasks)} task(s) × {len(config.settings)} setting(s) -> {output}")
        share = not args.independent
        if args.no_report:
            run_sweep(config, output, share=share)
            return 0
        summary = sweep_and_report(config, output, plot=not args.no_plot, share=share)
    print(summary.markdown)
    print("wrote: " + ", ".join(str(p) for p in summary.files))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from s1_eval.common.files import write_all_atomic
    from s1_eval.report.build import build_report
    from s1_eval.report.leaderboard import report_files, to_markdown

    # every input is read and every output rendered before the first file is replaced
    report = build_report(args.runs, metric=args.metric, filter_name=args.filter)
    paper = ""
    if args.reference:
        from s1_eval.report.reference import load_reference, paper_interval_lines

        reference = load_reference(None if args.reference is True else args.reference)
        paper = "\n" + "\n".join(paper_interval_lines(reference)) + "\n"
    if args.methods:
        from s1_eval.report.methods_table import methods_markdown

        reference = None
        if args.reference:
            from s1_eval.report.reference import load_reference

            reference = load_reference(None if args.reference is True else args.reference)
        print(methods_markdown(report, reference))
    print(to_markdown(report) + paper, end="")
    if not report.cells:
        print("error: runs: no finished cells to report; nothing written", file=sys.stderr)
        return 1
    if args.output_path:
        contents = report_files(report, args.output_path)
        contents[Path(args.output_path) / "leaderboard.md"] += paper
        if args.plot:
            from s1_eval.report.plots import render_scaling

            contents[Path(args.output_path) / "scaling.png"] = render_scaling(
                report, args.reference
            )
        with _sweep_folder_lock(Path(args.output_path)):  # never beside a sweep writing there
            files = write_all_atomic(contents)
        print("wrote: " + ", ".join(str(p) for p in files))
    if args.html:
        from s1_eval.common.files import write_atomic
        from s1_eval.report.html_page import render_html

        write_atomic(Path(args.html), render_html(report, args.reference))
        print(f"wrote: {args.html}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if args.traces:
        from s1_eval.report.trace_diff import compare_traces

        traces = compare_traces(args.a, args.b, task=args.task, tokenizer=args.tokenizer)
        print(traces.to_json() if args.json else "\n".join(traces.lines()))
        return 0
    from s1_eval.report.compare import compare_sides, comparison_json

    comparison = compare_sides(
        args.a,
        args.b,
        task=args.task,
        metric=args.metric,
        filter_name=args.filter,
        n_resamples=args.resamples,
        seed=args.bootstrap_seed,
    )
    print(comparison_json(comparison) if args.json else "\n".join(comparison.lines()))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from s1_eval import reproduce

    if args.list:
        print("\n".join(reproduce.list_lines()))
        return 0
    if not args.row:
        raise ValueError("reproduce: name a row (s1-eval reproduce --list shows them)")
    with _signals_as_exit(signal.SIGTERM):
        verdict = reproduce.reproduce(
            args.row,
            output=args.output_path,
            model_path=args.model_path,
            compare=args.compare,
            limit=args.limit,
        )
    return 0 if verdict.word == "consistent" else 1


def _sweep_folder_lock(folder: Path):
    """The run folder's lock when ``folder`` is a sweep's (a board folder needs none)."""
    from s1_eval.runs.folder import is_sweep
    from s1_eval.runs.lock import run_folder_lock

    return run_folder_lock(folder) if is_sweep(folder) else contextlib.nullcontext()


def cmd_verify(args: argparse.Namespace) -> int:
    from s1_eval.report.archive import ArchiveLimits
    from s1_eval.report.submit import verify_with_bundles

    limits = ArchiveLimits(args.max_members, args.max_bytes, args.max_ratio)
    # Ctrl-C or a kill unwinds like an error: the temporary folder an archive is unpacked into
    # is removed on the way out (SystemExit, not KeyboardInterrupt: a KeyboardInterrupt caught
    # inside an import can still make the interpreter exit through SIGINT)
    handled = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job stays deaf
        handled.append(signal.SIGINT)
    try:
        with _signals_as_exit(*handled):
            problems, summary = verify_with_bundles(
                args.runs, include_path=args.include_path, limits=limits
            )
    except _Interrupted as stop:
        print("verify: interrupted; nothing unpacked was kept", file=sys.stderr)
        return stop.code
    if not problems:
        print(f"verify: OK - {summary}; every check passed")
        return 0
    print(f"verify: FAILED - {len(problems)} mismatch(es) in {summary}")
    for problem in problems:
        print(f"  {problem}")
    return 1


def cmd_submit(args: argparse.Namespace) -> int:
    from s1_eval.report.submit import make_bundle

    print(f"wrote: {make_bundle(args.runs, args.output_path, include_path=args.include_path)}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from s1_eval.report.build import build_report
    from s1_eval.report.plots import plot_scaling

    report = build_report(args.runs, metric=args.metric, filter_name=args.filter)
    for warning in report.warnings:
        print(f"note: {warning}", file=sys.stderr)
    if not report.cells:
        print("error: runs: no finished cells to plot; nothing written", file=sys.stderr)
        return 1
    with _sweep_folder_lock(Path(args.output_path).parent):
        path = plot_scaling(
            report, args.output_path, reference=args.reference, title=args.title, x=args.x
        )
    print(f"wrote: {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`make demo`'s job: s1 in miniature, offline on SmolLM2 (see s1_eval.demo.run)."""
    from s1_eval.demo import run as demo

    if args.stock and args.methods:
        raise ValueError("--methods: runs on the trained model; leave out --stock")
    default_budgets, default_output = (
        (demo.STOCK_BUDGETS, demo.STOCK_OUTPUT)
        if args.stock
        else (demo.METHOD_BUDGETS, demo.METHODS_OUTPUT)
        if args.methods
        else (demo.DEMO_BUDGETS, demo.DEMO_OUTPUT)
    )
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else default_budgets
    with _signals_as_exit(signal.SIGTERM):
        demo.run_demo(
            args.output_path or default_output,
            budgets=budgets,
            limit=args.limit,
            stock=args.stock,
            train_steps=args.train_steps,
            methods=args.methods,
        )
    return 0


def cmd_run(rest: list[str]) -> int:
    """`s1-eval run ARGS` = `lm_eval ARGS` with the s1-eval backends and tasks registered."""
    from lm_eval.__main__ import cli_evaluate

    # lm_eval's own --help lists its commands; `s1-eval run --help` means lm_eval run's options
    sys.argv = ["lm_eval", "run", *rest] if rest[:1] in (["-h"], ["--help"]) else ["lm_eval", *rest]
    cli_evaluate()
    return 0


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive whole number")
    return int(text)


def _byte_count(text: str) -> int:
    """A size in bytes: 4294967296, or with a binary unit: 4GiB, 512MiB (also 4G, 512M)."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    number = text.strip().lower().removesuffix("ib").removesuffix("b")
    scale = units.get(number[-1:], 1)
    number = number[:-1] if number[-1:] in units else number
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a size such as 4GiB or 4294967296")
    return int(number) * scale


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= 1:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of at least 1, e.g. 100")
    return value


def _add_archive_limits(parser: argparse.ArgumentParser) -> None:
    from s1_eval.report.archive import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_RATIO

    limits = parser.add_argument_group(
        "archive limits", "what a .tar(.gz) bundle may hold; the defaults admit a real submission"
    )
    limits.add_argument(
        "--max_members", type=_positive_int, default=DEFAULT_MAX_MEMBERS,
        help=f"files and folders (default {DEFAULT_MAX_MEMBERS:,})",
    )  # fmt: skip
    limits.add_argument(
        "--max_bytes", type=_byte_count, default=DEFAULT_MAX_BYTES,
        help=f"unpacked size, e.g. 8GiB (default {DEFAULT_MAX_BYTES // 1024**3} GiB)",
    )  # fmt: skip
    limits.add_argument(
        "--max_ratio", type=_ratio, default=DEFAULT_MAX_RATIO,
        help=f"unpacked bytes per compressed byte (default {DEFAULT_MAX_RATIO:g})",
    )  # fmt: skip


def _add_metric_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", default="exact_match", help="per-sample correctness field")
    parser.add_argument("--filter", default=None, help="lm-eval filter name (default 'none')")


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="sweep folders, lm-eval output folders or files")
    _add_metric_options(parser)
    parser.add_argument(
        "--reference",
        nargs="?",
        const=True,
        default=False,
        help="draw the paper's s1-32B accuracy (optionally: reference JSON)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
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
    sweep = sub.add_parser(
        "sweep", help="tasks × budgets in one model process, resumable", renamed=SWEEP_RENAMED
    )
    add_sweep_arguments(sweep)
    report = sub.add_parser(
        "report", help="leaderboard (markdown, CSV, JSON) across runs", renamed=OUTPUT_RENAMED
    )
    _add_read_options(report)
    report.add_argument("--output_path", default=None, help="folder for leaderboard.{md,csv,json}")
    report.add_argument("--plot", action="store_true", help="also write scaling.png there")
    report.add_argument("--html", default=None, help="also write one self-contained HTML page")
    report.add_argument(
        "--methods",
        action="store_true",
        help="print the control methods side by side first (the paper's Table 3 layout; with "
        "--reference also the paper's rows)",
    )
    plot = sub.add_parser("plot", help="accuracy vs thinking tokens PNG", renamed=OUTPUT_RENAMED)
    _add_read_options(plot)
    plot.add_argument("--output_path", required=True, help="PNG path")
    plot.add_argument("--title", default=None)
    plot.add_argument(
        "--x",
        choices=("thinking", "total"),
        default="thinking",
        help="x axis: mean thinking tokens (default) or thinking + answer tokens per sample",
    )
    compare = sub.add_parser(
        "compare",
        help="B vs A on the same problems: paired interval, McNemar, verdict",
        renamed={"--seed": "--bootstrap_seed"},  # --seed is the runs' seed elsewhere
    )
    compare.add_argument("a", metavar="RUN_A[:SETTING]", help="baseline: run folder[:setting]")
    compare.add_argument("b", metavar="RUN_B[:SETTING]", help="compared: run folder[:setting]")
    compare.add_argument("--task", default=None, help="the task, when a run holds several")
    _add_metric_options(compare)
    compare.add_argument("--resamples", type=_positive_int, default=10_000, help="bootstrap draws")
    compare.add_argument(
        "--bootstrap_seed", type=int, default=0, help="seed of the bootstrap draws (default 0)"
    )
    compare.add_argument("--json", action="store_true", help="print the result as JSON")
    compare.add_argument(
        "--traces",
        action="store_true",
        help="token by token: which problems' generations are identical, where the others part",
    )
    compare.add_argument(
        "--tokenizer", default=None, help="--traces: show context tokens as text (model folder)"
    )
    reproduce = sub.add_parser(
        "reproduce",
        help="run one of the paper's published numbers as the s1 fork did; compare",
        renamed=OUTPUT_RENAMED,
    )
    reproduce.add_argument("row", nargs="?", help="the row's name (see --list)")
    reproduce.add_argument("--list", action="store_true", help="every row, its value and source")
    reproduce.add_argument(
        "--output_path", default=None, help="run folder (default runs/reproduce/ROW)"
    )
    reproduce.add_argument(
        "--model_path", default=None, help="a local copy of the row's model (replaces its hub name)"
    )
    reproduce.add_argument(
        "--compare", default=None, help="compare this finished run folder instead of running"
    )
    reproduce.add_argument("--limit", type=_positive_int, default=None, help="problems (a trial)")
    verify = sub.add_parser(
        "verify", help="re-grade a run's samples and check its files agree (leaderboard intake)"
    )
    verify.add_argument("runs", nargs="+", help="run folders or files, or submission bundles")
    _add_archive_limits(verify)
    submit = sub.add_parser(
        "submit",
        help="a verified, hashed bundle of runs for a leaderboard (verify checks it)",
        renamed=OUTPUT_RENAMED,
    )
    submit.add_argument("runs", nargs="+", help="sweep folders or lm-eval output folders")
    submit.add_argument("--output_path", required=True, help="bundle folder, or a .tar.gz file")
    for command in (verify, submit):
        command.add_argument(
            "--include_path", action="append", default=[], help="extra task folder (repeatable)"
        )
    demo = sub.add_parser(
        "demo",
        help="s1 in miniature: train SmolLM2 to count, then cap and extend its thinking",
        renamed=OUTPUT_RENAMED,
    )
    demo.add_argument(
        "--output_path", default=None, help="default runs/demo (--stock: runs/demo-stock)"
    )
    demo.add_argument(
        "--budgets",
        default=None,
        nargs="+",
        action=SplitList,
        help="cap curve budgets (comma- or space-separated), default 8,16,32,48,64,96",
    )
    demo.add_argument(
        "--stock", action="store_true", help="untrained SmolLM2, plain delimiters, arithmetic"
    )
    demo.add_argument(
        "--methods",
        action="store_true",
        help="the control methods side by side on the trained model (runs/demo-methods)",
    )
    demo.add_argument("--limit", type=int, default=None, help="problems per cell (default all)")
    demo.add_argument(
        "--train_steps", type=int, default=None, help="SFT steps (default: the recipe's max_steps)"
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
        "compare": cmd_compare,
        "submit": cmd_submit,
        "reproduce": cmd_reproduce,
    }
    with bad_input_is_one_line(debug):
        return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
