"""One writer per run folder: an exclusive OS advisory lock (``filelock``) that a second process
is refused at once, with the holder named, and that a killed holder never leaves behind.

    with run_folder_lock(Path("runs/x")): ...   # FolderInUse (a ValueError) if another holds it

The lock is ``flock`` on ``RUN_DIR/.lock``: the operating system releases it when its process
dies, however it dies, so a requeued job takes over a killed one's folder without clean-up. The
holder's host, pid and start time sit beside it in ``.lock.holder`` (written only by the process
that got the lock) for the refusal message. Nested use in one process is re-entrant.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from s1_eval.common.errors import FolderInUse

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.holder"

_held: dict[Path, int] = {}


def holder_of(folder: Path) -> str:
    """``host H, pid P, since T`` of the process holding the folder, as it recorded itself."""
    try:
        info = json.loads((folder / HOLDER_FILE).read_text(encoding="utf-8"))
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
        return f"host {info['host']}, pid {info['pid']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not recorded itself yet"


@contextlib.contextmanager
def run_folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold the folder's lock for the block (the folder is created if needed)."""
    from filelock import FileLock, Timeout

    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder] += 1
        try:
            yield
        finally:
            _held[folder] -= 1
        return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        if created:
            _remove_if_only_lock(folder)
        raise FolderInUse(
            f"output: {folder.name} is in use by another s1-eval process ({holder_of(folder)}); "
            "wait for it to finish, stop it, or use another --output_path folder"
        ) from None
    _held[folder] = 1
    try:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        with contextlib.suppress(OSError):  # the lock holds without its label
            (folder / HOLDER_FILE).write_text(json.dumps(holder), encoding="utf-8")
        yield
    finally:
        del _held[folder]
        with contextlib.suppress(OSError):
            (folder / HOLDER_FILE).unlink()
        lock.release()
        if created:  # a run refused before its first write leaves no folder behind
            _remove_if_only_lock(folder)


def _remove_if_only_lock(folder: Path) -> None:
    with contextlib.suppress(OSError):
        if set(os.listdir(folder)) <= {LOCK_FILE, HOLDER_FILE}:
            for name in (LOCK_FILE, HOLDER_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
            folder.rmdir()
