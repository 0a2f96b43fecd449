"""The `s1-train` console command: answers --help, `estimate` and `select` before torch and
TRL load; training runs `s1_eval.trainer.sft.main`.

    s1-train --help
"""

from __future__ import annotations

import sys

from s1_eval.trainer.usage import TOOL_COMMANDS, command_words, run_tool_command


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    words = command_words([a for a in argv if a != "--debug"])  # --help: without loading TRL
    if words[0] in TOOL_COMMANDS:
        run_tool_command(words, debug="--debug" in argv)
        return
    from s1_eval.trainer.sft import main as run_command

    run_command(argv)


if __name__ == "__main__":
    main()
