"""Read a benchmark's rows from a local file and check them; every problem is one DataFileError.

    rows = read_rows(Path("math500.jsonl"), REQUIRED["math"], what="math500")

The error names the file, the line (or row), what is wrong and the fix, and is raised before any
row reaches lm-eval: a file whose rows lack ``answer`` must not run to exit 0 scoring every
sample against nothing. Files may be .jsonl, .json (a list of rows), .csv or .parquet.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from s1_eval.common.errors import InputError
from s1_eval.common.files import UnreadableFile, json_kind, read_json, read_jsonl, read_text

#: per benchmark kind, the columns a row needs: each entry lists accepted spellings, first wins
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "math": (("problem", "question", "Problem"), ("answer", "Answer")),
    "gpqa": (
        ("Question",),
        ("Correct Answer",),
        ("Incorrect Answer 1",),
        ("Incorrect Answer 2",),
        ("Incorrect Answer 3",),
    ),
}
FORMATS = ".jsonl, .json (a list of rows), .csv, .parquet"


class DataFileError(InputError):
    """A local data file that cannot be used as is; the message says where and how to fix it."""


def read_rows(
    path: Path, required: tuple[tuple[str, ...], ...], what: str, fix: str = ""
) -> list[dict]:
    """Every row of ``path``, each checked to hold the ``required`` columns with a value."""
    rows = list(_numbered_rows(path))
    if not rows:
        raise DataFileError(f"{path}: holds no rows. {fix}".strip())
    for where, row in rows:
        _check_row(path, where, row, required, what, fix)
    return [row for _, row in rows]


def _numbered_rows(path: Path) -> Iterator[tuple[str, dict]]:
    """(location, row) pairs; the location is "line N" or "row N", for error messages."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    if suffix not in (".jsonl", ".json", ".csv"):
        raise DataFileError(f"{path}: unsupported file type {suffix!r}; use {FORMATS}.")
    try:
        if suffix == ".jsonl":
            rows = [(f"line {number}", row) for number, row in read_jsonl(path)]
        elif suffix == ".json":
            data = read_json(path)
            if not isinstance(data, list):
                raise DataFileError(
                    f"{path}, line 1: holds a JSON {json_kind(data)}; a .json data file must be a "
                    "list of row objects ([{...}, {...}]). Save the rows as that list, or one "
                    "object per line as .jsonl."
                )
            rows = [(f"row {number}", _object(path, f"row {number}", row))
                    for number, row in enumerate(data, start=1)]  # fmt: skip
        else:
            # line numbers: the header is line 1 (rows with embedded newlines shift them; rare)
            lines = read_text(path).splitlines()
            rows = [(f"line {number}", row)
                    for number, row in enumerate(csv.DictReader(lines), start=2)]  # fmt: skip
    except UnreadableFile as error:
        raise DataFileError(f"{error}{_fix(error)}") from None
    yield from rows


def _fix(error: UnreadableFile) -> str:
    """What to do about a file s1_eval.common.files could not read, after its located message."""
    if error.kind == "encoding":
        return f"; is it a binary file? Expected {FORMATS}: convert it, or name a Parquet file .parquet."
    if error.kind == "shape":
        return ". Write one object per row."
    if error.path.suffix.lower() == ".jsonl":
        return ". Each line of a .jsonl file must be one complete JSON object: fix or delete it."
    return ". Fix the JSON (e.g. `python -m json.tool FILE` shows where it breaks)."


def _object(path: Path, where: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise DataFileError(
            f'{path}, {where}: expected a row object ({{"column": value, ...}}), got a JSON '
            f"{json_kind(value)}. Write one object per row."
        )
    return value


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict]]:
    import datasets

    try:
        rows = datasets.Dataset.from_parquet(str(path)).to_list()
    except Exception as error:  # pyarrow raises several types for a file that is not Parquet
        raise DataFileError(
            f"{path}: cannot be read as Parquet ({type(error).__name__}: {error}). Check the file, "
            f"or give it the suffix of its real format ({FORMATS})."
        ) from None
    for number, row in enumerate(rows, start=1):
        yield f"row {number}", row


def _check_row(
    path: Path,
    where: str,
    row: dict,
    required: tuple[tuple[str, ...], ...],
    what: str,
    fix: str,
) -> None:
    for spellings in required:
        present = [name for name in spellings if name in row]
        if not present:
            also = f" (or {', '.join(map(repr, spellings[1:]))})" if len(spellings) > 1 else ""
            raise DataFileError(
                f"{path}, {where}: the row has no {spellings[0]!r} column{also}, which {what} "
                f"needs; its columns: {sorted(row)}. Add the column to every row. {fix}".strip()
            )
        value = row[present[0]]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataFileError(
                f"{path}, {where}: the {present[0]!r} column is empty; {what} needs a value in "
                f"every row. Fill it in or drop the row. {fix}".strip()
            )
