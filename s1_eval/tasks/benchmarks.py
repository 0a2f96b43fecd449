"""Which benchmark tasks s1-eval ships, the data each reads, and the paper column it reports against.

    TASKS["s1_math500"].data.hub_path; paper_benchmark("s1_aime24_n8"); load_benchmark("math500")

This module is the one place that knows a task's benchmark: ``scripts/build_yamls.py`` writes
the task YAMLs from ``TASKS``, and the paper's numbers (``s1_eval.report.reference``) are looked up by
``paper_benchmark``. The prompts are in ``s1_eval.tasks.prompts``, the grading in ``scoring``.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s1_eval.tasks.datafiles import REQUIRED, DataFileError, read_rows

if TYPE_CHECKING:  # imported when rows are loaded: reports and plots only need the tables
    import datasets

DATA_DIR_ENV = "S1_EVAL_DATA_DIR"


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
    #: the s1 paper's column for these problems (s1_paper.json), None: not in the paper
    paper: str | None = None

    @property
    def file_env(self) -> str:
        return f"S1_EVAL_{self.key.upper()}_FILE"


SOURCES = {
    # s1 evaluated AIME24 on its own copy without figure-dependent problems
    "aime24": Source(
        "aime24", "aime24.jsonl", "simplescaling/aime24_nofigures", None, "train", None,
        paper="AIME24",
    ),
    # the s1 fork's other AIME24 copy (its `aime24_figures` task) and its AIME25 source
    "aime24_figures": Source(
        "aime24_figures", "aime24_figures.jsonl", "simplescaling/aime24_figures", None, "train",
        None, paper="AIME24",
    ),
    "aime25": Source("aime25", "aime25.jsonl", "TIGER-Lab/AIME25", None, "train", None),
    # the fork's `openai_math`: the same 500 PRM800K test problems as MATH-500, from s1's copy,
    # so an offline math500.jsonl serves both (and the paper's MATH500 numbers come from it)
    "openai_math": Source(
        "openai_math", "math500.jsonl", "simplescaling/openaimath", None, "test", None,
        paper="MATH500",
    ),
    "math500": Source(
        "math500", "math500.jsonl", "HuggingFaceH4/MATH-500", None, "test",
        "6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be", paper="MATH500",
    ),
    # gated: accept the terms on the Hub and log in (HF_TOKEN) before the first run
    "gpqa_diamond": Source(
        "gpqa_diamond", "gpqa_diamond.jsonl", "Idavidrein/gpqa", "gpqa_diamond", "train", None,
        kind="gpqa", paper="GPQA-Diamond",
    ),
}  # fmt: skip

#: s1 generates up to 32768 tokens and never stops on a string (thinking runs to EOS or the cap)
MAX_GEN_TOKS = 32768
#: samples per problem of the sampling variants (``s1_aime24_n8`` ...) of each s1 task
SAMPLING_NS = (8, 64)
#: the group that runs the paper's benchmarks
GROUP = "s1_reasoning"


@dataclass(frozen=True)
class Task:
    """One benchmark task shipped as a YAML under tasks/.

    ``style`` "s1": s1's prompts, cleaned GPQA choices, sampling variants and the group;
    "fork": the s1 fork's task name, prompts and max_gen_toks, so its command lines run as
    published (simplescaling/s1, eval/lm-evaluation-harness/lm_eval/tasks/{aime,openai_math,
    gpqa/openai}); its commands pass --gen_kwargs max_gen_toks=32768, overriding the smaller
    defaults."""

    name: str
    source: str  # a key of SOURCES
    style: str = "s1"
    max_gen_toks: int = MAX_GEN_TOKS

    @property
    def data(self) -> Source:
        return SOURCES[self.source]

    @property
    def kind(self) -> str:
        return self.data.kind

    # the names of the task's functions in s1_eval.tasks.task_functions, which the YAMLs call
    @property
    def loader(self) -> str:
        return f"load_{self.source}"

    @property
    def process_docs(self) -> str:
        # the fork keeps GPQA choices as written; its math docs are ours
        fork = "fork_" if self.style == "fork" and self.kind == "gpqa" else ""
        return f"process_{fork}{self.kind}_docs"

    @property
    def doc_to_text(self) -> str:
        return f"{'fork_' if self.style == 'fork' else ''}{self.kind}_doc_to_text"


TASKS = {
    task.name: task
    for task in (
        Task("s1_aime24", "aime24"),
        Task("s1_aime25", "aime25"),
        Task("s1_math500", "math500"),
        Task("s1_gpqa_diamond", "gpqa_diamond"),
        Task("aime24_figures", "aime24_figures", "fork"),
        Task("aime24_nofigures", "aime24", "fork"),
        Task("aime25_nofigures", "aime25", "fork"),
        Task("openai_math", "openai_math", "fork", max_gen_toks=2048),
        Task("gpqa_diamond_openai", "gpqa_diamond", "fork", max_gen_toks=1024),
    )
}


def sampling_name(task: str, n: int) -> str:
    """The task that samples ``n`` answers per problem of the s1 task ``task``."""
    return f"{task}_n{n}"


#: every task name we ship, sampling variants included, to its Task
_BY_NAME = {
    **TASKS,
    **{
        sampling_name(task.name, n): task
        for task in TASKS.values()
        if task.style == "s1"
        for n in SAMPLING_NS
    },
}
#: the group's members: our tasks on the paper's benchmarks
GROUP_TASKS = tuple(t.name for t in TASKS.values() if t.style == "s1" and t.data.paper)

#: lm-eval's own tasks on the paper's benchmarks (aime24, minerva_math500,
#: gpqa_diamond_zeroshot, ...): recognised by these name parts, all of which must occur
_FOREIGN_NAME_PARTS = (
    (("aime24",), "AIME24"),
    (("aime_2024",), "AIME24"),
    (("math500",), "MATH500"),
    (("math_500",), "MATH500"),
    (("gpqa", "diamond"), "GPQA-Diamond"),
)


def find_task(name: str) -> Task | None:
    """The shipped task called ``name`` (a sampling variant gives its s1 task), else None."""
    return _BY_NAME.get(name)


def paper_benchmark(task: str) -> str | None:
    """The s1 paper's column (AIME24, MATH500, GPQA-Diamond) a task's accuracy compares with.

    Our tasks answer from their data source; another task (lm-eval's ``aime24``, a renamed
    copy) by its name. None: the paper has no number for it (AIME25, the demos)."""
    found = find_task(task)
    if found is not None:
        return found.data.paper
    name = task.lower()
    for parts, column in _FOREIGN_NAME_PARTS:
        if all(part in name for part in parts):
            return column
    return None


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
    import datasets

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
            raise DataFileError(
                f"{source.key}: data file {path} does not exist; set {source.file_env} to an "
                "existing file"
            )
        return path
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    if folder:
        path = Path(folder).expanduser() / source.local_name
        if not path.is_file():
            raise DataFileError(
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
