"""The counting task family: seeded problems, s1K-format traces, held-out split, lm-eval task."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from s1_eval.core.s1_format import PRESETS
from s1_eval.grading.grade import grade_math
from s1_eval.tasks.demo import counting
from s1_eval.trainer.data import build_s1_dataset, load_rows, resolve_columns


def _listed(problem: str) -> list[list[str]]:
    body = problem.split("? ", 1)[1]
    assert body.endswith(".") and body.count(".") == 1, "one full stop: the list's end"
    return [group.split(", ") for group in body.rstrip(".").split("; ")]


def test_problems_are_seeded_and_answers_are_the_word_count():
    rows = counting.generate_problems(20, seed=3)
    assert rows == counting.generate_problems(20, seed=3)
    assert rows != counting.generate_problems(20, seed=4)
    for row in rows:
        groups = _listed(row["problem"])
        words = [word for group in groups for word in group]
        assert row["answer"] == str(len(words)) and row["groups"] == len(groups)
        assert counting.MIN_WORDS <= len(words) <= counting.MAX_WORDS <= 9, "a one-digit count"
        assert len(set(words)) == len(words), "words are distinct, so copying is unambiguous"


def test_held_out_problems_span_one_to_three_groups():
    rows = counting.generate_problems(counting.DEFAULT_NUM_PROBLEMS)
    by_groups = Counter(row["groups"] for row in rows)
    assert set(by_groups) == {1, 2, 3}
    # a premature end at the first group's end is wrong on every problem with several groups
    assert 0.3 <= (by_groups[2] + by_groups[3]) / len(rows) <= 0.8


def test_trace_enumerates_every_word_and_ends_on_the_answer():
    groups = [["apple", "river"], ["stone"]]
    assert counting.thinking(groups) == "1 apple\n2 river\nWait, river; stone\n3 stone"
    assert counting.thinking(groups, reads_on=0) == "1 apple\n2 river"
    assert counting.thinking(groups, confirms=2).endswith(
        "3 stone\nWait, stone. 3 words.\nWait, stone. 3 words."
    )
    # a premature trace never confirms: it believes it reached the end
    assert counting.thinking(groups, reads_on=0, confirms=1) == "1 apple\n2 river"


def test_what_follows_wait_is_the_questions_own_text():
    """After "Wait, <word>" the trace copies the question from that word on: "; <next word>"
    where the list goes on, "." at its end."""
    groups = [["apple", "river"], ["stone", "lamp"]]
    asked = counting.question(groups)
    for line in counting.thinking(groups, confirms=1).splitlines():
        if line.startswith("Wait, "):
            copied = line.removeprefix("Wait, ").split(" words.")[0].rsplit(" ", 1)[0]
            assert copied in asked, line


def test_training_mix_has_premature_and_resumed_traces():
    rows = counting.training_rows(400)
    meta = [json.loads(row["metadata"]) for row in rows]
    several = [m for m in meta if m["groups"] > 1]
    premature = sum(m["trace"] == "premature" and m["waits"] == 0 for m in several)
    resumed = sum(m["waits"] > 0 for m in several)
    # concluding early is the more frequent move at a group's end (greedy decoding follows
    # it), and enough traces read on after "Wait" to teach what comes after it
    assert 0.5 < premature / len(several) <= 0.8 and resumed >= 0.25 * len(several)
    # a forced "Wait" at the real end must lead to a confirmation, as often as to more words
    confirmed = sum(m["confirms"] > 0 for m in meta)
    assert 0.4 * resumed <= confirmed <= 2 * resumed
    for row, m in zip(rows, meta, strict=True):
        kind = m["trace"]
        trace = row["thinking_trajectories"][0]
        last_number = int(re.findall(r"^\d+", trace, re.M)[-1])
        answer = int(row["attempt"].split("{")[1].split("}")[0])
        assert answer == last_number, "the attempt answers the trace's last count"
        assert (answer == int(row["solution"])) is (kind != "premature")
        assert trace.count(";") == m["waits"]
        assert trace.count(f" {last_number} words.") == m["confirms"]


def test_training_rows_never_contain_a_held_out_problem():
    held_out = {row["problem"] for row in counting.generate_problems(counting.DEFAULT_NUM_PROBLEMS)}
    train = {row["question"] for row in counting.training_rows(500)}
    assert len(train) > 400 and not held_out & train

    # nor the same words in the same order grouped otherwise
    def words(problem):
        return tuple(word for group in _listed(problem) for word in group)

    assert not {words(p) for p in held_out} & {words(q) for q in train}


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
    # the attempt is graded by the same math grading as the held-out task; a premature
    # conclusion answers the count so far, and grades wrong
    premature = json.loads(rows[0]["metadata"])["trace"] == "premature"
    assert grade_math(completion, rows[0]["solution"]).correct is not premature


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


def test_the_demo_page_states_the_mix_and_the_recipe_the_code_uses():
    """The demo section's design numbers are the generator's and the recipe's own."""
    import yaml

    from s1_eval.demo.run import RECIPE, TRAIN_ROWS
    from tests.conftest import REPO

    page = " ".join((REPO / "docs" / "demo.md").read_text().split())
    mix = counting.TRACE_MIX
    steps = yaml.safe_load(RECIPE.read_text())["max_steps"]
    for claim in (
        f"{round(100 * mix.conclude_early)}% of traces **conclude too soon**",
        f"real end, {round(100 * mix.confirm_end)}% add",
        f"({round(100 * mix.confirm_again)}% of those twice)",
        f"{TRAIN_ROWS} traces in the s1K schema",
        f"({steps} steps of 8,",
        f"{counting.MIN_WORDS}–{counting.MAX_WORDS} words in one to three groups",
    ):
        assert claim in page, claim
    assert steps * 8 == TRAIN_ROWS, "one pass over the training set"
