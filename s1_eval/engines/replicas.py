"""Data parallel for ``s1_vllm`` (``data_parallel_size=N``): N copies of the vLLM engine as Ray
actors, as lm-eval's own vllm backend runs them, each running the whole forcing loop on its share.

    pool = ReplicaPool.start(2, functools.partial(VLLMEngine.load, "path/to/model"), tokenizer)
    for batch, index, text in pool.run_batches(planned, share_steps=True, store=None): ...

Request ``i`` of every batch goes to replica ``i % N`` (interleaved, like upstream, so context
lengths balance; a sweep's cells of one document meet on one replica and share their steps).
Before a batch is split, its cap is resolved on the whole batch (``auto`` depends on the longest
prompt) and every request keeps its place in the batch, which seeds its sampling: greedy and
seeded runs give exactly what one engine gives, in the original order. Texts stream back as
they finish, so a killed run keeps what was done; with a sweep's step store each replica
appends its steps to its own file beside it (one machine or a shared file system), and a
resumed sweep continues from them as the in-process one does. On a CPU each replica is
pinned to its own cores; on GPUs Ray hands each replica ``tensor_parallel_size`` of them.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from s1_eval.common.errors import InputError
from s1_eval.core.forcing import PlannedBatch, forced_stream
from s1_eval.core.sharing import SharedSteps, StepStore
from s1_eval.trace import ForcedText

INSTALL_HINT = "data_parallel_size > 1 runs replicas as Ray workers: pip install 's1-eval[ray]'"

#: one replica's share: its part of every planned batch and each request's place in the batch
Share = tuple[list[PlannedBatch], list[list[int]]]


def import_ray():
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return ray


def deal(planned: Sequence[PlannedBatch], replicas: int) -> list[Share]:
    """Split every planned batch round-robin over ``replicas``; each share keeps the whole
    batch's plan (its cap: ``auto`` depends on the longest prompt of all)."""
    shares: list[Share] = [([], []) for _ in range(replicas)]
    for prompts, plan in planned:
        for rank, (share_batches, positions) in enumerate(shares):
            places = list(range(rank, len(prompts), replicas))
            share_batches.append(([prompts[i] for i in places], plan.share(places)))
            positions.append(places)
    return shares


def _without_tokenizer(share: Share) -> Share:
    """A share as sent to its replica, which decodes with its own engine's tokenizer."""
    batches, positions = share
    return [(prompts, replace(plan, tokenizer=None)) for prompts, plan in batches], positions


def cpu_binding(rank: int, replicas: int, cores: int) -> dict[str, str]:
    """Environment that pins replica ``rank`` to its own cores (vLLM's CPU build binds its
    OpenMP threads as told), so N replicas do not fight over the same ones."""
    per = max(1, cores // replicas)
    first = (rank * per) % cores
    last = min(first + per, cores) - 1
    return {
        "VLLM_CPU_OMP_THREADS_BIND": f"{first}-{last}",
        "OMP_NUM_THREADS": str(last - first + 1),
    }


class _Replica:
    """One engine in its own Ray worker; ``stream`` runs the forcing loop on a share."""

    def __init__(self, load: Callable[[], Any]):
        # a driver's vLLM data-parallel settings would make this single engine compute a rank
        for name in [n for n in os.environ if n.startswith("VLLM_DP_")]:
            del os.environ[name]
        self.engine = load()
        self.sharing: dict[str, int] = {}

    def ready(self) -> bool:
        return True

    def stream(self, share: Share, share_steps: bool, store_path: str | None, rank: int):
        batches, positions = share
        own = [
            (prompts, replace(plan, tokenizer=self.engine.tokenizer)) for prompts, plan in batches
        ]
        store = StepStore(store_path, replica=rank) if store_path else None
        engine = SharedSteps(self.engine, store) if share_steps else self.engine
        yield from forced_stream(engine, own, positions)
        self.sharing = dict(engine.stats) if share_steps else {}

    def sharing_stats(self) -> dict[str, int]:
        return self.sharing


class ReplicaPool:
    """N started replicas: a ``BatchRunner`` (``s1_eval.core.runner``) whose replicas each run
    the forcing loop on their share of every batch, each with its own file of the step store."""

    def __init__(self, actors: list[Any], tokenizer: Any):
        self.actors = actors
        self.tokenizer = tokenizer

    @classmethod
    def start(
        cls, replicas: int, load: Callable[[], Any], tokenizer: Any, gpus_per_replica: int = 1
    ) -> ReplicaPool:
        """``load`` (picklable) builds one engine; it runs in each of ``replicas`` workers."""
        ray = import_ray()
        gpus = _cuda_devices()
        if gpus and gpus < replicas * gpus_per_replica:
            raise InputError(
                f"data_parallel_size={replicas} needs {replicas * gpus_per_replica} GPUs "
                f"({gpus_per_replica} per replica) but {gpus} are visible: lower "
                "data_parallel_size or tensor_parallel_size."
            )
        if not ray.is_initialized():
            ray.init(include_dashboard=False, configure_logging=False)
        cores = os.cpu_count() or 1
        actors = []
        for rank in range(replicas):
            if gpus:
                options: dict[str, Any] = {"num_gpus": gpus_per_replica}
            else:  # no CPU reservation: N replicas on fewer cores share them instead of waiting
                env = cpu_binding(rank, replicas, cores)
                options = {"num_cpus": 0, "runtime_env": {"env_vars": env}}
            actors.append(ray.remote(_Replica).options(**options).remote(load))
        ray.get([actor.ready.remote() for actor in actors])  # the replicas load side by side
        return cls(actors, tokenizer)

    def run_batches(
        self, planned: Sequence[PlannedBatch], share_steps: bool, store: StepStore | None = None
    ) -> Iterator[tuple[int, int, ForcedText]]:
        """``forcing.forced_stream`` over the replicas: ``(batch, index, text)`` as each ends."""
        import ray

        shares = deal(planned, len(self.actors))
        store_path = str(store.path) if store is not None and store.path is not None else None
        finished: queue.Queue = queue.Queue()

        def drain(rank: int) -> None:
            try:
                stream = self.actors[rank].stream.options(num_returns="streaming")
                payload = _without_tokenizer(shares[rank])
                for ref in stream.remote(payload, share_steps, store_path, rank):
                    batch, index, text = ray.get(ref)
                    finished.put((batch, shares[rank][1][batch][index], text))
                finished.put(None)
            except BaseException as error:  # re-raised in the caller's thread
                finished.put(error)

        threads = [
            threading.Thread(target=drain, args=(r,), daemon=True) for r in range(len(shares))
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        while running:
            item = finished.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    @property
    def stats(self) -> dict[str, int]:
        """The replicas' sharing counts, summed."""
        import ray

        total: dict[str, int] = {}
        for counts in ray.get([actor.sharing_stats.remote() for actor in self.actors]):
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        return total


def _cuda_devices() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # no torch, or a CPU build
        return 0
