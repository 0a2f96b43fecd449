"""Bad local data files fail at load time with one line naming the file, the line and the fix.

    pytest tests/test_datafiles.py

The CLI cases run the real `lm_eval` with `--metadata s1_data_dir` (the offline data option);
`--model dummy` because the check happens while lm-eval builds the task, before any generation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from s1_eval.tasks import benchmarks
from s1_eval.tasks.datafiles import REQUIRED, DataFileError, read_rows
from tests.conftest import lm_eval_command

DATA = Path(__file__).resolve().parent / "fixtures" / "data"
MATH_ROW = {"problem": "What is 1 + 1?", "answer": "2"}


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def error_for(path: Path, kind: str = "math") -> str:
    with pytest.raises(DataFileError) as caught:
        read_rows(path, REQUIRED[kind], what="math500")
    return str(caught.value)


# ---------------------------------------------------------------------------------------------
# The reader, case by case
# ---------------------------------------------------------------------------------------------


def test_good_files_of_every_format_load(tmp_path):
    rows = [MATH_ROW, {"question": "2 + 2?", "Answer": 4}]
    assert read_rows(write(tmp_path / "a.jsonl", jsonl(*rows)), REQUIRED["math"], "m") == rows
    assert read_rows(write(tmp_path / "a.json", json.dumps(rows)), REQUIRED["math"], "m") == rows
    csv_text = "problem,answer\nWhat is 1 + 1?,2\n"
    assert read_rows(write(tmp_path / "a.csv", csv_text), REQUIRED["math"], "m") == [MATH_ROW]
    for name in ("math500.jsonl", "aime24.jsonl"):
        assert read_rows(DATA / name, REQUIRED["math"], "m")
    assert read_rows(DATA / "gpqa_diamond.jsonl", REQUIRED["gpqa"], "gpqa_diamond")


def test_missing_column_names_file_line_column_and_fix(tmp_path):
    path = write(tmp_path / "math500.jsonl", jsonl(MATH_ROW, {"problem": "No answer here"}))
    message = error_for(path)
    assert f"{path}, line 2" in message and "'answer'" in message and "'Answer'" in message
    assert "Add the column" in message and "['problem']" in message


def test_empty_value_is_an_error(tmp_path):
    path = write(tmp_path / "math500.jsonl", jsonl(MATH_ROW, {"problem": "x", "answer": " "}))
    assert f"{path}, line 2: the 'answer' column is empty" in error_for(path)
    path = write(tmp_path / "null.jsonl", jsonl({"problem": None, "answer": "1"}))
    assert "'problem' column is empty" in error_for(path)


def test_malformed_jsonl_line(tmp_path):
    path = write(tmp_path / "math500.jsonl", jsonl(MATH_ROW) + '{"problem": "oops",\n')
    message = error_for(path)
    assert message.startswith(f"{path}, line 2, column") and "invalid JSON" in message
    assert "fix or delete it" in message


def test_a_jsonl_line_that_is_not_an_object(tmp_path):
    path = write(tmp_path / "math500.jsonl", jsonl(MATH_ROW) + '["a", "list"]\n')
    assert f"{path}, line 2: expected a JSON object" in error_for(path)


def test_json_holding_an_object(tmp_path):
    path = write(tmp_path / "math500.json", json.dumps({"rows": [MATH_ROW]}))
    message = error_for(path)
    assert f"{path}, line 1: holds a JSON object" in message and "list of row objects" in message


def test_binary_file(tmp_path):
    path = write(
        tmp_path / "math500.jsonl", jsonl(MATH_ROW).encode() + b"\x89PNG\r\n\x1a\n\x00\xff"
    )
    message = error_for(path)
    assert f"{path}, line 2: not UTF-8 text" in message and "binary" in message


def test_not_parquet_and_unknown_suffix(tmp_path):
    assert "cannot be read as Parquet" in error_for(write(tmp_path / "m.parquet", "not parquet"))
    assert "unsupported file type '.txt'" in error_for(write(tmp_path / "m.txt", "x"))


def test_empty_file(tmp_path):
    assert "holds no rows" in error_for(write(tmp_path / "math500.jsonl", "\n\n"))


def test_gpqa_rows_need_all_four_choices(tmp_path):
    row = json.loads((DATA / "gpqa_diamond.jsonl").read_text().splitlines()[0])
    del row["Incorrect Answer 3"]
    path = write(tmp_path / "gpqa_diamond.jsonl", jsonl(row))
    with pytest.raises(DataFileError, match=r"line 1: the row has no 'Incorrect Answer 3'"):
        benchmarks.load_gpqa_diamond(s1_data_file=str(path))


def test_loader_error_points_at_the_schema(tmp_path):
    path = write(tmp_path / "math500.jsonl", jsonl({"problem": "x"}))
    with pytest.raises(DataFileError, match=r"S1_EVAL_MATH500_FILE.*HuggingFaceH4/MATH-500"):
        benchmarks.load_math500(s1_data_file=str(path))


# ---------------------------------------------------------------------------------------------
# Through the real lm_eval CLI
# ---------------------------------------------------------------------------------------------

BAD_FILES = {
    "missing_answer": ("math500.jsonl", jsonl(MATH_ROW, {"problem": "x"}), "line 2: the row has no 'answer'"),
    "malformed_line": ("math500.jsonl", jsonl(MATH_ROW) + "{oops\n", "line 2, column 2: invalid JSON"),
    "binary": ("math500.jsonl", b"\x00\x01\xfe\xff" * 64, "line 1: not UTF-8 text"),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_lm_eval_cli_reports_a_bad_file_in_one_line(tmp_path, case):
    name, content, expected = BAD_FILES[case]
    data = tmp_path / "data"
    path = write(data / name, content)
    for other in ("aime24.jsonl", "gpqa_diamond.jsonl"):
        shutil.copy(DATA / other, data / other)
    argv = [*lm_eval_command(), "--model", "dummy", "--tasks", "s1_math500", "--limit", "2",
            "--metadata", json.dumps({"s1_data_dir": str(data)})]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - start
    assert done.returncode == 1, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [errors[0]] and f"{path}, {expected}" in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    print(f"{case}: error after {elapsed:.1f} s")


def test_a_json_object_file_fails_in_lm_evals_task_manager(tmp_path):
    """The .json case through lm-eval's TaskManager, in process, as the CLI builds tasks."""
    from lm_eval.tasks import TaskManager

    path = write(tmp_path / "math500.json", json.dumps({"problem": "x", "answer": "1"}))
    manager = TaskManager(include_defaults=False, metadata={"s1_data_file": str(path)})
    with pytest.raises(DataFileError, match=r"math500.json, line 1: holds a JSON object"):
        manager.load(["s1_math500"])
