"""Data parallel for ``s1_vllm`` (``data_parallel_size=N``): N copies of the vLLM engine as Ray
actors, as lm-eval's own vllm backend runs them, each running the whole forcing loop on its share.

    pool = ReplicaPool.start(2, functools.partial(VLLMEngine.load, "path/to/model"), tokenizer)
    for batch, index, text in pool.forced_stream(batches, share=True): ...

Request ``i`` of every batch goes to replica ``i % N`` (interleaved, like upstream, so context
lengths balance; a sweep's cells of one document meet on one replica and share their steps).
Before a batch is split, its cap is resolved on the whole batch (``auto`` depends on the longest
prompt) and every request keeps its place in the batch, which seeds its sampling: greedy and
seeded runs give exactly what one engine gives, in the original order. Texts stream back as
they finish, so a killed run keeps what was done (a sweep's step store stays in each replica's
memory: a resumed sweep redoes unfinished cells from their start). On a CPU each replica is
pinned to its own cores; on GPUs Ray hands each replica ``tensor_parallel_size`` of them.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from s1_eval.budget import AUTO, GenerationSettings
from s1_eval.forcing import forced_stream
from s1_eval.forcing_plan import plan_batch
from s1_eval.messages import InputError
from s1_eval.trace import ForcedText

INSTALL_HINT = "data_parallel_size > 1 runs replicas as Ray workers: pip install 's1-eval[ray]'"

Batches = Sequence[tuple[Sequence[Sequence[int]], GenerationSettings]]
#: one replica's share: its batches (each with its cap resolved) and each request's place
Share = tuple[list[tuple[list[Sequence[int]], GenerationSettings]], list[list[int]]]


def import_ray():
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return ray


def deal(tokenizer: Any, batches: Batches, replicas: int) -> list[Share]:
    """Split every batch round-robin over ``replicas``, caps resolved on the whole batch."""
    shares: list[Share] = [([], []) for _ in range(replicas)]
    for prompts, settings in batches:
        if settings.forcing.max_tokens_thinking == AUTO:
            cap = plan_batch(tokenizer, prompts, settings).cap
            settings = replace(settings, forcing=replace(settings.forcing, max_tokens_thinking=cap))
        for rank, (share_batches, positions) in enumerate(shares):
            places = list(range(rank, len(prompts), replicas))
            share_batches.append(([prompts[i] for i in places], settings))
            positions.append(places)
    return shares


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

    def stream(self, share: Share, share_steps: bool):
        from s1_eval.sharing import SharedSteps

        batches, positions = share
        engine = SharedSteps(self.engine, None) if share_steps else self.engine
        yield from forced_stream(engine, batches, positions)
        self.sharing = dict(engine.stats) if share_steps else {}

    def sharing_stats(self) -> dict[str, int]:
        return self.sharing


class ReplicaPool:
    """N started replicas; to the lm-eval backend it is an engine that runs whole batches."""

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

    def forced_stream(self, batches: Batches, share: bool) -> Iterator[tuple[int, int, ForcedText]]:
        """``forcing.forced_stream`` over the replicas: ``(batch, index, text)`` as each ends."""
        import ray

        shares = deal(self.tokenizer, batches, len(self.actors))
        finished: queue.Queue = queue.Queue()

        def drain(rank: int) -> None:
            try:
                stream = self.actors[rank].stream.options(num_returns="streaming")
                for ref in stream.remote(shares[rank], share):
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
