"""A sweep's pending cells in one engine pass, sharing the thinking their budgets have in common.

    outcomes = run_cells_shared(lm, config, pending, "runs/x", task_manager, log=print)

Three steps. (1) Each cell is evaluated once with a recording model that only collects the
requests lm-eval builds (prompts and gen_kwargs; nothing is generated or written). (2) All of
them go to the backend's ``generate_many`` at once: every cell is planned as its own
``generate_until`` would plan it, and ``s1_eval.core.sharing`` runs each common step once, so a
budget's thinking is the largest budget's thinking cut at its cap. (3) As soon as the last
request of a cell finishes, the cell is evaluated again with a model that replays its outputs,
and written by ``sweep.run_cell`` exactly like a cell that ran alone (same files, same traces).
Every generated step is appended to the run folder's trajectory store, so a killed pass keeps
its work and a later sweep with a larger budget only generates past the stored thinking. The
seconds of each step land in a ``PassTimes`` (logged at the end; the sweep benchmark reads it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval.api.model import LM

from s1_eval.core.sharing import StepStore
from s1_eval.runs.folder import TRAJECTORIES_FILE, Setting
from s1_eval.sweep.cell import CellOutcome, describe_cell, evaluate_cell, run_cell


@dataclass
class PassTimes:
    """Wall seconds of a shared pass per step, added up (one clock read per cell, no more).

    ``record``: lm-eval building every cell's requests with the recording model;
    ``generate``: the engine pass, without the cells written while it runs; ``write``:
    replaying each finished cell through lm-eval and writing its files.
    """

    record: float = 0.0
    generate: float = 0.0
    write: float = 0.0

    def describe(self) -> str:
        return (
            f"recording {self.record:.1f} s, generating {self.generate:.1f} s, "
            f"writing cells {self.write:.1f} s"
        )


def can_share(lm) -> bool:
    """Only s1-eval's own backends can run several cells in one pass."""
    return hasattr(lm, "generate_many") and getattr(lm, "share_steps", False)


class _Delegating(LM):
    """An lm-eval model that answers chat-template questions like the real one."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        return self.lm.apply_chat_template(chat_history, add_generation_prompt)

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.lm.chat_template(chat_template)

    @property
    def tokenizer_name(self) -> str:
        return self.lm.tokenizer_name

    def loglikelihood(self, requests):
        return self.lm.loglikelihood(requests)

    def loglikelihood_rolling(self, requests):
        return self.lm.loglikelihood_rolling(requests)


class RecordingLM(_Delegating):
    """Collects ``generate_until`` requests and answers each with an empty string."""

    def __init__(self, lm):
        super().__init__(lm)
        self.requests: list = []

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        self.requests.extend(requests)
        return [""] * len(requests)


class ReplayLM(_Delegating):
    """Returns outputs generated earlier for exactly these requests, in lm-eval's order."""

    replays_a_shared_pass = True

    def __init__(self, lm, requests: Sequence, outputs: Sequence[str]):
        super().__init__(lm)
        self.expected = [r.args for r in requests]
        self.outputs = list(outputs)
        self.gen_kwargs: dict[str, Any] = dict(requests[0].args[1]) if requests else {}

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        args = [r.args for r in requests]
        if args != self.expected:  # lm-eval builds a cell's requests deterministically
            raise RuntimeError("a cell's requests changed between recording and replay")
        return self.outputs

    def get_model_info(self) -> dict[str, Any]:
        info = dict(self.lm.get_model_info())
        record = self.lm.settings_record(self.gen_kwargs)
        return {**info, "s1_forcing": record, "s1_forcing_runs": [record]}


@contextlib.contextmanager
def _without_env_info():
    """Recording results are thrown away: skip lm-eval's environment report (pip list,
    ``torch.utils.collect_env``), about 0.4 s of subprocesses per cell."""
    import lm_eval.evaluator as evaluator

    original = getattr(evaluator, "add_env_info", None)
    if original is None:
        yield
        return
    evaluator.add_env_info = lambda *args, **kwargs: None
    try:
        yield
    finally:
        evaluator.add_env_info = original


def _named_like(lm, base: type) -> type:
    # simple_evaluate records type(model).__name__ as the model: keep the real backend's name
    return type(type(lm).__name__, (base,), {})


def run_cells_shared(
    lm,
    config,
    pending: Sequence[tuple[str, Setting]],
    output: Path,
    task_manager,
    log: Callable[[str], None] = print,
    times: PassTimes | None = None,
) -> list:
    """Run ``pending`` cells in one pass (module docstring); ``times`` gets its seconds."""
    times = times if times is not None else PassTimes()
    recorded = _record_requests(lm, config, pending, task_manager, times)
    total = sum(len(r) for r in recorded)
    log(f"generating {total} requests of {len(pending)} cells in one pass (shared thinking)")
    cells = _CellWriter(lm, config, pending, recorded, output, task_manager, log, times)
    for which, requests in enumerate(recorded):
        if not requests:  # nothing to generate (a task with no documents)
            cells.write(which)
    store = StepStore(output / TRAJECTORIES_FILE)
    written_before = times.write
    clock = time.perf_counter()
    lm.generate_many(recorded, on_done=cells.done, store=store)
    # cells are written from inside the pass (as each finishes): count them once, as writing
    times.generate += time.perf_counter() - clock - (times.write - written_before)
    if lm.last_sharing:
        _log_sharing(lm.last_sharing, times, log)
    return cells.outcomes


def _record_requests(lm, config, pending, task_manager, times: PassTimes) -> list[list]:
    """Each cell's requests, as lm-eval asks them, without generating anything."""
    recorded = []
    clock = time.perf_counter()
    with _without_env_info():
        for task, setting in pending:
            recorder = RecordingLM(lm)
            evaluate_cell(recorder, config, task, setting, task_manager)
            recorded.append(recorder.requests)
    times.record += time.perf_counter() - clock
    return recorded


class _CellWriter:
    """Collects a pass's responses and writes each cell the moment its last one arrives."""

    def __init__(self, lm, config, pending, recorded, output, task_manager, log, times):
        self.lm, self.config, self.pending, self.recorded = lm, config, pending, recorded
        self.output, self.task_manager, self.log, self.times = output, task_manager, log, times
        self.outputs = [[""] * len(requests) for requests in recorded]
        self.remaining = [len(requests) for requests in recorded]
        self.outcomes: list = []
        self.started = time.time()
        self.replay = _named_like(lm, ReplayLM)

    def done(self, which: int, index: int, text: str) -> None:
        self.outputs[which][index] = text
        self.remaining[which] -= 1
        if self.remaining[which] == 0:
            self.write(which)

    def write(self, which: int) -> None:
        task, setting = self.pending[which]
        clock = time.perf_counter()
        player = self.replay(self.lm, self.recorded[which], self.outputs[which])
        folder = run_cell(player, self.config, task, setting, self.output, self.task_manager)
        seconds = time.perf_counter() - clock
        self.times.write += seconds
        self.outcomes.append(CellOutcome(task, setting, folder, "done", seconds))
        self.log(
            f"[{len(self.outcomes)}/{len(self.pending)}] {task} {setting.name}: "
            f"{describe_cell(folder)} ({time.time() - self.started:.0f} s into the pass)"
        )


def _log_sharing(stats: dict[str, int], times: PassTimes, log: Callable[[str], None]) -> None:
    log(
        f"shared pass: {stats['asked']} steps asked, {stats['engine_steps']} generated, "
        f"{stats['from_store']} from the store; {stats['generated_tokens']} tokens generated; "
        + times.describe()
    )
