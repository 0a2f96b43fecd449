"""Who runs a pass of planned batches through the forcing loop: one engine in this process
(``LocalRunner``), or data-parallel replicas that each run the loop on a share of every batch
(``s1_eval.engines.replicas.ReplicaPool``). Backends talk to this one interface.

    runner = as_runner(engine)
    for batch, index, text in runner.run_batches(planned, share_steps=True, store=None): ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from s1_eval.core.forcing import PlannedBatch, forced_stream
from s1_eval.core.sharing import SharedSteps, StepStore
from s1_eval.core.steps import Engine
from s1_eval.trace import ForcedText


@runtime_checkable
class BatchRunner(Protocol):
    """Runs planned batches; yields ``(batch, index, text)`` as each request finishes.
    ``stats`` counts what step sharing saved in the last run (None without sharing)."""

    def run_batches(
        self, planned: Sequence[PlannedBatch], share_steps: bool, store: StepStore | None
    ) -> Iterator[tuple[int, int, ForcedText]]: ...

    @property
    def stats(self) -> dict[str, int] | None: ...


class LocalRunner:
    """The forcing loop on one engine, with step sharing (and a step store) when asked."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._shared: SharedSteps | None = None

    def run_batches(
        self, planned: Sequence[PlannedBatch], share_steps: bool, store: StepStore | None
    ) -> Iterator[tuple[int, int, ForcedText]]:
        self._shared = SharedSteps(self.engine, store) if share_steps else None
        yield from forced_stream(self._shared or self.engine, planned)

    @property
    def stats(self) -> dict[str, int] | None:
        return self._shared.stats if self._shared else None


def as_runner(engine: Engine | BatchRunner) -> BatchRunner:
    """An engine's runner: a runner as it is, an engine wrapped in a ``LocalRunner``."""
    return engine if isinstance(engine, BatchRunner) else LocalRunner(engine)
