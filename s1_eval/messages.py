"""How the package speaks to its user outside an exception's text: its logger, the
"Did you mean" hint of an error about an unknown name, and an error as one line.

    raise InputError(f"Unknown gen_kwarg {key!r}.{did_you_mean(key, ACCEPTED)} Accepted: ...")

Bad input (a model_arg, gen_kwarg, task data file or engine setting) raises ``InputError``.
Our own CLIs print any error as one line; an ``lm_eval`` run has no error handler, so the
startup hook (``s1_eval._autoload``) installs ``install_excepthook`` once lm-eval loads: an
``InputError`` that ends the run prints as one line, ``S1_EVAL_DEBUG=1`` shows its traceback,
and every other exception (lm-eval's own included) prints as before.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from collections.abc import Iterable

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


#: set to 1 to see the traceback of an InputError that ends an lm_eval run
DEBUG_ENV = "S1_EVAL_DEBUG"


class InputError(ValueError):
    """Bad input from the user: the message names the key (or file) and the fix."""


def install_excepthook() -> None:
    """Print an uncaught ``InputError`` as one line; pass anything else to the hook before
    (idempotent)."""
    previous = sys.excepthook
    if getattr(previous, "_s1_eval", False):
        return

    def hook(kind, error, traceback):
        if isinstance(error, InputError) and os.environ.get(DEBUG_ENV) != "1":
            print(f"error: {one_line(error)} ({DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
        else:
            previous(kind, error, traceback)

    hook._s1_eval = True
    sys.excepthook = hook
