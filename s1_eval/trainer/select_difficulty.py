"""s1's second stage, difficulty: drop what a reference model solves; measure each trace's length.

    solved = score_pool(rows, config, "pretrained=Qwen/Qwen2.5-7B-Instruct", work_dir)

The pool becomes an lm-eval task through a local data file: our ``s1_math500`` task reads any
file in its schema (``problem``, ``answer``) when its metadata names one (``s1_data_file``), so
the reference model answers through our engine (s1_vllm, s1_server, s1_hf), our prompts and our
math grader, exactly as a sweep cell does (``s1_eval.sweep.cell.run_cell``). The cell's
results and samples stay in the work folder for inspection. The gold answer is the last
``\\boxed{}`` of the row's ``solution``, else the whole solution (s1K's are mostly bare answers).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path

from s1_eval.common.files import read_json, read_jsonl, write_atomic
from s1_eval.grading.extract import last_boxed
from s1_eval.grading.grade import GOLD_UNPARSED
from s1_eval.runs.folder import CELL_FILE, Setting, cell_folder
from s1_eval.trace import row_value
from s1_eval.trainer.select_config import SelectConfig
from s1_eval.trainer.select_quality import Dropped, PoolRow

#: our task whose data file the pool is written as: bare problem prompt, math-verify grading
SCORING_TASK = "s1_math500"
DATA_FILE = "pool_as_task.jsonl"


def gold_answer(solution: str) -> str:
    box = last_boxed(str(solution))
    return box.content if box.content is not None else str(solution).strip()


def write_task_file(rows: list[PoolRow], path: Path) -> None:
    """The pool in the math task's schema; ``id`` carries each row's ``file:line`` back."""
    lines = [
        json.dumps(
            {"problem": r.question, "answer": gold_answer(r.row["solution"]), "id": r.where},
            ensure_ascii=False,
        )
        for r in rows
    ]
    write_atomic(path, "\n".join(lines) + "\n")


def score_pool(rows: list[PoolRow], config: SelectConfig, model_args: str, work: Path) -> dict:
    """``{file:line: (solved, grading_failure)}`` for every row, from one reference model."""
    from s1_eval.sweep.cell import SweepConfig, build_lm, make_task_manager, run_cell

    data_file = work / DATA_FILE
    write_task_file(rows, data_file)
    sweep = SweepConfig(
        tasks=(SCORING_TASK,),
        settings=(Setting(),),
        model=config.reference_model,
        model_args=model_args,
        gen_kwargs={"max_gen_toks": config.max_gen_toks},
        apply_chat_template=config.apply_chat_template,
        metadata={"s1_data_file": str(data_file.resolve())},
        seed=config.seed,
    )
    cell_folder(work, SCORING_TASK, Setting()).parent.mkdir(parents=True, exist_ok=True)
    lm = build_lm(sweep.model, sweep.model_args)
    try:
        cell = run_cell(lm, sweep, SCORING_TASK, Setting(), work, make_task_manager(sweep))
    finally:
        # a second reference model must not share the accelerator with the first one's engine
        del lm
        gc.collect()
    marker = read_json(cell / CELL_FILE)
    verdicts = {}
    for _, sample in read_jsonl(cell / marker["samples_files"][0]):
        failure = row_value(sample, "grading_failure")
        verdicts[sample["doc"]["id"]] = (bool(sample["exact_match"]), failure)
    return verdicts


def difficulty_stage(
    rows: list[PoolRow], verdicts: list[dict], names: list[str]
) -> tuple[list[PoolRow], list[Dropped], dict]:
    """Keep the rows every reference model failed (the paper: both Qwen2.5-7B and -32B).

    A row whose gold answer the grader cannot parse is kept (nothing shows it was solved) and
    counted as ``ungraded``."""
    kept, dropped = [], []
    solved_by = dict.fromkeys(names, 0)
    ungraded = 0
    for row in rows:
        solvers = [name for name, v in zip(names, verdicts, strict=True) if v[row.where][0]]
        for name in solvers:
            solved_by[name] += 1
        if any(v[row.where][1] == GOLD_UNPARSED for v in verdicts):
            ungraded += 1
        if solvers:
            dropped.append(
                Dropped(row.where, "difficulty", "solved", f"solved by {', '.join(solvers)}")
            )
        else:
            kept.append(row)
    return kept, dropped, {"solved_by": solved_by, "ungraded": ungraded}


def length_counter(config: SelectConfig) -> tuple[Callable[[str], int], str]:
    """How trace length is measured, and its unit: tokens of ``--tokenizer`` or of the first
    reference model (the paper: Qwen2.5's tokenizer, its reference models'), else words."""
    name = config.tokenizer or _model_name(config.reference_args)
    if name is None:
        return (lambda text: len(text.split())), "words"
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name)
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), "tokens"


def _model_name(reference_args: tuple[str, ...]) -> str | None:
    if not reference_args:
        return None
    from lm_eval.utils import simple_parse_args_string

    args = simple_parse_args_string(reference_args[0])
    name = args.get("tokenizer") or args.get("pretrained")
    return None if name is None else str(name)
