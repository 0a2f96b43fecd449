"""Call a function with a wall-clock limit that holds even when it is stuck in C code.

    value = run_with_timeout(fn, (arg,), timeout=10.0, mode="process", preload=("math_verify",))

Modes: ``"process"`` (default) runs ``fn`` in a long-lived worker process that is killed on
timeout, the only way to stop a runaway sympy or regex call; a warm spare process takes over,
so the call after a timeout does not wait for a restart; ``"thread"`` runs it in a daemon thread that is abandoned on
timeout (for hosts that cannot start processes; a call that holds the GIL is not stopped);
``"inline"`` has no limit (debugging). ``fn`` and its arguments must pickle for ``"process"``
(a module-level function). ``preload`` names what the worker does before it is ready, so slow
imports and first-call set-up never count against a call's limit: ``"module"`` is imported,
``"module:function"`` is also called (a warm-up).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from s1_eval.common.errors import WorkerUnavailable

Mode = Literal["process", "thread", "inline"]
MODES: tuple[str, ...] = ("process", "thread", "inline")
#: Seconds a worker process may take to start (its preload imports included).
WORKER_START_TIMEOUT_S = 120.0


def run_with_timeout(
    fn: Callable,
    args: tuple,
    timeout: float,
    mode: Mode = "process",
    preload: tuple[str, ...] = (),
) -> Any:
    """Return ``fn(*args)``; raise TimeoutError after ``timeout`` seconds.

    An exception raised by ``fn`` in the worker comes back as RuntimeError("Type: message").
    Without a usable worker process the call falls back to a thread.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "inline":
        return fn(*args)
    if mode == "process":
        try:
            return _worker_for(preload).call(fn, args, timeout)
        except WorkerUnavailable:
            pass
    return _thread_call(fn, args, timeout)


_thread_pool: ThreadPoolExecutor | None = None
_thread_pool_lock = threading.Lock()


def _thread_call(fn: Callable, args: tuple, timeout: float) -> Any:
    global _thread_pool
    with _thread_pool_lock:
        if _thread_pool is None:
            _thread_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s1-timeout")
    future = _thread_pool.submit(fn, *args)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout as error:
        raise TimeoutError(f"took longer than {timeout} s") from error


class _Process:
    """One started worker: its process and the two pipe ends."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        command = [sys.executable, "-m", __name__, str(to_child_r), str(from_child_w), *preload]
        try:
            self.process = subprocess.Popen(
                command, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL
            )
        except OSError as error:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise WorkerUnavailable(f"worker could not start: {error}") from error
        os.close(to_child_r)  # the child's ends
        os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(from_child_r, writable=False)
        self.ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        try:
            if not self.inbox.poll(timeout):
                raise RuntimeError("no ready message")
            self.inbox.recv()
        except (EOFError, OSError, RuntimeError) as error:
            self.kill()
            raise WorkerUnavailable(f"worker could not start: {error}") from error
        self.ready = True

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait(timeout=5)
        self.inbox.close()
        self.outbox.close()


class ProcessWorker:
    """A worker process plus a warm spare; calls are serialised; a call that times out kills
    its process and the spare takes over at once, so the next call never waits for imports.

    Started as ``python -m s1_eval.grading.timeouts`` rather than through multiprocessing's spawn,
    which would re-import the caller's ``__main__`` (and re-run an unguarded script) in the
    child; fork is no option either, the parent may hold CUDA contexts and engine threads.
    """

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self.preload = preload
        self._lock = threading.Lock()
        self._current: _Process | None = None
        self._spare: _Process | None = None
        self._failed_to_start = False

    def call(self, fn: Callable, args: tuple, timeout: float) -> Any:
        with self._lock:
            worker = self._ready_worker()
            try:
                worker.outbox.send((fn, args))
                answered = worker.inbox.poll(timeout)
                status, value = worker.inbox.recv() if answered else ("timeout", None)
            except (BrokenPipeError, EOFError, OSError):
                # it died on this input (killed for memory, crashed): report it, do not retry
                # the same input in this process
                self._retire()
                raise RuntimeError(f"worker died (exit code {worker.process.poll()})") from None
            if status == "timeout":
                self._retire()  # the only way to interrupt C code is to end its process
                raise TimeoutError(f"took longer than {timeout} s")
        if status == "err":
            raise RuntimeError(value)
        return value

    def warm_up(self) -> None:
        """Start the worker processes now, without waiting for them (e.g. at task load time)."""
        with self._lock:
            if self._current is None and not self._failed_to_start:
                with contextlib.suppress(WorkerUnavailable):
                    self._current = _Process(self.preload)

    def _ready_worker(self) -> _Process:
        if self._current is not None and not self._current.alive():
            self._retire()
        if self._current is None:
            if self._failed_to_start:
                raise WorkerUnavailable("worker could not start")
            self._current, self._spare = self._spare or self._start(), None
        try:
            self._current.wait_ready(WORKER_START_TIMEOUT_S)
        except WorkerUnavailable:
            self._current, self._failed_to_start = None, True
            raise
        if self._spare is None or not self._spare.alive():
            self._spare = self._start_quietly()  # starts while this call runs
        return self._current

    def _start(self) -> _Process:
        try:
            return _Process(self.preload)
        except WorkerUnavailable:
            self._failed_to_start = True
            raise

    def _start_quietly(self) -> _Process | None:
        with contextlib.suppress(WorkerUnavailable):
            return _Process(self.preload)
        return None

    def _retire(self) -> None:
        if self._current is not None:
            self._current.kill()
        self._current = None

    def stop(self) -> None:
        with self._lock:
            for worker in (self._current, self._spare):
                if worker is not None:
                    worker.kill()
            self._current, self._spare = None, None


_workers: dict[tuple[str, ...], ProcessWorker] = {}
_workers_lock = threading.Lock()


def warm_up(preload: tuple[str, ...] = ()) -> None:
    """Start the worker for ``preload`` in the background, so the first call does not wait."""
    _worker_for(preload).warm_up()


def _worker_for(preload: tuple[str, ...]) -> ProcessWorker:
    with _workers_lock:
        if preload not in _workers:
            _workers[preload] = ProcessWorker(preload)
            atexit.register(_workers[preload].stop)
        return _workers[preload]


def serve(read_fd: int, write_fd: int, preload: list[str]) -> None:
    """Worker loop: run ``preload``, then answer (fn, args) with ("ok", value) or ("err", text)."""
    import importlib
    from multiprocessing.connection import Connection

    for entry in preload:
        module, _, function = entry.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    outbox.send(("ready", None))
    while True:
        try:
            fn, args = inbox.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            outbox.send(("ok", fn(*args)))
        except Exception as error:
            outbox.send(("err", f"{type(error).__name__}: {error}"))


if (
    __name__ == "__main__"
):  # the worker: python -m s1_eval.grading.timeouts READ_FD WRITE_FD [MODULE...]
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
