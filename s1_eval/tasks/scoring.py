"""Scoring for the s1 tasks: grade each response and write answer, verdict and trace into the row.

    row = process_math_results(doc, [response])   # {"exact_match": 1, "extracted_answer": "42", ...}

lm-eval writes whatever ``process_results`` returns into the sample's row of the samples file, so
Control and the scaling plots can be computed from samples alone. Trace fields come from the
``ForcedText`` the s1 backends return (``s1_eval.trace`` owns their names); other backends return
plain strings and get -1 ("unknown") in every trace field, which keeps the columns numeric and
aggregatable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from s1_eval.core.token_trace import TOKENS_COLUMN, token_column
from s1_eval.grading.grade import Grade, canonical_answer, grade_choice, grade_math, start_worker
from s1_eval.grading.parallel import cov_at_k, maj_at_k, pass_at_k
from s1_eval.trace import TRACE_COLUMNS, UNKNOWN, row_fields

# lm-eval imports this module when it builds the tasks, long before the first response is
# graded: the grading worker imports sympy meanwhile instead of delaying the first item
start_worker()

#: Per-response text fields (aggregation "bypass" in the YAMLs).
TEXT_FIELDS = ("extracted_answer", "grading_failure", "answer_source", TOKENS_COLUMN)
#: Numeric per-response fields (aggregation "mean").
NUMERIC_FIELDS = ("exact_match", *TRACE_COLUMNS)


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
    grade = grade_math(response, doc["answer"])
    return {**grade_fields(grade), **row_fields(response), **token_column(response)}


def process_gpqa_results(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    response = _first(results)
    grade = grade_choice(response, doc["answer"])
    return {**grade_fields(grade), **row_fields(response), **token_column(response)}


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
    """One row for n sampled responses to the same doc."""
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
    return row


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


def sampling_metric_names(n: int) -> tuple[list[str], list[str]]:
    """(numeric metrics, bypass metrics) that ``score_samples`` returns for n samples."""
    numeric = ["exact_match", "n_samples", "n_correct"]
    for k in sampling_ks(n):
        numeric += [f"pass@{k}", f"maj@{k}", f"cov@{k}"]
    numeric += TRACE_COLUMNS
    bypass = ["extracted_answers", "sample_correct", "grading_failures"]
    bypass += [f"{name}_each" for name in TRACE_COLUMNS]
    return numeric, bypass
