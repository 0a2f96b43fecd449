"""Tests for s1_eval.common.files: atomic writes, located JSON / JSONL errors, the cache folder.

pytest tests/test_files.py
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from s1_eval.common import files
from s1_eval.common.files import (
    UnreadableFile,
    append_jsonl,
    build_once,
    cache_dir,
    read_json,
    read_jsonl,
    read_text,
    replacing,
    replacing_dir,
    write_all_atomic,
    write_atomic,
)
from s1_eval.runs import folder as run_folder

# --------------------------------------------------------------------------- atomic writes


def test_write_atomic_replaces_the_whole_file(tmp_path):
    path = tmp_path / "sub" / "board.md"  # a missing parent folder is made
    write_atomic(path, "old")
    write_atomic(path, b"new")
    assert path.read_text() == "new" and os.listdir(path.parent) == ["board.md"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "board.md"
    path.write_text("old")

    def killed(fd):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the new content is flushed to disk

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new content")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["board.md"]


def test_replacing_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "board.md"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["board.md"]


def test_write_all_atomic_stages_every_file_first(tmp_path):
    (tmp_path / "a.md").write_text("old a")
    (tmp_path / "b.csv").write_text("old b")
    with pytest.raises(TypeError):  # the second file cannot be written
        write_all_atomic({tmp_path / "a.md": "new a", tmp_path / "b.csv": 42})
    assert (tmp_path / "a.md").read_text() == "old a"  # not half of the new set
    assert sorted(os.listdir(tmp_path)) == ["a.md", "b.csv"]
    write_all_atomic({tmp_path / "a.md": "new a", tmp_path / "b.csv": b"new b"})
    assert (tmp_path / "a.md").read_text() == "new a"
    assert (tmp_path / "b.csv").read_text() == "new b"


def test_run_folder_names_the_same_helpers():
    assert run_folder.write_atomic is files.write_atomic
    assert run_folder.write_all_atomic is files.write_all_atomic
    assert run_folder.TMP_PREFIX == files.TMP_PREFIX


def test_replacing_dir_publishes_a_finished_folder_only(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError), replacing_dir(target) as staging:
        (staging / "config.json").write_text("{}")
        raise RuntimeError("killed mid-training")
    assert os.listdir(tmp_path) == []  # neither the target nor the staging folder
    with replacing_dir(target) as staging:
        (staging / "config.json").write_text("{}")
    assert os.listdir(tmp_path) == ["model"] and (target / "config.json").is_file()


def test_build_once_lets_the_first_build_and_the_second_find_it(tmp_path):
    """Two parallel test workers asking for the same cached model: one converts, one waits."""
    target, started = tmp_path / "model", threading.Event()

    def build(staging):
        started.set()
        time.sleep(0.3)  # the other asks meanwhile
        (staging / "config.json").write_text("{}")

    built = []
    first = threading.Thread(target=lambda: built.append(build_once(target, build, "config.json")))
    first.start()
    started.wait()
    built.append(build_once(target, build, "config.json"))
    first.join()
    assert sorted(built) == [False, True] and (target / "config.json").is_file()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(files.TMP_PREFIX)]


def test_append_jsonl_ends_a_torn_line_before_the_next_row(tmp_path):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, {"n": 1})
    with open(path, "a") as handle:
        handle.write('{"n": 2, "cut')  # a run killed mid-line
    append_jsonl(path, {"n": 3})
    assert [row for _, row in read_jsonl(path, skip_bad=True)] == [{"n": 1}, {"n": 3}]
    with pytest.raises(UnreadableFile, match=r"log\.jsonl, line 2, column \d+: invalid JSON"):
        read_jsonl(path)


# --------------------------------------------------------------------------- reading


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_read_jsonl_numbers_lines_and_skips_blank_ones(tmp_path):
    # a raw U+2028 inside a JSON string is not a line break
    path = write(tmp_path / "a.jsonl", '{"a": 1}\n\n{"b": "x\u2028y"}\r\n')
    assert read_jsonl(path) == [(1, {"a": 1}), (3, {"b": "x\u2028y"})]


@pytest.mark.parametrize(
    ("content", "where", "kind", "problem"),
    [
        ('{"a": 1}\n{"a": \n', "line 2, column 7", "syntax", "invalid JSON (Expecting value)"),
        ('{"a": 1}\n[1, 2]\n', "line 2", "shape", "expected a JSON object"),
        (
            b'{"a": 1}\n{"a": "\xff"}\n',
            "line 2",
            "encoding",
            "not UTF-8 text (byte 0xff at offset 16)",
        ),
    ],
)
def test_read_jsonl_names_file_and_line(tmp_path, content, where, kind, problem):
    path = write(tmp_path / "rows.jsonl", content)
    with pytest.raises(UnreadableFile) as caught:
        read_jsonl(path)
    error = caught.value
    assert str(error).startswith(f"{path}, {where}: {problem}")
    assert (error.path, error.kind, error.line) == (path, kind, 2)
    assert isinstance(error, ValueError)


def test_read_json_and_read_text_name_the_line(tmp_path):
    path = write(tmp_path / "a.json", '{\n  "a": 1,\n}')
    with pytest.raises(UnreadableFile, match=re.escape(f"{path}, line 3, column 1: invalid JSON")):
        read_json(path)
    path = write(tmp_path / "a.csv", b"x,y\n1,\xfe\n")
    with pytest.raises(UnreadableFile, match=re.escape(f"{path}, line 2: not UTF-8 text")):
        read_text(path)
    assert read_json(write(tmp_path / "b.json", "[1]")) == [1]


# --------------------------------------------------------------------------- the cache folder


def test_cache_dir(monkeypatch, tmp_path):
    assert cache_dir(project=True) == Path(".cache") / "s1-eval"  # named in results/demo
    monkeypatch.setenv("S1_EVAL_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("S1_EVAL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "s1-eval"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty means unset, not the current folder
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "s1-eval"
