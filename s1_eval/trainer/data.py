"""Turn s1K, s1K-1.1 or any question/thinking/answer table into s1 prompt/completion pairs.

    dataset = build_s1_dataset(load_rows("simplescaling/s1K-1.1"), resolve_columns(...), "s1")

The completion is what s1 trains on: the thinking between the delimiters, then "Answer: " and the
attempt. It stays a separate chat turn so TRL's `completion_only_loss` masks the prompt exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset, load_dataset

from s1_eval.common.errors import ConfigError
from s1_eval.common.files import UnreadableFile, read_json, read_jsonl
from s1_eval.core.s1_format import TRAINING_PRESETS, training_completion

TRACE_SOURCES = ("gemini", "deepseek")
LOCAL_SUFFIXES = (".json", ".jsonl")


@dataclass(frozen=True)
class Columns:
    question: str
    thinking: str
    answer: str


def load_rows(name: str, config: str | None = None, split: str = "train") -> Dataset:
    """A local .json/.jsonl file, or a dataset on the Hugging Face Hub (s1K, s1K-1.1, ...)."""
    if name.endswith(LOCAL_SUFFIXES) or Path(name).is_file():
        if not Path(name).is_file():
            raise ConfigError("dataset_name", f"file not found: {name}")
        return Dataset.from_list(read_local_rows(Path(name)))
    return load_dataset(name, config, split=split)


def read_local_rows(path: Path) -> list[dict]:
    """Rows of a .jsonl (one object per line) or .json (a list of objects) file; a bad line is
    named by file and line number instead of surfacing as a deep loader traceback."""
    try:
        if path.suffix == ".json":
            rows = read_json(path)
            if not isinstance(rows, list):
                raise ConfigError(
                    "dataset_name",
                    f"{path} holds a {type(rows).__name__}: expected a list of row objects",
                )
            numbered = [(f"item {n}", row) for n, row in enumerate(rows, start=1)]
        else:
            numbered = [(f"line {n}", row) for n, row in read_jsonl(path)]
    except UnreadableFile as error:
        raise ConfigError("dataset_name", str(error)) from None
    for where, row in numbered:
        if not isinstance(row, dict):
            raise ConfigError(
                "dataset_name", f"{path}, {where}: expected a JSON object, got {type(row).__name__}"
            )
    if not numbered:
        raise ConfigError("dataset_name", f"{path} has no rows")
    return [row for _, row in numbered]


def resolve_columns(
    column_names: list[str],
    trace_source: str = "gemini",
    question: str | None = None,
    thinking: str | None = None,
    answer: str | None = None,
) -> Columns:
    """Pick the columns by schema (s1K, s1K-1.1, generic); explicit names win. Fails naming any
    column the table lacks, so a wrong dataset stops before the model loads."""
    if trace_source not in TRACE_SOURCES:
        raise ConfigError("trace_source", f"expected one of {TRACE_SOURCES}, got {trace_source!r}")
    if "thinking_trajectories" in column_names:  # s1K
        default = Columns("question", "thinking_trajectories", "attempt")
    elif f"{trace_source}_thinking_trajectory" in column_names:  # s1K-1.1
        default = Columns(
            "question", f"{trace_source}_thinking_trajectory", f"{trace_source}_attempt"
        )
    else:
        default = Columns("question", "thinking", "answer")
    chosen = Columns(
        question or default.question, thinking or default.thinking, answer or default.answer
    )
    missing = [
        c for c in (chosen.question, chosen.thinking, chosen.answer) if c not in column_names
    ]
    if missing:
        raise ConfigError(
            "question_column/thinking_column/answer_column",
            f"dataset has no column(s) {missing}; it has {sorted(column_names)}. Set these "
            "keys to its columns (or trace_source for s1K-1.1).",
        )
    return chosen


def thinking_text(value: str | list[str]) -> str:
    """s1K stores a list of trajectories, s1K-1.1 one string: a string must never be joined char
    by char, which `"\\n".join(value)` would silently do."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "\n".join(value)
    raise TypeError(f"thinking must be a string or a list of strings, got {type(value).__name__}")


def s1_completion(thinking: str | list[str], attempt: str, delimiters: str = "s1") -> str:
    """The assistant turn s1 trains on (s1's train/sft.py layout)."""
    check_delimiters(delimiters)
    return training_completion(thinking_text(thinking), attempt, delimiters)


def to_prompt_completion(row: dict, columns: Columns, delimiters: str) -> dict:
    """A conversational prompt/completion pair: TRL renders both through the chat template."""
    completion = s1_completion(row[columns.thinking], row[columns.answer], delimiters)
    return {
        "prompt": [{"role": "user", "content": row[columns.question]}],
        "completion": [{"role": "assistant", "content": completion}],
    }


def check_delimiters(delimiters: str) -> None:
    """``s1`` is what s1/s1.1 were trained with; ``think`` matches <think>-tag models."""
    if delimiters not in TRAINING_PRESETS:
        raise ConfigError(
            "delimiters", f"expected one of {list(TRAINING_PRESETS)}, got {delimiters!r}"
        )


def build_s1_dataset(rows: Dataset, columns: Columns, delimiters: str = "s1") -> Dataset:
    check_delimiters(delimiters)
    return rows.map(
        to_prompt_completion,
        fn_kwargs={"columns": columns, "delimiters": delimiters},
        remove_columns=rows.column_names,
        desc="Building s1 prompt/completion pairs",
    )


def require_prompt_completion(dataset: Dataset) -> None:
    """With a plain `text` column, `completion_only_loss=True` silently trains on every token."""
    if not {"prompt", "completion"} <= set(dataset.column_names):
        raise ValueError(
            f"expected prompt/completion columns, got {dataset.column_names}: a `text` column "
            "would be trained on in full, prompt included"
        )


def sequence_lengths(dataset: Dataset, tokenizer) -> list[int]:
    """Token count of each chat-rendered prompt+completion, as TRL will tokenize it."""
    return [
        len(chat["input_ids"])
        for chat in (
            tokenizer.apply_chat_template(
                row["prompt"] + row["completion"], tokenize=True, return_dict=True
            )
            for row in dataset
        )
    ]


def truncation_report(lengths: list[int], max_length: int) -> str:
    over = [n for n in lengths if n > max_length]
    longest = max(lengths, default=0)
    return (
        f"{len(over)} of {len(lengths)} samples are longer than max_length={max_length} and get "
        f"truncated (longest {longest} tokens)"
    )
