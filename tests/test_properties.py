"""Invariants of the forcing core, checked on random settings with the scripted engine.

The scripted engine (``s1_eval.engines.scripted``) is a deterministic toy model whose next
token is a function of the text so far, so every property below is exact. The default
hypothesis profile keeps each property to a few seconds (tests/conftest.py); run
``pytest tests/test_properties.py --hypothesis-profile long`` for a long search. A failing
example found by either is kept as a plain test at the end of this file.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from lm_eval.utils import simple_parse_args_string

from s1_eval.common.errors import InputError
from s1_eval.core.forcing import force_generate, force_generate_many
from s1_eval.core.s1_format import PRESETS
from s1_eval.core.settings import ACCEPTED_KEYS, GenerationSettings, parse_gen_kwargs
from s1_eval.core.sharing import SharedSteps, StepStore
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.scripted import ScriptedEngine, ScriptedTokenizer
from s1_eval.grading.grade import Grade, grade_choice, grade_math, start_worker

TOKENIZER = ScriptedTokenizer()
IGNORE_WORDS = ("Wait", "Hmm", "Alternatively", " Wait,")

# -- strategies ----------------------------------------------------------------------------


@st.composite
def prompts(draw) -> list[list[int]]:
    """1-3 questions, each saying how much thinking it needs (1-300 tokens)."""
    count = draw(st.integers(1, 3))
    texts = [
        f"Question {i} (needs {draw(st.integers(1, 300))} thinking tokens): what is "
        f"{draw(st.integers(0, 99))} + {draw(st.integers(0, 99))}?\nAnswer:"
        for i in range(count)
    ]
    return [TOKENIZER.encode(text) for text in texts]


@st.composite
def gen_kwargs(draw, *, loop_guard: bool = True, rejection: bool = True) -> dict:
    """Valid forcing gen_kwargs: any cap, k, ignore strings, minimum, sampling, answer cap."""
    cap = draw(st.one_of(st.none(), st.integers(1, 300)))
    kwargs: dict = {"max_tokens_thinking": "none" if cap is None else cap}
    kwargs["max_gen_toks"] = draw(st.integers(1, 700))
    if draw(st.booleans()):
        kwargs["thinking_n_ignore"] = draw(st.integers(0, 4))
    words = draw(st.lists(st.sampled_from(IGNORE_WORDS), max_size=3))
    if words:
        kwargs["thinking_n_ignore_str"] = words
    if draw(st.booleans()):
        kwargs["min_tokens_thinking"] = draw(st.integers(0, cap if cap is not None else 50))
    if draw(st.booleans()):
        kwargs["temperature"] = draw(st.sampled_from([0.5, 1.0]))
        kwargs["seed"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        kwargs["max_tokens_answer"] = draw(st.integers(1, 60))
    if loop_guard and draw(st.booleans()):
        kwargs["thinking_loop_guard"] = draw(st.sampled_from(["8:2", "20:3", "40:2"]))
    if rejection and cap is not None and "temperature" in kwargs and draw(st.booleans()):
        kwargs["rejection_sample"] = True
        kwargs["rejection_max_tries"] = draw(st.integers(1, 4))
    return kwargs


engines = st.builds(
    lambda preset, patience, wait: (preset, ScriptedEngine(PRESETS[preset], patience, wait)),
    st.sampled_from(sorted(PRESETS)),
    st.integers(1, 300),
    st.integers(0, 100),
)


class Recording:
    """The engine, with every step and its result kept per request key."""

    def __init__(self, engine):
        self.engine, self.tokenizer = engine, engine.tokenizer
        self.steps: dict[Hashable, list[tuple[GenerationStep, StepResult]]] = {}
        self.pending: dict[Hashable, GenerationStep] = {}

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self.pending[key] = step
        self.engine.submit(key, step)

    def collect(self):
        done = self.engine.collect()
        for key, result in done:
            self.steps.setdefault(key, []).append((self.pending.pop(key), result))
        return done


def run(engine_and_preset, prompt_ids, kwargs, recorder=None):
    preset, engine = engine_and_preset
    if preset == "plain":  # its stop is several tokens: a minimum is refused (forcing_plan)
        kwargs = {k: v for k, v in kwargs.items() if k != "min_tokens_thinking"}
    settings = parse_gen_kwargs(kwargs, preset=preset)
    return force_generate(recorder or engine, prompt_ids, settings), settings


# -- the forcing loop ----------------------------------------------------------------------


@given(engines, prompts(), gen_kwargs())
def test_thinking_never_exceeds_its_cap_and_suppressions_never_exceed_k(engine, ids, kwargs):
    outputs, settings = run(engine, ids, kwargs)
    cap, k = settings.forcing.max_tokens_thinking, settings.forcing.thinking_n_ignore or 0
    for text in outputs:
        trace = text.trace
        if cap is not None:
            assert trace.thinking_tokens <= cap and trace.max_tokens_thinking == cap
        assert 0 <= trace.suppressions <= k
        assert len(trace.inserted) == trace.suppressions


def closing_variants(settings: GenerationSettings) -> list[str]:
    d = settings.forcing.delimiters
    capped = d.cap_message + d.thinking_end + d.cap_suffix
    return ["\n" + capped, capped, d.thinking_end]


@given(engines, prompts(), gen_kwargs(loop_guard=False))
def test_inserted_strings_appear_exactly_where_the_trace_says(engine, ids, kwargs):
    """The thinking is, step by step, what each thinking step generated followed by the
    string the trace says was inserted after it; the response is that thinking between the
    opening and the closing text, then the answer."""
    recorder = Recording(engine[1])
    outputs, settings = run(engine, ids, kwargs, recorder)
    opening = settings.forcing.delimiters.thinking_start
    for index, text in enumerate(outputs):
        trace, steps = text.trace, recorder.steps[(0, index)]
        assert text.startswith(opening)
        head = text[len(opening) : trace.answer_start]
        # the closing text: the cap's (after a newline unless the thinking ended with one) or
        # the plain delimiter; the thinking's token count tells the two newlines apart
        candidates = [head[: -len(c)] for c in closing_variants(settings) if head.endswith(c)]
        candidates = [t for t in candidates if len(TOKENIZER.encode(t)) == trace.thinking_tokens]
        assert candidates, (head, trace)
        thinking = candidates[0]
        thinking_steps = [(s, r) for s, r in steps if s.phase == "thinking"]
        prefix = thinking_steps[0][0].prompt_token_ids
        # the last try of rejection sampling starts again from the prompt
        last_try = max(i for i, (s, _) in enumerate(thinking_steps) if s.prompt_token_ids == prefix)
        tried = thinking_steps[last_try:]
        so_far = [TOKENIZER.decode(s.prompt_token_ids[len(prefix) :]) for s, _ in tried]
        assert len(trace.inserted) in (len(tried) - 1, len(tried))
        for i, inserted in enumerate(trace.inserted):
            generated = tried[i][1].text
            expected = so_far[i] + generated + inserted
            if i + 1 < len(tried):
                assert so_far[i + 1] == expected
            else:  # the inserted string filled the budget and closed the thinking
                assert thinking == expected
        if len(trace.inserted) < len(tried):  # the last step's thinking ended it
            rest = thinking[len(so_far[-1]) :]
            assert thinking.startswith(so_far[-1]) and tried[-1][1].text.startswith(rest)
        answer_steps = [r for s, r in steps if s.phase == "answer"]
        assert text[trace.answer_start :] == (answer_steps[-1].text if answer_steps else "")


# -- a shared sweep, and resuming one ------------------------------------------------------


@st.composite
def sweeps(draw):
    caps = draw(st.lists(st.integers(1, 200), min_size=2, max_size=4, unique=True))
    extra = draw(gen_kwargs(loop_guard=False, rejection=False))
    extra.pop("max_tokens_thinking")
    extra.pop("min_tokens_thinking", None)  # may exceed a smaller cap
    patience, wait = draw(st.integers(1, 250)), draw(st.integers(0, 80))
    return caps, extra, patience, wait, draw(prompts())


def sweep_batches(caps, extra, ids):
    return [(ids, parse_gen_kwargs({**extra, "max_tokens_thinking": cap})) for cap in caps]


def records(outputs) -> list:
    return [[(str(text), text.trace.to_dict()) for text in batch] for batch in outputs]


@given(sweeps())
def test_a_shared_sweep_equals_independent_cells(sweep):
    caps, extra, patience, wait, ids = sweep
    alone = [
        force_generate(ScriptedEngine(PRESETS["s1"], patience, wait), ids, settings)
        for _, settings in sweep_batches(caps, extra, ids)
    ]
    shared_engine = SharedSteps(ScriptedEngine(PRESETS["s1"], patience, wait))
    shared = force_generate_many(shared_engine, sweep_batches(caps, extra, ids))
    assert records(shared) == records(alone)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the killed pass."""


class KilledAfter:
    """The engine, killed after ``steps`` finished steps."""

    def __init__(self, engine, steps: int):
        self.engine, self.tokenizer, self.left = engine, engine.tokenizer, steps

    def submit(self, key, step):
        self.engine.submit(key, step)

    def collect(self):
        if self.left <= 0:
            raise Killed
        done = self.engine.collect()
        self.left -= len(done)
        return done

    def cancel(self):
        self.engine.cancel()


@given(sweeps(), st.integers(0, 60), st.integers(0, 200), st.data())
def test_resume_after_a_kill_at_any_step_equals_an_uninterrupted_run(
    tmp_path_factory, sweep, steps, torn, data
):
    """Killed after any number of engine steps, its store's last line maybe torn: the rerun
    with the same store gives what an uninterrupted run gives."""
    caps, extra, patience, wait, ids = sweep
    folder = tmp_path_factory.mktemp("store")
    store_path = folder / "trajectories.jsonl"
    whole = force_generate_many(
        SharedSteps(ScriptedEngine(PRESETS["s1"], patience, wait)), sweep_batches(caps, extra, ids)
    )
    killed = SharedSteps(
        KilledAfter(ScriptedEngine(PRESETS["s1"], patience, wait), steps), StepStore(store_path)
    )
    try:
        force_generate_many(killed, sweep_batches(caps, extra, ids))
    except Killed:
        tear(store_path, torn)
    resumed = SharedSteps(ScriptedEngine(PRESETS["s1"], patience, wait), StepStore(store_path))
    again = force_generate_many(resumed, sweep_batches(caps, extra, ids))
    assert records(again) == records(whole)


def tear(path: Path, cut: int) -> None:
    """A kill mid-write: the last line loses up to ``cut`` bytes (never its newline alone)."""
    if not path.is_file():
        return
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: max(last, len(data) - cut)])


# -- gen_kwargs parsing --------------------------------------------------------------------

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
    st.sampled_from(["auto", "none", "off", "true", "false", "20:3", "1:1", "x:y", "", " "]),
)
keys = st.one_of(st.sampled_from(sorted(ACCEPTED_KEYS)), st.text(min_size=1, max_size=12))


def assert_parses_or_names_a_key(kwargs: dict) -> None:
    try:
        parse_gen_kwargs(kwargs)
    except InputError as error:
        named = [key for key in kwargs if str(key) in str(error) or repr(key) in str(error)]
        assert named, (kwargs, str(error))


@given(st.dictionaries(keys, values, max_size=5))
def test_any_gen_kwargs_either_parse_or_fail_with_a_message_naming_a_key(kwargs):
    assert_parses_or_names_a_key(kwargs)


gen_kwargs_text = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(sorted(ACCEPTED_KEYS)), st.text(max_size=8)),
        st.one_of(st.text(max_size=10), st.integers().map(str), st.sampled_from(["1.5", "-0"])),
    ),
    max_size=4,
).map(lambda pairs: ",".join(f"{k}={v}" for k, v in pairs))


@given(st.one_of(gen_kwargs_text, st.text(max_size=40)))
def test_any_gen_kwargs_string_either_parses_or_fails_with_a_message_naming_a_key(text):
    """As the command line hands it over: lm-eval's own parser, then ours."""
    try:
        kwargs = simple_parse_args_string(text)
    except Exception:  # lm-eval's parser refused it: lm-eval's error, not ours
        assume(False)
    assert_parses_or_names_a_key(kwargs)


# -- grading -------------------------------------------------------------------------------

TIMEOUT_S = 2.0
#: what a call may take beyond its timeout: the round trip to the worker process, on two
#: shared cores
SLACK_S = 3.0

MATH_PIECES = ["\\boxed{", "}", "{", "\\frac", "\\sqrt", "^", "_", "(", ")", "[", "]", "$", "\\(",
               "1", "2", "9", "0", ".", ",", "-", "+", "x", "=", " ", "\n", "Answer:",
               "Final Answer:", "<|im_start|>answer", "</think>", "\\infty", "\\pi", "\\left",
               "\\right", "∞", "√", "²", "\\text{", "A", "(B)", "\\dfrac", "e", "!", "%", "\\\\",
               "\x00"]  # fmt: skip
math_text = st.lists(st.one_of(st.sampled_from(MATH_PIECES), st.characters()), max_size=40).map(
    "".join
)


@pytest.fixture(scope="module")
def grading_worker():
    start_worker()
    grade_math("\\boxed{1}", "1", timeout=60)  # waits for the worker's first start


@given(response=math_text, gold=st.one_of(math_text, st.sampled_from(["1", "\\frac{1}{2}"])))
def test_the_grader_returns_within_its_timeout_for_any_string_and_never_raises(
    grading_worker, response, gold
):
    for grade in (grade_math, lambda r, g, timeout: grade_choice(r, "B", timeout=timeout)):
        began = time.monotonic()
        result = grade(response, gold, timeout=TIMEOUT_S)
        assert isinstance(result, Grade)
        assert time.monotonic() - began < TIMEOUT_S + SLACK_S


# -- failing examples the properties found, kept as plain tests ----------------------------


def test_an_ignore_string_cut_by_the_cap_is_recorded_as_cut():
    """Thinking stops one token under the cap: only "W" of "Wait" fits before the cap closes
    it, and the trace must say "W" was inserted (it said "Wait")."""
    engine = ScriptedEngine(PRESETS["s1"], patience=5, wait_tokens=0)
    prompt = TOKENIZER.encode("Question (needs 5 thinking tokens): what is 1 + 1?\nAnswer:")
    kwargs = {"max_tokens_thinking": 6, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait"}
    [text] = force_generate(engine, [prompt], parse_gen_kwargs(kwargs))
    assert (text.trace.thinking_tokens, text.trace.cap_fired) == (6, True)
    assert text.trace.inserted == ("W",)
    assert text.thinking.startswith("<|im_start|>think\nLet W\n")


@pytest.mark.parametrize("text", ["max_tokens=", "max_tokens=0", "max_tokens=many"])
def test_a_bad_max_tokens_is_named_as_given_not_as_max_gen_toks(text):
    """lm-eval vllm's spelling of max_gen_toks: its error named max_gen_toks, a key the
    user never wrote."""
    kwargs = simple_parse_args_string(text)
    with pytest.raises(InputError, match=r"^max_tokens=.* is invalid: expected an integer >= 1"):
        parse_gen_kwargs(kwargs)


def test_an_empty_until_thinking_2_is_named_as_given():
    """Its error named until_thinking, which the user had not given."""
    with pytest.raises(InputError, match=r"^until_thinking_2 contains an empty string"):
        parse_gen_kwargs(simple_parse_args_string("until_thinking_2="))
