"""The options of `s1-train select`, checked in full before the pool is read or a model loads.

    config = parse_select_args(["--pool", "pool.jsonl", "--output_dir", "out", "--size", "1000"])

Every bad option is one ConfigError naming it: an unknown flag (with a "did you mean"), a stray
word, a value out of range, an unknown reference engine or delimiters preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from s1_eval.common.log import OneLineParser, did_you_mean, parse_bool
from s1_eval.tasks.benchmarks import find_task
from s1_eval.trainer.data import ConfigError, check_delimiters

#: engines that grade the pool: ours, so the verdicts come from our prompts and graders
REFERENCE_MODELS = ("s1_vllm", "s1_server", "s1_hf")
#: the paper's decontamination n-gram (s1 §2: 8-grams against the evaluation questions)
PAPER_NGRAM = 8
#: s1K's size
PAPER_SIZE = 1000


@dataclass(frozen=True)
class SelectConfig:
    """What to select from which pool, and how each stage decides."""

    pool: str
    output_dir: str
    size: int = PAPER_SIZE
    seed: int = 0
    domain_field: str = "domain"
    delimiters: str = "s1"
    ngram: int = PAPER_NGRAM
    #: benchmark files (.jsonl/.json/.csv/.parquet) whose questions the pool must not repeat
    decontaminate: tuple[str, ...] = ()
    #: our tasks (s1_math500, s1_aime24, ...) whose rows the pool must not repeat
    decontaminate_tasks: tuple[str, ...] = ()
    reference_model: str = "s1_vllm"
    #: one lm-eval model_args string per reference model; none: the difficulty stage is skipped
    reference_args: tuple[str, ...] = ()
    max_gen_toks: int = 32768
    apply_chat_template: bool = True
    #: tokenizer that measures trace length; default: the first reference model's
    tokenizer: str | None = None

    @property
    def runs_difficulty(self) -> bool:
        return bool(self.reference_args)


def select_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="s1-train select",
        description="Build an s1K-style training set from a pool of questions with thinking "
        "traces: quality (format, decontamination), difficulty (drop what reference models "
        "solve), diversity (domains, longer traces first).",
        allow_abbrev=False,
        raise_as=lambda message: ConfigError("select", message),
        renamed={"--no-apply_chat_template": "--apply_chat_template=false"},
    )
    add = parser.add_argument
    add("--pool", required=True, help="the pool: .jsonl/.json/.csv/.parquet file")
    add("--output_dir", required=True, help="folder for selected.jsonl and the report")
    add("--size", type=int, default=PAPER_SIZE, help=f"rows to keep (default {PAPER_SIZE})")
    add("--seed", type=int, default=0, help="the run's seed: diversity draws, reference runs")
    add("--domain_field", default="domain", help="the pool's domain column (default domain)")
    add("--delimiters", default="s1", help="thinking delimiters preset of the traces")
    add("--ngram", type=int, default=PAPER_NGRAM, help="decontamination n-gram (default 8)")
    add("--decontaminate", action="append", default=[], help="benchmark file (repeatable)")
    add("--decontaminate_task", action="append", default=[], help="our task (repeatable)")
    add("--reference_model", default="s1_vllm", help=f"one of {', '.join(REFERENCE_MODELS)}")
    add("--reference_args", action="append", default=[],
        help="a reference model's model_args (repeatable; none: no difficulty stage)")  # fmt: skip
    add("--max_gen_toks", type=int, default=32768, help="reference models' generation limit")
    add("--apply_chat_template", type=parse_bool, nargs="?", const=True, default=True,
        metavar="<bool>", help="reference prompts through the chat template (default true)")  # fmt: skip
    add("--tokenizer", default=None, help="measures trace length (default: first reference's)")
    return parser


def option_names() -> list[str]:
    return [s for action in select_parser()._actions for s in action.option_strings]


def parse_select_args(argv: list[str]) -> SelectConfig:
    """The config for ``argv`` (the words after ``select``); a bad option raises ConfigError."""
    options, extras = select_parser().parse_known_args(argv)
    for word in extras:
        # parse_known_args sets aside unknown flags and stray words alike: name the first
        if word.startswith("-"):
            flag = word.split("=")[0]
            hint = did_you_mean(flag, option_names())
            raise ConfigError(flag, f"unknown option of s1-train select.{hint}")
        raise ConfigError(word, "unexpected word: s1-train select takes --option value pairs only")
    config = SelectConfig(
        pool=options.pool,
        output_dir=options.output_dir,
        size=options.size,
        seed=options.seed,
        domain_field=options.domain_field,
        delimiters=options.delimiters,
        ngram=options.ngram,
        decontaminate=tuple(options.decontaminate),
        decontaminate_tasks=tuple(options.decontaminate_task),
        reference_model=options.reference_model,
        reference_args=tuple(options.reference_args),
        max_gen_toks=options.max_gen_toks,
        apply_chat_template=options.apply_chat_template,
        tokenizer=options.tokenizer,
    )
    check_config(config)
    return config


def check_config(config: SelectConfig) -> None:
    for key in ("size", "ngram", "max_gen_toks"):
        if getattr(config, key) < 1:
            raise ConfigError(key, f"expected a positive number, got {getattr(config, key)}")
    check_delimiters(config.delimiters)
    if config.reference_model not in REFERENCE_MODELS:
        raise ConfigError(
            "reference_model",
            f"expected one of {list(REFERENCE_MODELS)}, got {config.reference_model!r}."
            f"{did_you_mean(config.reference_model, REFERENCE_MODELS)}",
        )
    for args in config.reference_args:
        if "pretrained=" not in args and "model=" not in args:
            raise ConfigError(
                "reference_args", f"{args!r} names no model: start it with pretrained=MODEL"
            )
    for task in config.decontaminate_tasks:
        if find_task(task) is None:
            from s1_eval.tasks.benchmarks import TASKS

            raise ConfigError(
                "decontaminate_task",
                f"{task!r} is not one of our benchmark tasks ({', '.join(TASKS)})."
                f"{did_you_mean(task, TASKS)}",
            )
