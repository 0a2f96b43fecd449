"""Data for the s1 tasks: a local JSONL file when one is configured, else the Hub at a pinned revision.

    dataset = load_benchmark("math500")   # DatasetDict {"test": ...}; honours S1_EVAL_DATA_DIR

Where the rows come from, first match wins:
1. task metadata ``s1_data_file`` (one task) or ``s1_data_dir``
   (``--metadata '{"s1_data_dir": "..."}'``),
2. env ``S1_EVAL_<NAME>_FILE`` (e.g. ``S1_EVAL_MATH500_FILE``), a file in the benchmark's schema,
3. env ``S1_EVAL_DATA_DIR``, a folder holding ``math500.jsonl``, ``aime24.jsonl``,
   ``aime25.jsonl``, ``aime24_figures.jsonl``, ``gpqa_diamond.jsonl`` (a configured folder
   without the file is an error, never a download),
4. the Hub (``datasets.load_dataset``) at the revision pinned below.
Files may be .jsonl, .json (a list of rows), .csv or .parquet; ``s1_eval.tasks.datafiles``
checks every row for the benchmark's columns before lm-eval sees it.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from s1_eval.tasks.datafiles import REQUIRED, read_rows

DATA_DIR_ENV = "S1_EVAL_DATA_DIR"
GPQA_LETTERS = "ABCD"


@dataclass(frozen=True)
class Source:
    """Where one benchmark lives, offline and on the Hub."""

    key: str
    local_name: str
    hub_path: str
    hub_name: str | None
    hub_split: str
    #: a commit SHA of the dataset repository; None = its default branch (not reproducible)
    revision: str | None
    #: row schema: "math" (problem, answer) or "gpqa" (Question, Correct/Incorrect Answer 1-3)
    kind: str = "math"

    @property
    def file_env(self) -> str:
        return f"S1_EVAL_{self.key.upper()}_FILE"


SOURCES = {
    # s1 evaluated AIME24 on its own copy without figure-dependent problems
    "aime24": Source(
        "aime24", "aime24.jsonl", "simplescaling/aime24_nofigures", None, "train", None
    ),
    # the s1 fork's other AIME24 copy (its `aime24_figures` task) and its AIME25 source
    "aime24_figures": Source(
        "aime24_figures",
        "aime24_figures.jsonl",
        "simplescaling/aime24_figures",
        None,
        "train",
        None,
    ),
    "aime25": Source("aime25", "aime25.jsonl", "TIGER-Lab/AIME25", None, "train", None),
    # the fork's `openai_math`: the same 500 PRM800K test problems as MATH-500, from s1's copy,
    # so an offline math500.jsonl serves both
    "openai_math": Source(
        "openai_math", "math500.jsonl", "simplescaling/openaimath", None, "test", None
    ),
    "math500": Source(
        "math500",
        "math500.jsonl",
        "HuggingFaceH4/MATH-500",
        None,
        "test",
        "6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be",
    ),
    # gated: accept the terms on the Hub and log in (HF_TOKEN) before the first run
    "gpqa_diamond": Source(
        "gpqa_diamond",
        "gpqa_diamond.jsonl",
        "Idavidrein/gpqa",
        "gpqa_diamond",
        "train",
        None,
        kind="gpqa",
    ),
}


def load_benchmark(
    key: str,
    s1_data_file: str | None = None,
    s1_data_dir: str | None = None,
    s1_dataset_revision: str | None = None,
    **_metadata: Any,
) -> datasets.DatasetDict:
    """Rows of one benchmark as {"test": Dataset}.

    lm-eval calls this with the task's metadata merged with ``--model_args`` and ``--metadata``;
    our keys carry an ``s1_`` prefix so a model argument such as ``revision`` or ``seed`` can
    never be mistaken for a data setting. Other keys are ignored.
    """
    source = SOURCES[key]
    path = local_file(source, data_file=s1_data_file, data_dir=s1_data_dir)
    if path is not None:
        fix = f"Or point {source.file_env} at a file in the schema of {source.hub_path}."
        rows = read_rows(path, REQUIRED[source.kind], what=key, fix=fix)
        return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
    split = datasets.load_dataset(
        source.hub_path,
        source.hub_name,
        split=source.hub_split,
        revision=s1_dataset_revision or source.revision,
    )
    return datasets.DatasetDict({"test": split})


def local_file(
    source: Source, data_file: str | None = None, data_dir: str | None = None
) -> Path | None:
    """The local file configured for ``source``, or None to use the Hub."""
    explicit = data_file or os.environ.get(source.file_env)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{source.key}: data file {path} does not exist")
        return path
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    if folder:
        path = Path(folder).expanduser() / source.local_name
        if not path.is_file():
            raise FileNotFoundError(
                f"{source.key}: {path} does not exist ({DATA_DIR_ENV} or metadata s1_data_dir "
                f"points at {folder}); add the file or set {source.file_env} to its path"
            )
        return path
    return None


# lm-eval's custom_dataset hooks: called with the task's metadata and dataset_kwargs
def load_aime24(**kwargs: Any) -> datasets.DatasetDict:
    return load_benchmark("aime24", **kwargs)


def load_math500(**kwargs: Any) -> datasets.DatasetDict:
    return load_benchmark("math500", **kwargs)


def load_gpqa_diamond(**kwargs: Any) -> datasets.DatasetDict:
    return load_benchmark("gpqa_diamond", **kwargs)


def load_aime25(**kwargs: Any) -> datasets.DatasetDict:
    return load_benchmark("aime25", **kwargs)


def load_aime24_figures(**kwargs: Any) -> datasets.DatasetDict:
    return load_benchmark("aime24_figures", **kwargs)


def load_openai_math(**kwargs: Any) -> datasets.DatasetDict:
    return load_benchmark("openai_math", **kwargs)


# ---------------------------------------------------------------------------------------------
# Docs
# ---------------------------------------------------------------------------------------------


def process_math_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Uniform math docs: ``problem``, ``answer`` (a string) and ``doc_key``; other columns stay."""
    return dataset.map(_math_doc)


def _math_doc(doc: dict) -> dict:
    problem = doc.get("problem") or doc.get("question") or doc.get("Problem") or ""
    answer = doc.get("answer", doc.get("Answer"))
    key = doc.get("unique_id") or doc.get("id") or doc.get("ID")
    return {
        "problem": problem,
        "answer": "" if answer is None else str(answer).strip(),
        "doc_key": str(key) if key is not None else _digest(problem)[:12],
    }


def process_gpqa_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Shuffle each question's four choices with a seed derived from its text, so the order and
    the gold letter are the same on every machine and run. Keeps only what the prompt needs."""
    keep = {"Question", "Record ID"}
    drop = [name for name in dataset.column_names if name not in keep]
    return dataset.map(_gpqa_doc, remove_columns=drop)


def _gpqa_doc(doc: dict, clean: bool = True) -> dict:
    tidy = _clean_choice if clean else str
    correct = tidy(doc["Correct Answer"])
    choices = [correct] + [tidy(doc[f"Incorrect Answer {i}"]) for i in (1, 2, 3)]
    random.Random(gpqa_shuffle_seed(doc["Question"])).shuffle(choices)
    gold_index = choices.index(correct)
    out = {f"choice{i + 1}": choice for i, choice in enumerate(choices)}
    out["answer"] = GPQA_LETTERS[gold_index]
    out["doc_key"] = str(doc.get("Record ID") or _digest(doc["Question"])[:12])
    return out


def gpqa_shuffle_seed(question: str) -> int:
    """A per-question seed that does not depend on Python's hash randomisation."""
    return int(_digest("s1-eval/gpqa/" + question.strip())[:16], 16)


def _clean_choice(text: Any) -> str:
    # the raw set has stray whitespace and " [title]" markers (as lm-eval's gpqa tasks clean)
    text = "" if text is None else str(text)
    return text.strip().replace(" [title]", ". ").replace("  ", " ")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: OpenAI simple-evals' multiple-choice template (the s1 fork keeps it commented out and sends
#: the bare question and choices: see ``FORK_GPQA_TEMPLATE``).
GPQA_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be "
    "of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n\n{question}\n\nA) {a}\nB) {b}\nC) {c}\nD) {d}"
)


def math_doc_to_text(doc: dict) -> str:
    """s1 prompts math problems with the bare problem text (its default QUERY_TEMPLATE)."""
    return doc["problem"]


def gpqa_doc_to_text(doc: dict) -> str:
    return GPQA_TEMPLATE.format(
        question=doc["Question"].strip(),
        a=doc["choice1"],
        b=doc["choice2"],
        c=doc["choice3"],
        d=doc["choice4"],
    )


# ---------------------------------------------------------------------------------------------
# The s1 fork's task names (aime24_figures, aime24_nofigures, aime25_nofigures, openai_math,
# gpqa_diamond_openai): its prompts, so its published command lines run unchanged
# ---------------------------------------------------------------------------------------------

#: the fork's GPQA prompt: question and choices, no instruction
FORK_GPQA_TEMPLATE = "{question}\n\nA) {a}\nB) {b}\nC) {c}\nD) {d}"
#: the fork's prompt-conditional control: an env var appends one sentence to every prompt
#: (its eval/commands.sh sets e.g. PROMPTTOKEN=2048). Order = the fork's precedence.
FORK_MATH_CONTROLS = ("PROMPTSTEP", "PROMPTTOKEN", "PROMPTLONG", "PROMPTSHORT")
FORK_GPQA_CONTROLS = ("PROMPTLONG", "PROMPTSHORT", "PROMPTTOKEN", "PROMPTSTEP")
_CONTROL_TEXT = {
    "PROMPTSTEP": "Think for up to {value} steps.",
    "PROMPTTOKEN": "Think for up to {value} tokens.",
    "PROMPTLONG": (
        "Answer after a long amount of thinking. If you feel like you are finished early, spend "
        "the extra time trying to double-check your work until you are absolutely sure that you "
        "have the correct answer."
    ),
    "PROMPTSHORT": (
        "Answer after a short amount of thinking. Do not spend excessive time double-checking "
        "your work."
    ),
}


def fork_control_suffix(order: tuple[str, ...]) -> str:
    """``"\n\n<sentence>"`` for the first control env var set (fork precedence), else ``""``."""
    for name in order:
        value = os.environ.get(name)
        if value is not None:
            return "\n\n" + _CONTROL_TEXT[name].format(value=value)
    return ""


def fork_math_doc_to_text(doc: dict) -> str:
    return doc["problem"] + fork_control_suffix(FORK_MATH_CONTROLS)


def process_fork_gpqa_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """As the fork: choices as written in the data (no cleaning). One deliberate difference: the
    fork shuffles with the global ``random`` state (so the letters depend on lm-eval's seed, the
    task order and dataset caching); here, as in ``s1_gpqa_diamond``, a per-question seed."""
    keep = {"Question", "Record ID"}
    drop = [name for name in dataset.column_names if name not in keep]
    return dataset.map(_fork_gpqa_doc, remove_columns=drop)


def _fork_gpqa_doc(doc: dict) -> dict:
    return _gpqa_doc(doc, clean=False)


def fork_gpqa_doc_to_text(doc: dict) -> str:
    text = FORK_GPQA_TEMPLATE.format(
        question=doc["Question"], a=doc["choice1"], b=doc["choice2"], c=doc["choice3"],
        d=doc["choice4"],
    )  # fmt: skip
    return text + fork_control_suffix(FORK_GPQA_CONTROLS)
