"""The counting task family: seeded problems, s1K-format traces, held-out split, lm-eval task."""

from __future__ import annotations

import json

import pytest

from s1_eval.grading import grade_math
from s1_eval.s1_format import PRESETS
from s1_eval.tasks.demo import counting
from s1_eval.trainer.data import build_s1_dataset, load_rows, resolve_columns


def test_problems_are_seeded_and_answers_are_the_word_count():
    rows = counting.generate_problems(20, seed=3)
    assert rows == counting.generate_problems(20, seed=3)
    assert rows != counting.generate_problems(20, seed=4)
    for row in rows:
        listed = row["problem"].split("? ", 1)[1].rstrip(".").split(", ")
        assert row["answer"] == str(len(listed))
        assert counting.MIN_WORDS <= len(listed) <= counting.MAX_WORDS
        assert len(set(listed)) == len(listed), "words are distinct, so copying is unambiguous"


def test_trace_enumerates_every_word_and_ends_on_the_answer():
    words = ["apple", "river", "stone"]
    assert counting.thinking(words) == "1 apple\n2 river\n3 stone"


def test_training_rows_never_contain_a_held_out_problem():
    held_out = {row["problem"] for row in counting.generate_problems(counting.DEFAULT_NUM_PROBLEMS)}
    train = {row["question"] for row in counting.training_rows(500)}
    assert len(train) > 400 and not held_out & train


def test_training_file_is_s1k_schema_and_trains_on_s1_delimiters(tmp_path):
    path = counting.write_training_set(tmp_path / "train.jsonl", 6)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 6 and isinstance(rows[0]["thinking_trajectories"], list)
    table = load_rows(str(path))
    columns = resolve_columns(table.column_names)
    assert (columns.thinking, columns.answer) == ("thinking_trajectories", "attempt")
    completion = build_s1_dataset(table, columns, "s1")[0]["completion"][0]["content"]
    s1 = PRESETS["s1"]
    assert completion.startswith(s1.thinking_start + "\n1 ")
    assert f"\n{s1.thinking_end}\nAnswer: $\\boxed{{" in completion
    # the attempt is graded by the same math grading as the held-out task
    assert grade_math(completion, rows[0]["solution"]).correct


@pytest.mark.parametrize(
    ("response", "correct"),
    [
        ("<|im_start|>think\n1 apple\n2 river\n<|im_start|>answer\nAnswer: $\\boxed{2}$", True),
        # the cap cut the count short: the partial count is the (wrong) answer
        ("<|im_start|>think\n1 apple\n<|im_start|>answer\nFinal Answer: $\\boxed{1}$", False),
    ],
)
def test_counting_responses_grade_by_the_boxed_count(response, correct):
    assert grade_math(response, "2").correct is correct


def test_lm_eval_loads_the_held_out_task():
    from lm_eval.tasks import TaskManager

    task = TaskManager().load(["s1_demo_counting"])["tasks"]["s1_demo_counting"]
    docs = list(task.test_docs())
    assert len(docs) == counting.DEFAULT_NUM_PROBLEMS
    assert task.doc_to_text(docs[0]) == docs[0]["problem"]
