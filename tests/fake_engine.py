"""A scripted engine and tokenizer for deterministic tests of the forcing loop.

    engine = FakeEngine({0: ["thinking one<EOS>", "more<EOS>", "answer 42<EOS>"]})

Each request key has a queue of continuations; every step consumes the next one and the
engine applies the step's limits the way vLLM does: max_tokens (finish "length"), stop token
ids and EOS (finish "stop", the token kept in token_ids, dropped from text), stop strings (text
cut before the stop, token ids up to the token that completed it), min_tokens (EOS and stop ids
skipped while too short).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence

from s1_eval.core.steps import GenerationStep, StepResult

SPECIAL = {"<EOS>": 2, "<|im_start|>": 1}
PIECES = ["ab", "Final", "Wait"]  # multi-character tokens, to test stops inside a token
OOV = 5000  # an id beyond vocab_size: what a padded embedding can sample


class FakeTokenizer:
    vocab_size = 1000
    eos_token_ids = frozenset({2})

    def __init__(self):
        self.piece_ids = {p: 100 + i for i, p in enumerate(PIECES)}
        self.by_id = {v: k for k, v in {**SPECIAL, **self.piece_ids}.items()}

    def encode(self, text: str) -> list[int]:
        ids, i = [], 0
        tokens = sorted([*SPECIAL, *PIECES], key=len, reverse=True)
        while i < len(text):
            for token in tokens:
                if text.startswith(token, i):
                    ids.append({**SPECIAL, **self.piece_ids}[token])
                    i += len(token)
                    break
            else:
                ids.append(200 + ord(text[i]))
                i += 1
        return ids

    def decode(self, token_ids: Sequence[int]) -> str:
        # like real tokenizers, ids past the vocabulary decode to nothing
        known = (t for t in token_ids if t < self.vocab_size)
        return "".join(self.by_id.get(t, chr(t - 200) if t >= 200 else "") for t in known)


def _script_key(key: Hashable) -> Hashable:
    """force_generate_many keys requests (batch, index); scripts are keyed by index."""
    return key[-1] if isinstance(key, tuple) else key


class FakeEngine:
    def __init__(self, scripts: dict[Hashable, list[str | list[int]]], order: str = "fifo"):
        self.tokenizer = FakeTokenizer()
        self.scripts = {k: deque(v) for k, v in scripts.items()}
        self.order = order  # "fifo" or "shortest" (finish the cheapest step first)
        self.pending: list[tuple[Hashable, GenerationStep]] = []
        self.steps: list[tuple[Hashable, GenerationStep]] = []  # every submitted step
        self.log: list[tuple[str, Hashable]] = []  # ("submit"|"finish", key) in order

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self.pending.append((key, step))
        self.steps.append((key, step))
        self.log.append(("submit", _script_key(key)))

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        if self.order == "shortest":
            self.pending.sort(key=lambda item: len(self._peek(item[0])))
        key, step = self.pending.pop(0)
        script = self.scripts[_script_key(key)].popleft()
        self.log.append(("finish", _script_key(key)))
        return [(key, self._run(script, step))]

    def cancel(self) -> None:
        self.pending.clear()

    def _peek(self, key: Hashable) -> str | list[int]:
        return self.scripts[_script_key(key)][0]

    def _run(self, script: str | list[int], step: GenerationStep) -> StepResult:
        wanted = self.tokenizer.encode(script) if isinstance(script, str) else list(script)
        stop_ids = set(step.stop_token_ids) | self.tokenizer.eos_token_ids
        out: list[int] = []
        for token in wanted:
            if token in stop_ids and len(out) < step.min_tokens:
                continue
            out.append(token)
            if token in stop_ids:
                text = self.tokenizer.decode(out[:-1])
                stop = token if token in step.stop_token_ids else None
                return StepResult(tuple(out), text, "stop", stop)
            text = self.tokenizer.decode(out)
            for stop in step.stop:
                if stop in text:
                    return StepResult(tuple(out), text[: text.index(stop)], "stop", stop)
            if len(out) >= step.max_tokens:
                return StepResult(tuple(out), text, "length")
        # a script that runs out behaves like a model that keeps rambling: pad to the limit
        while len(out) < step.max_tokens:
            out.append(200 + ord("."))
        return StepResult(tuple(out), self.tokenizer.decode(out), "length")
