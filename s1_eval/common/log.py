"""How the package speaks to its user outside an exception's text: its logger, the
"Did you mean" hint of an error about an unknown name, an error as one CLI line, and the
argparse pieces every CLI of the package shares (one-line errors, renamed options, lists and
booleans in lm-eval's forms).

    raise ValueError(f"Unknown gen_kwarg {key!r}.{did_you_mean(key, ACCEPTED)} Accepted: ...")
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping

from s1_eval.common.errors import S1EvalError

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


@contextlib.contextmanager
def bad_input_is_one_line(
    debug: bool, kinds: tuple[type[Exception], ...] = (ValueError, OSError)
) -> Iterator[None]:
    """Bad input (``kinds``: options, files, folders) ends a CLI command as one line on stderr,
    ``error: ...``, and exit status 2; ``debug`` (the ``--debug`` flag) prints the traceback
    above that line."""
    try:
        yield
    except kinds as error:
        if debug:
            traceback.print_exc()
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, not a usage block: ``error: --key: what is
    accepted (see PROG --help)`` and exit status 2, or, given ``raise_as``, the exception it
    builds from argparse's message (for commands that report their own errors).

    ``renamed`` maps an old spelling to its new one (``{"--output": "--output_path"}``, or to
    an option and its value: ``{"--no-x": "--x=false"}``): the old one still works and prints
    a one-line note naming the new. Subcommand parsers take it through ``add_parser``."""

    def __init__(
        self,
        *args,
        raise_as: Callable[[str], Exception] | None = None,
        renamed: Mapping[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.raise_as = raise_as
        self.renamed = dict(renamed or {})

    def error(self, message: str):
        if self.raise_as is not None:
            raise self.raise_as(message)
        message = message.removeprefix("argument ")
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        if self.renamed:
            words = sys.argv[1:] if args is None else list(args)
            args = [self._new_spelling(word) for word in words]
        return super().parse_known_args(args, namespace)

    def _new_spelling(self, word: str) -> str:
        flag, equals, value = word.partition("=")
        new = self.renamed.get(flag)
        if new is None or not flag.startswith("-"):
            return word
        print(f"note: {self.prog}: {flag} is now {new} (the old spelling still works)",
              file=sys.stderr)  # fmt: skip
        return new + equals + value


def parse_bool(text: str) -> bool:
    """An option's true/false, as lm-eval's ``--fewshot_as_multiturn false`` takes it."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: give true or false")


class SplitList(argparse.Action):
    """A list option in lm-eval's forms (``--tasks a,b``, ``--tasks a b``), kept as the comma
    string the rest of the code reads; use with ``nargs="+"``."""

    def __call__(self, parser, namespace, values, option_string=None):
        words = [values] if isinstance(values, str) else list(values)
        items = [item.strip() for word in words for item in word.split(",") if item.strip()]
        setattr(namespace, self.dest, ",".join(items))


#: set to 1 to see the traceback of one of our errors that ends an lm_eval run
DEBUG_ENV = "S1_EVAL_DEBUG"


def install_excepthook() -> None:
    """Print an uncaught error of ours (``S1EvalError``: bad input, explained) as one line;
    pass anything else to the hook before. ``lm_eval`` has no error handler of its own, so the
    start-up hook installs this once lm-eval loads (idempotent)."""
    previous = sys.excepthook
    if getattr(previous, "_s1_eval", False):
        return

    def hook(kind, error, traceback):
        if isinstance(error, S1EvalError) and os.environ.get(DEBUG_ENV) != "1":
            print(f"error: {one_line(error)} ({DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
        else:
            previous(kind, error, traceback)

    hook._s1_eval = True
    sys.excepthook = hook
