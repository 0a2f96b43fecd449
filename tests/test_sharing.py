"""Step sharing across budgets: every budget's output equals its separate run, for less work.

The fake model here is a deterministic function of the whole prefix (like greedy decoding), so
"the same as a separate run" is exact. The real-engine check is in tests/test_sweep_shared.py.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

import pytest

from s1_eval.core.forcing import force_generate, force_generate_many
from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.core.sharing import SharedSteps, StepStore, StoredStep, cut, signature
from s1_eval.core.steps import GenerationStep, StepResult
from tests.fake_engine import FakeTokenizer

STOP_EVERY = {"thinking": 11, "answer": 5}


class PrefixModel:
    """An engine whose next token depends only on the prefix; stops like vLLM (stop first)."""

    def __init__(self):
        self.tokenizer = FakeTokenizer()
        self.pending: list[tuple[Hashable, GenerationStep]] = []
        self.generated = 0

    def next_token(self, prefix: Sequence[int], phase: str) -> int:
        if len(prefix) % STOP_EVERY[phase] == 0:
            return 1 if phase == "thinking" else 2  # <|im_start|> ends thinking, EOS answers
        return 200 + ord("abcdefgh"[(sum(prefix[-3:]) + len(prefix)) % 8])

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self.pending.append((key, step))

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        key, step = self.pending.pop(0)
        return [(key, self._run(step))]

    def cancel(self) -> None:
        self.pending.clear()

    def _run(self, step: GenerationStep) -> StepResult:
        prefix, out = list(step.prompt_token_ids), []
        stops = set(step.stop_token_ids) | self.tokenizer.eos_token_ids
        while True:
            token = self.next_token(prefix, step.phase)
            if token in stops and len(out) < step.min_tokens:
                token = 200 + ord("z")
            prefix.append(token)
            out.append(token)
            self.generated += 1
            if token in stops:
                text = self.tokenizer.decode(out[:-1])
                return StepResult(tuple(out), text, "stop", token if token != 2 else None)
            if len(out) >= step.max_tokens:
                return StepResult(tuple(out), self.tokenizer.decode(out), "length")


CAPS = (3, 8, 12, 25, 40)
PROMPTS = ["Q1?", "Question two?", "3"]


def settings_for(cap: int, extra: dict) -> object:
    return parse_gen_kwargs({"max_tokens_thinking": cap, "max_gen_toks": 80, **extra}, preset="s1")


def separate_runs(extra: dict, caps=CAPS) -> tuple[list[list], int]:
    model = PrefixModel()
    prompts = [model.tokenizer.encode(p) for p in PROMPTS]
    outputs = [force_generate(model, prompts, settings_for(cap, extra)) for cap in caps]
    return outputs, model.generated


def shared_run(extra: dict, caps=CAPS, store=None) -> tuple[list[list], int, dict]:
    model = PrefixModel()
    prompts = [model.tokenizer.encode(p) for p in PROMPTS]
    engine = SharedSteps(model, store)
    batches = [(prompts, settings_for(cap, extra)) for cap in caps]
    return force_generate_many(engine, batches), model.generated, engine.stats


def as_records(outputs) -> list[list[tuple[str, dict]]]:
    return [[(str(text), text.trace.to_dict()) for text in batch] for batch in outputs]


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"},
        {"thinking_n_ignore": 3},  # suppression with nothing inserted
        {"temperature": 0.7, "seed": 5},  # seeded sampling is a function of its inputs too
    ],
    ids=["plain", "wait", "no-string", "seeded"],
)
def test_every_budget_equals_its_separate_run_for_fewer_tokens(extra):
    alone, alone_tokens = separate_runs(extra)
    shared, shared_tokens, stats = shared_run(extra)
    assert as_records(shared) == as_records(alone)
    assert any(t.trace.cap_fired for t in shared[0]) and not all(
        t.trace.cap_fired for t in shared[-1]
    )
    # the thinking of the largest budget covers every smaller one: only answers are extra
    _, largest_alone = separate_runs(extra, caps=CAPS[-1:])
    answers = sum(t.trace.answer_tokens + 1 for batch in shared[:-1] for t in batch)
    assert shared_tokens <= largest_alone + answers < alone_tokens, (shared_tokens, alone_tokens)
    assert stats["engine_steps"] < stats["asked"]


def test_unseeded_sampling_is_never_shared():
    model = PrefixModel()
    engine = SharedSteps(model)
    step = GenerationStep((5, 6), 4, parse_gen_kwargs({"temperature": 1.0}).sampling)
    engine.submit("a", step)
    engine.submit("b", step)
    results = engine.collect() + engine.collect()
    assert sorted(k for k, _ in results) == ["a", "b"]
    assert engine.stats["engine_steps"] == 2


def test_identical_steps_run_once():
    model = PrefixModel()
    engine = SharedSteps(model)
    step = GenerationStep((5, 6), 30, parse_gen_kwargs({}).sampling, phase="answer")
    engine.submit("a", step)
    engine.submit("b", step)
    results = dict(engine.collect())
    assert results["a"] == results["b"] and engine.stats["engine_steps"] == 1


class RefusingModel(PrefixModel):
    """Refuses every step, as a server answering HTTP 400."""

    def _run(self, step: GenerationStep) -> StepResult:
        return StepResult((), "", "error", error="HTTP 400: too long")


def test_a_refused_shared_step_ends_every_member_and_is_not_stored(tmp_path):
    store = StepStore(tmp_path / "steps.jsonl")
    engine = SharedSteps(RefusingModel(), store)
    sampling = parse_gen_kwargs({}).sampling
    engine.submit("a", GenerationStep((5, 6), 30, sampling))
    engine.submit("b", GenerationStep((5, 6), 10, sampling))
    results = dict(engine.collect())
    assert {k: r.finish_reason for k, r in results.items()} == {"a": "error", "b": "error"}
    assert engine.stats["engine_steps"] == 1
    assert not store.steps and not (tmp_path / "steps.jsonl").exists()


@pytest.mark.parametrize(
    ("stored", "asked", "max_tokens", "expected"),
    [
        (("wxyz", "length"), 4, 2, ("wx", "length")),  # a cut is a length finish
        (("wxyz", "length"), 4, 4, ("wxyz", "length")),
        (("wxyz", "length"), 4, 9, None),  # unknown past the stored tokens
        (("xyz", "length"), 9, 9, ("xyz", "length")),  # stopped short by the context
        (("xyz", "stop"), 3, 3, ("xyz", "stop")),  # a stop on the last allowed token
        (("xyz", "stop"), 3, 50, ("xyz", "stop")),
        (("xyz", "stop"), 3, 2, ("xy", "length")),
    ],
)
def test_cut(stored, asked, max_tokens, expected):
    tokenizer = FakeTokenizer()
    text, finish = stored
    entry = StoredStep(StepResult(tuple(tokenizer.encode(text)), text, finish), asked)
    result = cut(entry, max_tokens, tokenizer.decode)
    if expected is None:
        assert result is None
    else:
        assert (result.text, result.finish_reason) == expected


def test_a_later_run_only_generates_past_the_stored_thinking(tmp_path):
    store_file = tmp_path / "trajectories.jsonl"
    first, _, _ = shared_run({}, caps=(2, 3), store=StepStore(store_file))
    assert store_file.is_file() and any(t.trace.cap_fired for t in first[1])
    alone, _ = separate_runs({}, caps=(2, 3, 40))
    again, again_tokens, stats = shared_run({}, caps=(2, 3, 40), store=StepStore(store_file))
    assert as_records(again) == as_records(alone)
    assert as_records(again)[:2] == as_records(first)
    _, largest_alone_tokens = separate_runs({}, caps=(40,))
    assert 0 < again_tokens < largest_alone_tokens
    assert stats["from_store"] > 0
    # a third run with the same budgets generates nothing at all
    _, none_tokens, _ = shared_run({}, caps=(2, 3, 40), store=StepStore(store_file))
    assert none_tokens == 0


def test_a_torn_store_line_is_ignored(tmp_path):
    store_file = tmp_path / "trajectories.jsonl"
    shared_run({}, caps=(8,), store=StepStore(store_file))
    lines = store_file.read_text().splitlines()
    store_file.write_text("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])
    assert len(StepStore(store_file).steps) == len(lines)


def test_a_step_stored_after_a_torn_line_is_kept(tmp_path):
    store_file = tmp_path / "trajectories.jsonl"
    shared_run({}, caps=(8,), store=StepStore(store_file))
    lines = store_file.read_text().splitlines()
    store_file.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    store = StepStore(store_file)  # the killed run's last step is lost...
    assert len(store.steps) == len(lines) - 1
    row = json.loads(lines[-1])
    result = StepResult(tuple(row["token_ids"]), row["text"], row["finish_reason"], None)
    store.put(row["signature"], StoredStep(result, row["asked"]))  # ...and stored again
    assert len(StepStore(store_file).steps) == len(lines)


def test_continuing_across_a_stop_string_cuts_where_one_step_would_have_stopped():
    tokenizer = FakeTokenizer()
    sampling = parse_gen_kwargs({}).sampling

    class Scripted(PrefixModel):
        def _run(self, step):
            ids = tuple(tokenizer.encode("NSWER and more"))
            return StepResult(ids, "NSWER and more", "length")

    model = Scripted()
    store = StepStore()
    head = tuple(tokenizer.encode("think A"))
    step = GenerationStep((5,), 20, sampling, stop=("ANSWER",))
    store.put(signature(step), StoredStep(StepResult(head, "think A", "length"), 7))
    engine = SharedSteps(model, store)
    engine.submit("k", step)
    [(_, result)] = engine.collect()
    assert result.finish_reason == "stop" and result.stop_reason == "ANSWER"
    assert result.text == "think "
    assert tokenizer.decode(result.token_ids) == "think ANSWER"


def test_a_store_without_a_file_does_not_keep_every_token():
    model = PrefixModel()
    prompts = [model.tokenizer.encode(p) for p in PROMPTS]
    engine = SharedSteps(model)
    shared = force_generate_many(engine, [(prompts, settings_for(cap, {})) for cap in CAPS])
    alone, _ = separate_runs({})
    assert as_records(shared) == as_records(alone)
    assert engine.store.steps == {}


class LongModel(PrefixModel):
    """Never stops on its own: only the step's limit ends it."""

    def next_token(self, prefix: Sequence[int], phase: str) -> int:
        return 200 + ord("abcdefgh"[(sum(prefix[-3:]) + len(prefix)) % 8])


def test_a_greedy_step_answers_the_narrowest_limit_first_then_continues_for_the_wider():
    model = LongModel()
    engine = SharedSteps(model)
    sampling = parse_gen_kwargs({}).sampling
    engine.submit("wide", GenerationStep((5, 6), 30, sampling))
    engine.submit("narrow", GenerationStep((5, 6), 10, sampling))
    first = engine.collect()
    # the narrow budget moves on after 10 generated tokens, not after the wide one's 30
    assert [key for key, _ in first] == ["narrow"] and model.generated == 10
    [(key, wide)] = engine.collect()
    assert key == "wide" and model.generated == 30 and engine.stats["engine_steps"] == 2
    alone = LongModel()._run(GenerationStep((5, 6), 30, sampling))
    assert wide == alone and first[0][1].token_ids == alone.token_ids[:10]


def test_engine_capped_budgets_are_never_cut_from_each_other():
    """thinking_cap_by=engine: the engine closes the thinking at each budget inside one request,
    so a wider budget's output says nothing of a narrower one's: each runs on its own."""
    from s1_eval.core.settings import PRESETS
    from s1_eval.engines.scripted import ScriptedEngine

    question = "<|im_start|>user\nWhat is 4 + 4? needs 30 thinking tokens<|im_end|>\n"
    caps = (8, 20, 60)

    def batches(engine):
        prompt = engine.tokenizer.encode(question + "<|im_start|>assistant\n")
        extra = {"thinking_cap_by": "engine"}
        return [([prompt], settings_for(cap, extra)) for cap in caps]

    alone = [force_generate_many(ScriptedEngine(PRESETS["s1"]), [b])[0] for b in batches(
        ScriptedEngine(PRESETS["s1"]))]  # fmt: skip
    engine = ScriptedEngine(PRESETS["s1"])
    shared = force_generate_many(SharedSteps(engine), batches(engine))
    assert as_records(shared) == as_records(alone)
    assert [t.trace.thinking_tokens for [t] in shared] == [8, 20, 30]
    assert [t.trace.cap_fired for [t] in shared] == [True, True, False]
