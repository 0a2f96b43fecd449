"""The trace columns of a samples row, owned by s1_eval.trace: every field written is read back
and moves a cell statistic, every field read is written, and the docs list exactly them.

    pytest tests/test_trace_schema.py
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from s1_eval.report.metrics import cell_stats
from s1_eval.report.verify import TRACE_KEYS
from s1_eval.runs.samples import to_record
from s1_eval.tasks.scoring import GREEDY_TABLE
from s1_eval.trace import (
    SAMPLE_FIELDS,
    TRACE_COLUMNS,
    UNKNOWN,
    ForcedText,
    SampleRecord,
    Trace,
    known_count,
    read_row_fields,
    row_fields,
    split_row,
)

#: the page whose samples-file table lists the trace fields
FIELDS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "evaluating.md"
#: SampleRecord's fields that do not come from the trace
ROW_IDENTITY = {"doc_id", "correct", "doc_hash"}


def _record_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(SampleRecord)} - ROW_IDENTITY


def test_every_trace_field_written_is_read_and_every_field_read_is_written():
    # a field added to SAMPLE_FIELDS without a SampleRecord field (or the other way round)
    # fails here, and samples.to_record, which passes every SAMPLE_FIELD by name, fails too
    assert _record_fields() == set(SAMPLE_FIELDS)
    assert ("has_trace", *SAMPLE_FIELDS) == TRACE_COLUMNS
    assert set(TRACE_COLUMNS) <= TRACE_KEYS


def test_each_field_is_a_trace_attribute_of_a_countable_type():
    types = {f.name: f.type for f in dataclasses.fields(Trace)}
    for name in SAMPLE_FIELDS:
        assert types[name] in ("int", "bool", "int | None"), (name, types[name])


def test_a_trace_survives_the_samples_file_field_by_field():
    # distinct values per field, so a field written under another's name shows
    values = {name: index + 2 for index, name in enumerate(SAMPLE_FIELDS)}
    types = {f.name: f.type for f in dataclasses.fields(Trace)}
    given = {n: (v % 2 == 1) if types[n] == "bool" else v for n, v in values.items()}
    row = json.loads(json.dumps(row_fields(ForcedText("text", Trace(**given)))))
    assert list(row) == list(TRACE_COLUMNS) and row["has_trace"] == 1
    flat = to_record({"doc_id": 3, "exact_match": 1, **row}, "exact_match")  # rows before
    split = split_row({"exact_match": 1, **row}, GREEDY_TABLE)
    assert list(split) == [*GREEDY_TABLE, "trace"]
    record = to_record({"doc_id": 3, **json.loads(json.dumps(split))}, "exact_match")
    assert record == flat
    for name in SAMPLE_FIELDS:
        assert getattr(record, name) == int(given[name]), name


def test_no_trace_writes_unknown_and_reads_back_as_none():
    row = row_fields("a plain string")
    assert row == {"has_trace": 0, **dict.fromkeys(SAMPLE_FIELDS, UNKNOWN)}
    assert read_row_fields(row) == dict.fromkeys(SAMPLE_FIELDS)
    assert read_row_fields({}) == dict.fromkeys(SAMPLE_FIELDS)
    split = split_row({"exact_match": 0, **row}, GREEDY_TABLE)
    assert list(split) == ["exact_match", "trace"]  # no -1 averaged into lm-eval's table
    assert read_row_fields(split) == dict.fromkeys(SAMPLE_FIELDS)
    uncapped = row_fields(ForcedText("x", Trace(1, 1, max_tokens_thinking=None)))
    assert uncapped["max_tokens_thinking"] == UNKNOWN


def test_the_unknown_marker_reads_as_unknown():
    assert [known_count(v) for v in (UNKNOWN, -1.0, 0, 12, 12.0, None, "7", float("nan"))] == [
        None,
        None,
        0,
        12,
        12,
        None,
        None,
        None,
    ]
    assert known_count(True) == 1  # a boolean field written as a bool still counts


def test_every_trace_field_moves_a_cell_statistic():
    # a field written into every row but read by nothing would leave the stats unchanged
    base = dict(thinking_tokens=10, max_tokens_thinking=20, answer_tokens=4)
    base |= {name: 0 for name in SAMPLE_FIELDS if name not in base}
    records = [SampleRecord(0, 1.0, **base), SampleRecord(1, 0.0, **base)]
    before = cell_stats(records)
    for name in SAMPLE_FIELDS:
        changed = [
            cell_stats([dataclasses.replace(r, **{name: value}) for r in records])
            for value in (1, 5, 1000, None)
        ]
        assert any(stats != before for stats in changed), f"{name} changes no statistic"


def test_the_docs_list_exactly_the_trace_fields():
    (line,) = [
        x for x in FIELDS_PAGE.read_text().splitlines() if "from the trace; **-1 = unknown**" in x
    ]
    assert re.findall(r"`(\w+)`", line.split("|")[1]) == list(SAMPLE_FIELDS)
