"""Tests for s1_eval.runs.folder: budget values, layout (atomic writes:
test_files.py).

pytest tests/test_run_folder.py
"""

from __future__ import annotations

import os

import pytest

from s1_eval.core.settings import parse_budget
from s1_eval.runs.folder import (
    Setting,
    cell_folder,
    clean_stale,
    new_cell_tmp,
    read_count,
)


def test_parse_budget_is_strict():
    assert parse_budget("512") == 512 and parse_budget(64) == 64
    assert parse_budget("none") is None and parse_budget(None) is None
    assert parse_budget(" Auto ") == "auto" and parse_budget(2.0) == 2
    for bad in ("0", "-3", "lots", "1.5", True, 1.5):
        with pytest.raises(ValueError, match="expected a positive integer, 'auto' or 'none'"):
            parse_budget(bad)


def test_read_count_is_lenient():
    assert [read_count(v) for v in (512, 512.0, "512", " none ", "", None, True, "auto")] == [
        512,
        512,
        512,
        None,
        None,
        None,
        None,
        "auto",
    ]


def test_setting_round_trips_through_its_dict_and_gen_kwargs():
    for setting in (
        Setting(512, 2, "Wait"),
        Setting("auto"),
        Setting(None, 0),
        Setting(8, 1, "\n"),
    ):
        assert Setting.from_dict(setting.to_dict()) == setting
        assert Setting.from_gen_kwargs(setting.gen_kwargs()) == setting


def test_cell_folder_and_stale_temporary_folders(tmp_path):
    final = cell_folder(tmp_path, "group/task x", Setting(64, 2, "Wait"))
    assert final.parent == tmp_path / "cells" and "/" not in final.name[len("group") :]
    final.parent.mkdir(parents=True)
    mine = new_cell_tmp(final)
    dead = final.parent / f".tmp-{final.name}.999999999.abc"
    dead.mkdir()
    assert str(os.getpid()) in mine.name
    assert set(clean_stale(tmp_path)) == {mine, dead}  # this process's own leftovers too
    assert not dead.exists() and not mine.exists()
