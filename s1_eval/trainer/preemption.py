"""Preemption for s1-train: stop cleanly on SIGTERM, resume from the last whole checkpoint.

    s1-train --config RECIPE --save_strategy steps --save_steps 50   # rerun the same line to resume

A run that gets SIGTERM (what SLURM sends before preemption or its time limit) saves a
checkpoint at the next optimizer step and exits with PREEMPTED_EXIT. Rerunning the same command
resumes from the newest complete `checkpoint-N` in `output_dir` (after a kill -9 too, from the
last periodic one); an `output_dir` that holds a finished model is left alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import torch
from accelerate import PartialState
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from s1_eval.trainer.data import ConfigError

# sysexits' EX_TEMPFAIL: "try again later", distinct from a crash (1) and from bad input (2).
PREEMPTED_EXIT = 75
# Trainer writes this file last, both in a checkpoint and (through save_state) in a finished
# output_dir, so its presence means everything before it was written.
STATE_FILE = "trainer_state.json"
MODEL_FILES = ("config.json", "model.safetensors", "adapter_config.json")
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


class AlreadyTrained(Exception):
    """output_dir holds a finished model: nothing to train."""

    exit_code = 0


class Preempted(Exception):
    """Training stopped on SIGTERM after saving a checkpoint."""

    exit_code = PREEMPTED_EXIT


def checkpoints(output_dir: str | Path) -> list[tuple[int, Path, bool]]:
    """(step, folder, complete) for every checkpoint-N in output_dir, oldest first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child, has_state(child)))
    return sorted(found)


def has_state(folder: Path) -> bool:
    """Whether folder holds a whole trainer_state.json: a kill can land between open and write."""
    try:
        return "global_step" in json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return False


def last_complete_checkpoint(output_dir: str | Path) -> Path | None:
    # get_last_checkpoint takes the highest number even when a kill -9 cut its save short.
    complete = [path for _, path, done in checkpoints(output_dir) if done]
    return complete[-1] if complete else None


def is_finished(output_dir: str | Path) -> bool:
    return has_state(Path(output_dir))


def plan_resume(config) -> str | None:
    """Set config.resume_from_checkpoint from output_dir and return the line that says so.

    Raises AlreadyTrained for a finished output_dir, ConfigError for one that holds a model but
    no checkpoint (a run this code cannot continue: never overwritten)."""
    if config.resume_from_checkpoint:
        return f"resuming from {config.resume_from_checkpoint} (resume_from_checkpoint)"
    output_dir = Path(config.output_dir)
    if is_finished(output_dir):
        raise AlreadyTrained(
            f"{output_dir} already holds a finished model ({STATE_FILE}): nothing to train; "
            "pass a new --output_dir to train again"
        )
    last = last_complete_checkpoint(output_dir)
    partial = [path.name for step, path, done in checkpoints(output_dir) if not done]
    skipped = (
        f"; skipped {', '.join(partial)} (no whole {STATE_FILE}: cut short)" if partial else ""
    )
    if last is not None:
        config.resume_from_checkpoint = str(last)
        # Trainer then quietly starts Adam and the LR schedule over at the checkpoint's step.
        weights_only = "; save_only_model: weights only, the optimizer and LR schedule start over"
        warning = weights_only if getattr(config, "save_only_model", False) else ""
        return f"output_dir has checkpoints: resuming from {last}{skipped}{warning}"
    if any((output_dir / name).is_file() for name in MODEL_FILES):
        raise ConfigError(
            "output_dir",
            f"{output_dir} holds a model but no checkpoint to resume from: pass a new "
            "--output_dir (it is not overwritten)",
        )
    return (
        f"no complete checkpoint in output_dir{skipped}: training from step 0" if partial else None
    )


class StopOnSigterm(TrainerCallback):
    """Turn SIGTERM into 'save a checkpoint and stop' at the next optimizer step."""

    def __init__(self):
        self.signalled = False
        self.stopped_at: int | None = None

    def handle(self, _signum, _frame) -> None:
        # Only a flag: saving inside a signal handler could interrupt a step or a collective.
        self.signalled = True

    def on_step_end(self, args, state, control, **kwargs):
        if self._any_rank_signalled():
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control

    def _any_rank_signalled(self) -> bool:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return self.signalled
        # Ranks may see the signal a step apart; all must save the same step or they deadlock.
        flag = torch.tensor([int(self.signalled)], device=PartialState().device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())


def train(trainer) -> None:
    """trainer.train(), resuming from args.resume_from_checkpoint; Preempted after a SIGTERM."""
    stop = StopOnSigterm()
    trainer.add_callback(stop)
    previous = signal.signal(signal.SIGTERM, stop.handle)
    try:
        trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
    finally:
        signal.signal(signal.SIGTERM, previous)
        trainer.remove_callback(stop)
    if stop.stopped_at is not None:
        folder = os.path.join(trainer.args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{stop.stopped_at}")
        raise Preempted(
            f"SIGTERM: saved {folder} and stopped; rerun the same command to resume "
            f"(exit {PREEMPTED_EXIT})"
        )
