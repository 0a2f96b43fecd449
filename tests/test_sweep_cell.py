"""A sweep on a full disk and in a read-only folder (real tmpfs mounts, real `s1-eval sweep`):
one line naming the cell and the cause, finished cells intact and verifiable, no half-written
cell under a final name, and a rerun with space restored equal to an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from s1_eval.runs.folder import CELL_FILE
from tests.test_cli import assert_one_line_error, s1_eval

BUDGETS = "8,16,32,64"
# the scripted toy model runs the real forcing loop and shared pass on the demo's arithmetic
SWEEP = ("sweep", "--model", "s1_scripted", "--tasks", "s1_demo_arithmetic",
         "--budgets", BUDGETS, "--limit", "2", "--no_plot")  # fmt: skip


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs: room for the sweep's first cells, not for all four."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def samples_by_cell(run: Path) -> dict[str, list]:
    """Each finished cell's samples, without what differs between two runs (times, hashes)."""
    cells = {}
    for marker in sorted(run.glob(f"cells/*/{CELL_FILE}")):
        [samples] = marker.parent.rglob("samples_*.jsonl")
        rows = [json.loads(line) for line in samples.read_text().splitlines()]
        cells[marker.parent.name] = [(r["doc_id"], r["resps"], r["exact_match"]) for r in rows]
    return cells


def assert_only_finished_cells(run: Path) -> None:
    for folder in (run / "cells").iterdir():
        if not folder.name.startswith(".tmp-"):
            assert (folder / CELL_FILE).is_file(), f"{folder.name} is half-written"


def test_full_disk_stops_cleanly_and_resumes_to_the_same_results(tiny_disk, tmp_path):
    run = tiny_disk / "run"
    proc = s1_eval(*SWEEP, "--output_path", run)
    assert_one_line_error(
        proc, f"{run}/cells/s1_demo_arithmetic__budget=", "No space left on device"
    )
    finished = samples_by_cell(run)
    assert 0 < len(finished) < 4
    assert_only_finished_cells(run)
    verified = s1_eval("verify", run)
    assert verified.returncode == 0 and "verify: OK" in verified.stdout, verified.stdout

    subprocess.run(["mount", "-o", "remount,size=20m", str(tiny_disk)], check=True)
    proc = s1_eval(*SWEEP, "--output_path", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{len(finished)} of 4 cells already finished" in proc.stdout
    clean = tmp_path / "clean"
    assert s1_eval(*SWEEP, "--output_path", clean).returncode == 0
    resumed = samples_by_cell(run)
    assert len(resumed) == 4 and resumed == samples_by_cell(clean)
    assert all(resumed[name] == rows for name, rows in finished.items())


def test_read_only_folder_is_one_line(tiny_disk):
    run = tiny_disk / "run"
    subprocess.run(["mount", "-o", "remount,size=20m", str(tiny_disk)], check=True)
    assert s1_eval(*SWEEP[:-4], "8", "--limit", "2", "--output_path", run).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    proc = s1_eval(*SWEEP, "--output_path", run)
    assert_one_line_error(proc, str(run), "Read-only file system")
