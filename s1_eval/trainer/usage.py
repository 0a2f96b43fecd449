"""What `s1-train --help` prints, the command words every entry point of s1-train reads first,
and the commands that run before torch and TRL load.

    argv = command_words(sys.argv[1:])   # prints the usage for --help; "train ARGS" -> ARGS

Kept free of torch, TRL and datasets, so ``s1-train --help`` answers at once; ``estimate`` and
``select`` import what they need themselves (training's imports cost ~8 s of CPU more).
"""

from __future__ import annotations

import sys

from s1_eval.common.log import bad_input_is_one_line

#: the commands that need neither TRL nor the training script
TOOL_COMMANDS = ("estimate", "select")

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


#: what s1-train reports as bad input: ConfigError (a ValueError), a TypeError, an OSError
BAD_INPUT = (ValueError, TypeError, OSError)


def run_tool_command(words: list[str], debug: bool) -> None:
    """``estimate ARGS`` or ``select ARGS`` (``words`` as command_words returns them)."""
    with bad_input_is_one_line(debug, BAD_INPUT):
        if words[0] == "estimate":
            from s1_eval.trainer.estimate_cmd import estimate_command

            estimate_command(words[1:])
        else:
            from s1_eval.trainer.select_cmd import select_command

            select_command(words[1:])
