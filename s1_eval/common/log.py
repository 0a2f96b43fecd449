"""How the package speaks to its user outside an exception's text: its logger, the
"Did you mean" hint of an error about an unknown name, and an error as one CLI line.

    raise ValueError(f"Unknown gen_kwarg {key!r}.{did_you_mean(key, ACCEPTED)} Accepted: ...")
"""

from __future__ import annotations

import argparse
import difflib
import logging
from collections.abc import Callable, Iterable

#: a child of lm-eval's logger: our lines print with lm-eval's format and obey LMEVAL_LOG_LEVEL
LOGGER_NAME = "lm_eval.models.s1_eval"
logger = logging.getLogger(LOGGER_NAME)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices``, or "" when none is close; written
    to follow a sentence that ends in a full stop."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def one_line(error: BaseException) -> str:
    """An error as the one line a CLI prints after ``error: `` (YAML and config errors span
    several lines; a file error names its file first)."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    return " ".join(str(error).split()) or type(error).__name__


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, not a usage block: ``error: --key: what is
    accepted (see PROG --help)`` and exit status 2, or, given ``raise_as``, the exception it
    builds from argparse's message (for commands that report their own errors)."""

    def __init__(self, *args, raise_as: Callable[[str], Exception] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.raise_as = raise_as

    def error(self, message: str):
        if self.raise_as is not None:
            raise self.raise_as(message)
        message = message.removeprefix("argument ")
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")
