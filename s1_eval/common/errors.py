"""The exceptions s1-eval raises for bad input, in one place: each message is one line that
names the thing and the fix. ``S1EvalError`` marks them, so a command line can print them
without a traceback and leave every other exception as it is.

    raise ConfigError("max_length", "expected an integer >= 1, got 0")
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

#: which check of a file failed: not UTF-8, not JSON, not a JSON object
Problem = Literal["encoding", "syntax", "shape"]


class S1EvalError(Exception):
    """Bad input that s1-eval found and explained in its message."""


class InputError(S1EvalError, ValueError):
    """Bad input from the user (a model_arg, gen_kwarg, task data file or engine setting): the
    message names the key (or file) and the fix."""


class UnreadableFile(S1EvalError, ValueError):
    """A text / JSON / JSONL file that cannot be read as one; the message is
    ``<path>, line <n>[, column <c>]: <what is wrong>``. ``kind`` says which check failed
    (``encoding``: not UTF-8, ``syntax``: not JSON, ``shape``: not a JSON object), so a caller
    can add the fix that fits its file."""

    def __init__(
        self, path: Path, line: int, problem: str, kind: Problem, column: int | None = None
    ):
        self.path, self.line, self.column, self.problem, self.kind = (
            Path(path), line, column, problem, kind,
        )  # fmt: skip
        super().__init__(f"{path}, {self.where}: {problem}")

    @property
    def where(self) -> str:
        return f"line {self.line}" + (f", column {self.column}" if self.column else "")


class ConfigError(S1EvalError, ValueError):
    """A bad recipe value or data file, reported as ``<key>: <what is wrong and what works>``."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


class ServerUnavailable(S1EvalError, ConnectionError):
    """Every server failed; names them (an OSError, so s1-eval reports it in one line)."""


class NoSharedProblems(S1EvalError, ValueError):
    """Two runs that share no scored problem (different task, limit or data revision)."""


class WorkerUnavailable(S1EvalError, RuntimeError):
    """The worker process could not start or died; the caller falls back to a thread."""


class FolderInUse(S1EvalError, ValueError):
    """Another process holds the run folder's lock."""


class UnreadableRun(S1EvalError, ValueError):
    """A file that a finished run must hold is missing or cannot be parsed (the message starts
    with its path). A report stops on it rather than write a leaderboard without its cells."""
