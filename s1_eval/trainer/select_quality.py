"""The pool and s1's first stage, quality: malformed rows, broken traces, duplicates, benchmarks.

    pool = read_pool(config); kept, dropped = quality_stage(pool, config, benchmark_grams(config))

A row is dropped, named by ``file:line``, when a field a later stage needs is missing or empty,
when its trace does not survive the trainer's s1 formatting (``trainer.data.s1_completion``),
when its question repeats an earlier row's, or when it shares an n-gram (the paper: 8 words)
with a benchmark question. A field that no row has is not a bad row but a wrong pool: that is a
ConfigError naming the field, raised before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from s1_eval.common.files import UnreadableFile, read_json, read_jsonl
from s1_eval.core.s1_format import PRESETS
from s1_eval.trainer.data import ConfigError, s1_completion, thinking_text
from s1_eval.trainer.select_config import SelectConfig

#: s1K's fields each stage reads (the domain field is named by the config)
QUALITY_FIELDS = ("question", "thinking_trajectories", "attempt")
DIFFICULTY_FIELDS = ("solution",)


@dataclass(frozen=True)
class PoolRow:
    """One row of the pool as read, and where it was."""

    where: str  # "pool.jsonl:12"
    line: int
    row: dict

    @property
    def question(self) -> str:
        return self.row["question"]

    def thinking(self) -> str:
        return thinking_text(self.row["thinking_trajectories"])


@dataclass(frozen=True)
class Dropped:
    where: str
    stage: str
    kind: str  # malformed, formatting, duplicate, contaminated; solved
    reason: str

    def to_dict(self) -> dict:
        return {"where": self.where, "stage": self.stage, "kind": self.kind, "reason": self.reason}


@dataclass
class Benchmark:
    """The n-grams of every benchmark question, each mapped to the first question it came from."""

    ngram: int
    grams: dict[tuple[str, ...], str] = field(default_factory=dict)
    questions: int = 0

    def add(self, text: str, where: str) -> None:
        self.questions += 1
        for gram in ngrams(text, self.ngram):
            self.grams.setdefault(gram, where)

    def match(self, text: str) -> str | None:
        """Where the first benchmark question sharing an n-gram with ``text`` is, else None."""
        for gram in ngrams(text, self.ngram):
            if gram in self.grams:
                return self.grams[gram]
        return None


def required_fields(config: SelectConfig) -> tuple[str, ...]:
    needed = (*QUALITY_FIELDS, config.domain_field)
    return (*needed, *DIFFICULTY_FIELDS) if config.runs_difficulty else needed


def read_pool(config: SelectConfig) -> list[PoolRow]:
    """Every row of the pool (.jsonl, or .json holding a list), checked for the fields the stages
    need: a field absent from every row stops here, one row without it is dropped later."""
    path = Path(config.pool)
    if not path.is_file():
        raise ConfigError("pool", f"file not found: {config.pool}")
    try:
        if path.suffix == ".json":
            data = read_json(path)
            if not isinstance(data, list):
                raise ConfigError("pool", f"{config.pool} must hold a list of row objects")
            numbered = list(enumerate(data, start=1))
        else:
            numbered = read_jsonl(path)
    except UnreadableFile as error:
        raise ConfigError("pool", str(error)) from None
    rows = []
    for line, row in numbered:
        if not isinstance(row, dict):
            raise ConfigError("pool", f"{config.pool}:{line}: expected a JSON object")
        rows.append(PoolRow(f"{path.name}:{line}", line, row))
    if not rows:
        raise ConfigError("pool", f"{config.pool} has no rows")
    seen = {key for row in rows for key in row.row}
    for name in required_fields(config):
        if name not in seen:
            stage, hint = "quality", ""
            if name in DIFFICULTY_FIELDS:
                stage, hint = "difficulty", " (its gold answer)"
            elif name == config.domain_field:
                stage, hint = "diversity", " (--domain_field names the pool's domain column)"
            raise ConfigError(
                name,
                f"no row of {config.pool} has this field, which the {stage} stage needs{hint}; "
                f"its fields: {sorted(seen)}",
            )
    return rows


def words(text: str) -> list[str]:
    """Lower-cased word tokens: punctuation, case and spacing do not hide an overlap."""
    return re.findall(r"\w+", text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The word n-grams of ``text``; a text shorter than n words is one gram of all its words,
    so a short benchmark question copied whole is still caught."""
    tokens = words(text)
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def malformed(row: dict, fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = row.get(name)
        if name not in row or value is None:
            return f"missing {name!r}"
        if value == "" or value == [] or (isinstance(value, str) and not value.strip()):
            return f"empty {name!r}"
    if not isinstance(row["question"], str):
        return f"'question' is a {type(row['question']).__name__}, not a string"
    return None


def format_problem(row: dict, delimiters: str) -> str | None:
    """Why the trainer's s1 text for this row would be wrong, else None.

    A trace or attempt that itself holds a thinking delimiter would close (or reopen) thinking
    in the middle of the text the model is trained on."""
    try:
        completion = s1_completion(row["thinking_trajectories"], row["attempt"], delimiters)
    except TypeError as error:
        return f"trace cannot be formatted: {error}"
    if not isinstance(row["attempt"], str):
        return f"'attempt' is a {type(row['attempt']).__name__}, not a string"
    preset = PRESETS[delimiters]
    for tag in (preset.thinking_start.strip(), preset.thinking_end.strip()):
        if completion.count(tag) != 1:
            return f"trace or attempt contains the delimiter {tag!r}"
    return None


def duplicate_key(question: str) -> str:
    return " ".join(question.split())


def quality_stage(
    pool: list[PoolRow], config: SelectConfig, benchmark: Benchmark | None
) -> tuple[list[PoolRow], list[Dropped]]:
    """The rows that pass every quality check, and each dropped row with its reason."""
    fields = required_fields(config)
    kept: list[PoolRow] = []
    dropped: list[Dropped] = []
    first_seen: dict[str, str] = {}
    for item in pool:
        kind, reason = _first_problem(item, fields, config, benchmark, first_seen)
        if reason is None:
            first_seen[duplicate_key(item.question)] = item.where
            kept.append(item)
        else:
            dropped.append(Dropped(item.where, "quality", kind, reason))
    return kept, dropped


def _first_problem(
    item: PoolRow,
    fields: tuple[str, ...],
    config: SelectConfig,
    benchmark: Benchmark | None,
    first_seen: dict[str, str],
) -> tuple[str, str | None]:
    """(kind, reason) of the first check ``item`` fails, in the order the paper applies them."""
    reason = malformed(item.row, fields)
    if reason is not None:
        return "malformed", reason
    reason = format_problem(item.row, config.delimiters)
    if reason is not None:
        return "formatting", reason
    earlier = first_seen.get(duplicate_key(item.question))
    if earlier is not None:
        return "duplicate", f"same question as {earlier}"
    source = benchmark.match(item.question) if benchmark is not None else None
    if source is not None:
        return "contaminated", f"shares a {config.ngram}-gram with benchmark question {source}"
    return "", None


def benchmark_grams(config: SelectConfig) -> Benchmark | None:
    """The n-grams of every question in the files and tasks the config names (None: none named).

    Files are read by our task data reader (any of .jsonl/.json/.csv/.parquet, a question column
    spelled problem, question, Problem or Question); a task's rows come from where the task reads
    them (a local file when configured, else the Hub)."""
    if not config.decontaminate and not config.decontaminate_tasks:
        return None
    from s1_eval.tasks.benchmarks import find_task, load_benchmark
    from s1_eval.tasks.datafiles import DataFileError, read_rows

    benchmark = Benchmark(config.ngram)
    for name in config.decontaminate:
        path = Path(name)
        if not path.is_file():
            raise ConfigError("decontaminate", f"file not found: {name}")
        try:
            rows = read_rows(path, (QUESTION_SPELLINGS,), what="decontamination")
        except DataFileError as error:
            raise ConfigError("decontaminate", str(error)) from None
        for number, row in enumerate(rows, start=1):
            benchmark.add(str(_question_of(row)), f"{path.name} row {number}")
    for task in config.decontaminate_tasks:
        source = find_task(task).data
        try:
            rows = load_benchmark(source.key)["test"]
        except (OSError, ValueError) as error:
            raise ConfigError("decontaminate_task", f"{task}: {error}") from None
        for number, row in enumerate(rows, start=1):
            benchmark.add(str(_question_of(row)), f"{task} row {number}")
    return benchmark


QUESTION_SPELLINGS = ("problem", "question", "Problem", "Question")


def _question_of(row: dict) -> str:
    return next(row[name] for name in QUESTION_SPELLINGS if name in row)
