"""The shipped tasks on the real engine: s1_math500 and s1_aime24 offline, budget forcing on.

Runs lm-eval's own evaluator with the shared s1_vllm engine over the committed real-data slices
(tests/fixtures/data) and checks every per-sample field a samples row carries.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s1_eval.trace import flat_row

pytestmark = pytest.mark.engine
DATA = Path(__file__).resolve().parent / "fixtures" / "data"

FIELDS = ("exact_match", "extracted_answer", "grading_failure", "has_trace", "thinking_tokens",
          "answer_tokens", "suppressions", "cap_fired", "max_tokens_thinking")  # fmt: skip


def test_math500_and_aime24_write_traces_into_samples(vllm_lm, monkeypatch):
    from lm_eval import simple_evaluate

    monkeypatch.setenv("S1_EVAL_DATA_DIR", str(DATA))
    cap = 48
    results = simple_evaluate(
        model=vllm_lm,
        tasks=["s1_math500", "s1_aime24"],
        limit=2,
        apply_chat_template=True,
        log_samples=True,
        gen_kwargs={
            "max_gen_toks": 160,
            "max_tokens_thinking": cap,
            "thinking_n_ignore": 1,
            "thinking_n_ignore_str": "Wait",
        },
    )
    for task in ("s1_math500", "s1_aime24"):
        samples = results["samples"][task]
        assert len(samples) == 2
        for row in map(flat_row, samples):  # the trace dict's fields among the rest
            assert all(field in row for field in FIELDS), sorted(row)
            assert row["has_trace"] == 1 and 0 < row["thinking_tokens"] <= cap
            assert row["max_tokens_thinking"] == cap and row["exact_match"] in (0, 1)
            assert row["grading_failure"] or row["extracted_answer"] != ""
        assert results["results"][task]["thinking_tokens,none"] <= cap
    assert results["config"]["s1_forcing"]["max_tokens_thinking"] == cap
