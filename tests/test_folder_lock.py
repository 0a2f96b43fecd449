"""One writer per run folder: a second real process is refused in one line naming the holder;
a SIGKILLed holder's lock is taken over; a refused run leaves no folder behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "fixtures"))
from make_runs import row, write_run

from s1_eval.runs.lock import FolderInUse, run_folder_lock
from tests.test_cli import TASK_DIR, assert_one_line_error, s1_eval

HOLD = (
    "import sys, time\n"
    "from s1_eval.runs.lock import run_folder_lock\n"
    "with run_folder_lock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)
SWEEP = ("sweep", "--model", "dummy", "--tasks", "s1_fake", "--include_path", TASK_DIR,
         "--budgets", "8,16", "--limit", "2")  # fmt: skip


def test_a_second_process_is_refused_and_a_killed_holder_is_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = s1_eval(*SWEEP, "--output_path", run)
        assert_one_line_error(
            proc, "output: run is in use by another s1-eval process",
            f"host {socket.gethostname()}, pid {holder.pid}, since ", "use another --output_path",
        )  # fmt: skip
        assert not (run / "cells").exists(), "the refused sweep wrote nothing"
        finished = write_run(tmp_path / "finished", "t", {}, [row(0, 1, 10)])
        (run / "sweep.json").write_text("{}")  # a sweep's folder: report must wait for it
        proc = s1_eval("report", finished, "--output_path", run)
        assert proc.returncode == 2 and "in use by another s1-eval process" in proc.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # the kernel dropped the dead holder's lock: the next sweep takes the folder over
    (run / "sweep.json").unlink()
    proc = s1_eval(*SWEEP, "--output_path", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(run.glob("cells/*/cell.json"))) == 2


def test_the_lock_is_reentrant_in_one_process_and_leaves_no_new_folder(tmp_path):
    folder = tmp_path / "new"
    with run_folder_lock(folder), run_folder_lock(folder):
        assert (folder / ".lock.holder").is_file()
    assert not folder.exists(), "a lock alone leaves no folder behind"
    kept = tmp_path / "kept"
    with run_folder_lock(kept):
        (kept / "cell.json").write_text("{}")
    assert (kept / "cell.json").is_file() and not (kept / ".lock.holder").exists()


def test_a_held_folder_raises_folder_in_use(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderInUse, match=f"pid {holder.pid}"), run_folder_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
