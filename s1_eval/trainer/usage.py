"""What `s1-train --help` prints, and the command words every entry point of s1-train reads first.

    argv = command_words(sys.argv[1:])   # prints the usage for --help; "train ARGS" -> ARGS

Kept free of torch, TRL and datasets, so ``s1-train --help`` answers at once.
"""

from __future__ import annotations

import sys

USAGE = """usage: s1-train [train] --config RECIPE [--FIELD VALUE ...]
       s1-train estimate --config RECIPE --num_gpus N [--gpu_memory_gib GIB]
       s1-train select --pool FILE --output_dir DIR [--size N ...]

s1-style SFT on TRL: fine-tune, size the GPUs for it, build an s1K-style training set.

commands:
  train      (the default) fine-tune from a YAML recipe; any recipe field or TRL SFTConfig
             option overrides it as --FIELD VALUE (booleans: --FIELD true|false)
  estimate   memory per GPU of a recipe on N GPUs, before any GPU is rented
  select     quality, difficulty and diversity stages over a pool of questions

`s1-train COMMAND --help` describes one command (train: every TRL option); --debug shows the
traceback of an error.
"""


def command_words(argv: list[str]) -> list[str]:
    """``argv`` with an explicit ``train`` dropped (training is the default command); the usage
    printed and the process ended for ``--help`` / ``-h`` (exit 0) or no words at all (exit 2)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        sys.exit(0 if argv else 2)
    return argv[1:] if argv[0] == "train" else argv
