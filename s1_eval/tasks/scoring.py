"""Scoring for the s1 tasks: grade each response and write answer, verdict and trace into the row.

    row = process_math_results(doc, [response])   # {"exact_match": 1, "thinking_tokens": 812,
                                                  #  "trace": {"extracted_answer": "42", ...}}

lm-eval writes whatever ``process_results`` returns into the sample's row of the samples file, so
Control and the scaling plots can be computed from samples alone; it also aggregates every key
into the table it prints. So a row holds the table's metrics at its top level (``table_metrics``:
the score, maj@k and pass@k, thinking tokens) and every other field in one ``trace`` dict
(``s1_eval.trace.split_row``). Trace fields come from the ``ForcedText`` the s1 backends return
(``s1_eval.trace`` owns their names); other backends return plain strings and get -1
("unknown") in every trace field, and no ``thinking_tokens`` at the top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from s1_eval.core.token_trace import TOKENS_COLUMN, token_column
from s1_eval.grading.grade import Grade, canonical_answer, grade_choice, grade_math, start_worker
from s1_eval.grading.parallel import cov_at_k, maj_at_k, pass_at_k
from s1_eval.trace import TABLE_TRACE_FIELDS, TRACE, TRACE_COLUMNS, UNKNOWN, row_fields, split_row

# lm-eval imports this module when it builds the tasks, long before the first response is
# graded: the grading worker imports sympy meanwhile instead of delaying the first item
start_worker()

#: Per-response text fields (in a row's trace dict).
TEXT_FIELDS = ("extracted_answer", "grading_failure", "answer_source", TOKENS_COLUMN)
#: what lm-eval's table shows of a greedy task, in a row's top level (the rest: ``trace``)
GREEDY_TABLE = ("exact_match", *TABLE_TRACE_FIELDS)


def table_metrics(n: int | None = None) -> list[str]:
    """The metrics a task's YAML lists (n: samples per doc of a sampling variant): the score,
    maj@k and pass@k, thinking tokens, and ``trace`` (aggregated as the share traced)."""
    if n is None:
        return [*GREEDY_TABLE, TRACE]
    ks = sampling_ks(n)
    votes = [f"maj@{k}" for k in ks] + [f"pass@{k}" for k in ks]
    return ["exact_match", *votes, *TABLE_TRACE_FIELDS, TRACE]


def grade_fields(grade: Grade) -> dict[str, Any]:
    return {
        "exact_match": int(grade.correct),
        "extracted_answer": grade.extracted,
        "grading_failure": grade.failure,
        "answer_source": grade.source,
    }


def _first(results: Sequence[Any]) -> Any:
    response = results[0]
    # a take_first_k filter hands over a list: the first sample then stands for the doc
    return response[0] if isinstance(response, list) else response


def process_math_results(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    response = _first(results)
    fields = {
        **grade_fields(grade_math(response, doc["answer"])),
        **row_fields(response),
        **token_column(response),
    }
    return split_row(fields, GREEDY_TABLE)


def process_gpqa_results(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    response = _first(results)
    fields = {
        **grade_fields(grade_choice(response, doc["answer"])),
        **row_fields(response),
        **token_column(response),
    }
    return split_row(fields, GREEDY_TABLE)


# ---------------------------------------------------------------------------------------------
# Parallel scaling (repeats n at temperature > 0)
# ---------------------------------------------------------------------------------------------


def sampling_ks(n: int) -> list[int]:
    """k = 1, 2, 4, ... below n, and n itself."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return [*ks, n] if n >= 1 else []


def majority_correct(keys: Sequence[str], correct: Sequence[bool], k: int) -> int:
    """maj@k: is the most frequent answer among the first k right? Ties go to the answer seen
    first; responses without an answer do not vote."""
    winner = maj_at_k([key or None for key in keys], k)
    return 0 if winner is None else int(correct[list(keys).index(winner)])


def _responses(results: Sequence[Any]) -> list[Any]:
    first = results[0]
    return list(first) if isinstance(first, list) else list(results)


def _mean_known(values: Sequence[float]) -> float:
    known = [v for v in values if v != UNKNOWN]
    return sum(known) / len(known) if known else UNKNOWN


def score_samples(
    responses: Sequence[Any], grade: Callable[[Any], Grade], vote_key: Callable[[Grade], str]
) -> dict[str, Any]:
    """One row for n sampled responses to the same doc (the table's metrics at the top)."""
    grades = [grade(response) for response in responses]
    correct = [g.correct for g in grades]
    keys = [vote_key(g) if g.extracted else "" for g in grades]
    n, c = len(grades), sum(correct)
    row: dict[str, Any] = {"exact_match": int(correct[0]), "n_samples": n, "n_correct": c}
    for k in sampling_ks(n):
        row[f"pass@{k}"] = pass_at_k(n, c, k)
        row[f"maj@{k}"] = majority_correct(keys, correct, k)
        row[f"cov@{k}"] = int(cov_at_k(correct, k))
    row["extracted_answers"] = [g.extracted for g in grades]
    row["sample_correct"] = [int(x) for x in correct]
    row["grading_failures"] = [g.failure for g in grades]
    traces = [row_fields(response) for response in responses]
    for name in TRACE_COLUMNS:
        values = [t[name] for t in traces]
        row[name] = _mean_known(values)  # the doc's mean; the list keeps each sample's value
        row[f"{name}_each"] = values
    return split_row(row, table_metrics(n))


def process_math_samples(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    return score_samples(
        _responses(results),
        grade=lambda response: grade_math(response, doc["answer"]),
        vote_key=lambda g: canonical_answer(g.extracted),  # 1/2 and 0.5 vote together
    )


def process_gpqa_samples(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    return score_samples(
        _responses(results),
        grade=lambda response: grade_choice(response, doc["answer"]),
        vote_key=lambda g: g.extracted,
    )
