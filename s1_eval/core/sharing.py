"""Step sharing: an Engine wrapper that generates each distinct step once, for every budget.

    engine = SharedSteps(engine, store=StepStore("runs/x/trajectories.jsonl"))

Budget forcing decides each step from the request's own tokens, so requests that differ only
in ``max_tokens_thinking`` send the same steps (same prompt ids, sampling, stops) with different
``max_tokens`` until one of them reaches its cap. This wrapper runs such steps as one generation
and derives each from it: the first ``m`` tokens of a longer greedy (or seeded) generation are
what an ``m``-token step returns, and a step that stopped earlier stopped the same way. A greedy
generation stops at the narrowest limit first and is continued for the wider ones, so each
budget moves on to its answer when its own cap is reached (a seeded one runs the widest limit).
Identical steps (the answer phase of budgets whose thinking ended below both caps) run once.
The forcing state machines are unchanged: each budget still makes its own decisions, so its
response and trace are those of a separate run.

Every result lands in a ``StepStore``; with a file it is appended at once, so a killed run loses
no generated token, and a later run with a larger budget continues the stored thinking instead
of generating it again (greedy only: a seeded sampler cannot resume mid-stream, so those steps
are regenerated). Unseeded sampling is never shared: two draws must stay independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, replace
from pathlib import Path

from s1_eval.common.files import append_jsonl, read_jsonl
from s1_eval.core.steps import Engine, GenerationStep, StepResult


def shareable(step: GenerationStep) -> bool:
    """A step's output is a function of its inputs: greedy, or sampled with a fixed seed."""
    return step.sampling.greedy or step.sampling.seed is not None


def signature(step: GenerationStep) -> str:
    """Everything that decides a step's output except its length limit."""
    fields = (
        step.prompt_token_ids,
        step.sampling,
        step.stop,
        step.stop_token_ids,
        step.min_tokens,
        step.phase,
    )
    if step.control is not None:  # only then, so the signatures of stored trajectories hold
        fields += (step.control,)
    if step.thinking_token_budget is not None:  # the engine's cap: each budget its own output
        fields += (("thinking_token_budget", step.thinking_token_budget),)
    return hashlib.sha256(repr(fields).encode()).hexdigest()


@dataclass(frozen=True)
class StoredStep:
    """The longest output generated so far for one signature; ``asked`` was its max_tokens."""

    result: StepResult
    asked: int

    @property
    def length(self) -> int:
        return len(self.result.token_ids)

    def complete(self) -> bool:
        """True when a longer limit would not change it (a stop, or the context was full)."""
        return self.result.finish_reason == "stop" or self.length < self.asked


class StepStore:
    """Step outputs by signature, in memory and, given a path, appended to a JSONL file.

    Data-parallel replica ``r`` appends to its own file beside it (``<stem>.replica<r>.jsonl``:
    processes never append to one file); every store reads them all, so a sweep resumes from
    the steps of any replica, with or without data parallel."""

    def __init__(self, path: str | Path | None = None, replica: int | None = None):
        self.path = Path(path) if path is not None else None
        self.steps: dict[str, StoredStep] = {}
        self.write_path = self.path
        if self.path is None:
            return
        stem, suffix = self.path.stem, self.path.suffix
        if replica is not None:
            self.write_path = self.path.with_name(f"{stem}.replica{replica}{suffix}")
        for file in [self.path, *sorted(self.path.parent.glob(f"{stem}.replica*{suffix}"))]:
            if file.is_file():
                self._load(file)

    def _load(self, path: Path) -> None:
        # skip_bad: a line cut short by a killed run is lost, the rest still count
        for _, row in read_jsonl(path, skip_bad=True):
            try:
                result = StepResult(
                    tuple(row["token_ids"]), row["text"], row["finish_reason"], row["stop_reason"]
                )
                self._keep(row["signature"], StoredStep(result, int(row["asked"])))
            except (ValueError, KeyError, TypeError):
                continue  # a row from another version of this file

    def _keep(self, sig: str, entry: StoredStep) -> bool:
        old = self.steps.get(sig)
        if old is not None and (old.complete() or old.length >= entry.length):
            return False
        self.steps[sig] = entry
        return True

    def put(self, sig: str, entry: StoredStep) -> None:
        if not self._keep(sig, entry) or self.write_path is None:
            return
        # appended, not rewritten: the store grows with every step of a long sweep
        append_jsonl(
            self.write_path, {"signature": sig, "asked": entry.asked, **_result_row(entry.result)}
        )

    def get(self, sig: str) -> StoredStep | None:
        return self.steps.get(sig)

    def forget(self, sigs) -> None:
        """Drop entries of a store without a file (it would otherwise hold every token)."""
        if self.path is None:
            for sig in sigs:
                self.steps.pop(sig, None)


def _result_row(result: StepResult) -> dict:
    return {
        "token_ids": list(result.token_ids),
        "text": result.text,
        "finish_reason": result.finish_reason,
        "stop_reason": result.stop_reason,
    }


def cut(entry: StoredStep, max_tokens: int, decode) -> StepResult | None:
    """What a ``max_tokens`` step returns, derived from a stored output; None if unknown.

    Engines check stop tokens before the length limit (vLLM's ``check_stop``), so an output
    that stopped on exactly its last allowed token is a stop for that limit too.
    """
    result = entry.result
    if max_tokens < entry.length:
        ids = result.token_ids[:max_tokens]
        return StepResult(ids, decode(ids), "length", None)
    if max_tokens == entry.length or entry.complete():
        return result
    return None


@dataclass
class _Group:
    """One engine step serving every waiting request with the same signature."""

    sig: str
    step: GenerationStep  # as asked by the member it runs for (narrowest, if greedy)
    waiting: list[tuple[Hashable, GenerationStep]]
    prefix: StoredStep | None = None  # when continuing a stored output


class SharedSteps:
    """Wraps an ``Engine``; same protocol. ``stats`` counts what the inner engine generated."""

    def __init__(self, engine: Engine, store: StepStore | None = None):
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.store = store if store is not None else StepStore()
        self._queued: list[tuple[Hashable, GenerationStep]] = []
        self._ready: list[tuple[Hashable, StepResult]] = []
        self._groups: dict[int, _Group] = {}
        self._in_flight: dict[str, int] = {}
        self._next_group = 0
        self._answered: list[str] = []
        self.stats = {"asked": 0, "engine_steps": 0, "generated_tokens": 0, "from_store": 0}

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self.stats["asked"] += 1
        self._queued.append((key, step))

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        while True:
            self._flush()
            if self._ready:
                ready, self._ready = self._ready, []
                return ready
            for inner_key, result in self.engine.collect():
                self._finished(inner_key, result)

    def cancel(self) -> None:
        self._queued.clear()
        self._ready.clear()
        self._groups.clear()
        self._in_flight.clear()
        self.engine.cancel()

    # -- scheduling -------------------------------------------------------------------------
    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        wanted: dict[str, list[tuple[Hashable, GenerationStep]]] = {}
        for key, step in queued:
            if not shareable(step):
                self._send(("alone", key), step)
                continue
            sig = signature(step)
            stored = self.store.get(sig)
            result = cut(stored, step.max_tokens, self.tokenizer.decode) if stored else None
            if result is not None:
                self.stats["from_store"] += 1
                self._ready.append((key, result))
            elif sig in self._in_flight:  # answered (or extended) when that step returns
                self._groups[self._in_flight[sig]].waiting.append((key, step))
            else:
                wanted.setdefault(sig, []).append((key, step))
        for sig, members in wanted.items():
            limits = [step for _, step in members]
            stored = self.store.get(sig)
            greedy = limits[0].sampling.greedy
            # greedy: stop at the narrowest member's limit first and continue the stored
            # output for the wider ones, so each budget's next phase starts when its own
            # limit is reached, not when the widest one's is; a seeded sampler cannot
            # continue mid-stream, so it runs the widest limit at once
            chosen = (min if greedy else max)(limits, key=lambda s: s.max_tokens)
            group = _Group(sig, chosen, members)
            step = chosen
            if stored is not None and greedy and stored.length > 0:
                # continue the stored output: only the tokens past it are generated
                group.prefix = stored
                ids = stored.result.token_ids
                step = replace(
                    chosen,
                    prompt_token_ids=chosen.prompt_token_ids + ids,
                    max_tokens=chosen.max_tokens - len(ids),
                    min_tokens=max(0, chosen.min_tokens - len(ids)),
                )
            index = self._next_group
            self._next_group += 1
            self._groups[index] = group
            self._in_flight[sig] = index
            self._send(("group", index), step)
        # the members a finished step was shared with have just been answered; later steps
        # with its signature are rare (they would find it in a file store)
        self.store.forget(self._answered)
        self._answered.clear()

    def _send(self, inner_key: tuple, step: GenerationStep) -> None:
        self.stats["engine_steps"] += 1
        self.engine.submit(inner_key, step)

    def _finished(self, inner_key: tuple, result: StepResult) -> None:
        self.stats["generated_tokens"] += len(result.token_ids)
        kind, key = inner_key
        if kind == "alone":
            self._ready.append((key, result))
            return
        group = self._groups.pop(key)
        del self._in_flight[group.sig]
        if result.finish_reason == "error":
            # never stored (a rerun may succeed); every member ends with the engine's refusal
            self._ready.extend((member, result) for member, _ in group.waiting)
            return
        if group.prefix is not None:
            result = self._joined(group, result)
        self.store.put(group.sig, StoredStep(result, group.step.max_tokens))
        self._answered.append(group.sig)
        # re-resolved against the store; a member that needs more is queued again
        self._queued.extend(group.waiting)

    def _joined(self, group: _Group, tail: StepResult) -> StepResult:
        """A stored output and its continuation as the one step a fresh engine would run.

        The engine could not see a stop string that began inside the stored part, so look for
        stop strings across the seam and cut there, as a single step would have stopped.
        """
        head = group.prefix.result
        ids = head.token_ids + tail.token_ids
        decode = self.tokenizer.decode
        head_text = decode(head.token_ids)
        seam_text = head_text + decode(tail.token_ids)
        hits = [
            (seam_text.find(stop, max(0, len(head_text) - len(stop) + 1)), stop)
            for stop in group.step.stop
        ]
        hits = [(at, stop) for at, stop in hits if 0 <= at < len(head_text)]
        if hits:
            at, stop = min(hits)
            for n in range(len(head.token_ids) + 1, len(ids) + 1):
                if stop in decode(ids[:n])[max(0, at - 1) :]:
                    return StepResult(ids[:n], seam_text[:at], "stop", stop)
        return StepResult(ids, head_text + tail.text, tail.finish_reason, tail.stop_reason)
