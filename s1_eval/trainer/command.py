"""The `s1-train` console command: answers --help before torch and TRL load, then runs
`s1_eval.trainer.sft.main` (train, estimate or select).

    s1-train --help
"""

from __future__ import annotations

import sys

from s1_eval.trainer.usage import command_words


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    command_words([a for a in argv if a != "--debug"])  # --help: the usage, without loading TRL
    from s1_eval.trainer.sft import main as run_command

    run_command(argv)


if __name__ == "__main__":
    main()
