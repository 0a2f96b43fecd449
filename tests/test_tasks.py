"""Tests for the task YAMLs and their Python: loading through lm-eval, offline data, GPQA shuffle,
the fields every sample row carries, and parallel-scaling metrics.

    pytest tests/test_tasks.py            # offline data: tests/fixtures/data (real slices)
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import datasets
import pytest

from s1_eval.tasks import benchmarks, prompts, scoring
from s1_eval.tasks.datafiles import DataFileError
from s1_eval.tasks.demo.arithmetic import generate_problems
from s1_eval.trace import SAMPLE_FIELDS, TRACE, ForcedText, Trace, flat_row, row_value

REPO = Path(__file__).resolve().parents[1]
#: the YAML generator, a developer script outside the package
_spec = importlib.util.spec_from_file_location("build_yamls", REPO / "scripts" / "build_yamls.py")
build_yamls = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_yamls)
#: a data folder as users lay it out: MATH-500 and AIME 2024 slices, invented GPQA rows
DATA = Path(__file__).resolve().parent / "fixtures" / "data"
FORK_TASKS = [t.name for t in benchmarks.TASKS.values() if t.style == "fork"]
S1_TASKS = [t.name for t in benchmarks.TASKS.values() if t.style == "s1"]
OUR_TASKS = [
    *S1_TASKS,
    "s1_demo_arithmetic",
    *[benchmarks.sampling_name(t, n) for t in S1_TASKS for n in benchmarks.SAMPLING_NS],
    *FORK_TASKS,
]
ROW_FIELDS = {
    "exact_match",
    "extracted_answer",
    "grading_failure",
    "answer_source",
    "trace_tokens",
    "has_trace",
    *SAMPLE_FIELDS,
}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="module")
def task_manager():
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False)  # the startup hook adds our folder


def _load(task_manager, names, monkeypatch, data_dir):
    monkeypatch.setenv(benchmarks.DATA_DIR_ENV, str(data_dir))
    return task_manager.load(names)["tasks"]


def _forced(text_before: str, answer: str, **trace_fields) -> ForcedText:
    values = dict(thinking_tokens=120, answer_tokens=7, max_tokens_thinking=512)
    values.update(trace_fields)
    return ForcedText(text_before + answer, Trace(answer_start=len(text_before), **values))


# ---------------------------------------------------------------------------------------------
# YAMLs
# ---------------------------------------------------------------------------------------------


def test_yamls_match_their_generator():
    for path, text in build_yamls.expected_files().items():
        assert path.is_file(), f"{path} missing: run python scripts/build_yamls.py"
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale"


def test_every_task_yaml_is_a_task_of_the_one_table():
    """A YAML written by hand, or a second table of tasks, shows up here: each benchmark task's
    name and data come from benchmarks.TASKS, so reports and plots know its benchmark."""
    names = re.compile(r"^task: *(\S+) *$", re.MULTILINE)
    hub = re.compile(r"^dataset_path: *(\S+) *$", re.MULTILINE)
    demos = set(build_yamls.DEMO_YAMLS)
    seen = set()
    for path in sorted((REPO / "tasks").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"^group:", text, re.MULTILINE):
            continue  # the group lists tasks; its members are checked below
        (name,) = names.findall(text)
        seen.add(name)
        if name in demos:
            continue
        task = benchmarks.find_task(name)
        assert task is not None, f"{path.name}: {name} is not in s1_eval.tasks.benchmarks.TASKS"
        assert hub.findall(text) == [task.data.hub_path], path.name
    assert seen >= set(OUR_TASKS) | set(benchmarks.GROUP_TASKS)


def test_paper_benchmark_of_our_tasks_and_lm_evals():
    paper = benchmarks.paper_benchmark
    assert paper("s1_aime24") == paper("s1_aime24_n64") == paper("aime24_nofigures") == "AIME24"
    assert paper("s1_math500") == paper("openai_math") == "MATH500"  # the fork's MATH-500 copy
    assert paper("s1_gpqa_diamond_n8") == paper("gpqa_diamond_openai") == "GPQA-Diamond"
    assert paper("s1_aime25") is paper("aime25_nofigures") is paper("s1_demo_counting") is None
    # lm-eval's own tasks on the same problems, by name
    assert paper("aime24") == "AIME24" and paper("minerva_math500") == "MATH500"
    assert paper("gpqa_diamond_cot_zeroshot") == "GPQA-Diamond"
    assert paper("gsm8k") is None and paper("aime25") is None
    assert benchmarks.GROUP_TASKS == ("s1_aime24", "s1_math500", "s1_gpqa_diamond")


def test_only_scores_are_higher_is_better(task_manager, monkeypatch, data_dir):
    tasks = _load(task_manager, ["s1_math500", "s1_gpqa_diamond_n8"], monkeypatch, data_dir)
    greedy = tasks["s1_math500"].higher_is_better()
    assert greedy == {"exact_match": True, "thinking_tokens": None, "no_answer": None, TRACE: None}
    sampled = tasks["s1_gpqa_diamond_n8"].higher_is_better()
    assert all(sampled[f"{m}@{k}"] is True for m in ("pass", "maj") for k in (1, 2, 4, 8))
    assert sampled["exact_match"] is True and sampled["thinking_tokens"] is None
    assert set(sampled) == {"exact_match", "thinking_tokens", "no_answer", TRACE} | {
        f"{m}@{k}" for m in ("pass", "maj") for k in (1, 2, 4, 8)
    }


def test_task_names_resolve(task_manager):
    known = set(task_manager.all_tasks)
    assert set(OUR_TASKS) <= known
    assert benchmarks.GROUP in known


@pytest.mark.slow
def test_names_do_not_collide_with_upstream():
    import lm_eval.tasks

    upstream = Path(lm_eval.tasks.__file__).parent
    names = re.compile(r"^(?:task|group|tag):\s*(\S+)", re.MULTILINE)
    taken = set()
    for path in upstream.rglob("*.yaml"):
        taken.update(names.findall(path.read_text(encoding="utf-8", errors="ignore")))
    assert not (set(OUR_TASKS) | {benchmarks.GROUP}) & taken


def test_group_runs_all_three(task_manager, monkeypatch, data_dir):
    loaded = _load(task_manager, [benchmarks.GROUP], monkeypatch, data_dir)
    assert set(loaded) == {"s1_aime24", "s1_math500", "s1_gpqa_diamond"}


def test_greedy_generation_settings_follow_s1(task_manager, monkeypatch, data_dir):
    tasks = _load(task_manager, ["s1_gpqa_diamond"], monkeypatch, data_dir)
    kwargs = tasks["s1_gpqa_diamond"].config.generation_kwargs
    assert kwargs["until"] == [] and kwargs["do_sample"] is False
    assert kwargs["max_gen_toks"] == 32768


# ---------------------------------------------------------------------------------------------
# Offline data
# ---------------------------------------------------------------------------------------------


def test_offline_loading_through_lm_eval(task_manager, monkeypatch, data_dir):
    tasks = _load(
        task_manager, ["s1_math500", "s1_aime24", "s1_gpqa_diamond"], monkeypatch, data_dir
    )
    sizes = {name: len(list(task.test_docs())) for name, task in tasks.items()}
    assert sizes == {"s1_math500": 8, "s1_aime24": 5, "s1_gpqa_diamond": 6}
    aime = tasks["s1_aime24"]
    doc = next(iter(aime.test_docs()))
    assert aime.doc_to_text(doc) == doc["problem"] and doc["problem"].startswith("Every morning")
    assert aime.doc_to_target(doc) == "204"


def test_per_task_file_env_and_metadata(task_manager, monkeypatch, tmp_path):
    from lm_eval.tasks import TaskManager

    monkeypatch.delenv(benchmarks.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("S1_EVAL_AIME24_FILE", str(DATA / "aime24.jsonl"))
    tasks = task_manager.load(["s1_aime24"])["tasks"]
    assert len(list(tasks["s1_aime24"].test_docs())) == 5

    monkeypatch.delenv("S1_EVAL_AIME24_FILE")
    with_metadata = TaskManager(
        include_defaults=False,
        metadata={"s1_data_dir": str(DATA), "revision": "x", "seed": 0},
    )
    tasks = with_metadata.load(["s1_math500"])["tasks"]
    assert len(list(tasks["s1_math500"].test_docs())) == 8


def test_a_task_manager_for_our_tasks_indexes_lm_evals_own_folder_only_when_needed():
    """Our commands (sweep, verify, submit) name their tasks up front: ours alone are found
    without lm-eval's ~14,000 bundled YAMLs; one of lm-eval's own brings in its whole index."""
    from s1_eval.tasks.manager import task_manager_for

    ours = task_manager_for(["s1_aime24", "s1_demo_counting"])
    assert {"s1_aime24", "s1_demo_counting"} <= set(ours.all_tasks)
    assert "gsm8k" not in ours.all_tasks and len(ours.all_tasks) < 200
    with_lm_evals = task_manager_for(["s1_aime24", "gsm8k"])
    assert {"s1_aime24", "gsm8k"} <= set(with_lm_evals.all_tasks)


def test_configured_folder_without_the_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(benchmarks.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataFileError, match="S1_EVAL_MATH500_FILE"):
        benchmarks.load_math500()


def test_hub_fallback_uses_the_pinned_revision_not_a_model_revision(monkeypatch):
    calls = []
    monkeypatch.delenv(benchmarks.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("S1_EVAL_MATH500_FILE", raising=False)
    monkeypatch.setattr(
        datasets,
        "load_dataset",
        lambda *a, **k: calls.append((a, k)) or datasets.Dataset.from_list([{"x": 1}]),
    )
    benchmarks.load_math500(revision="model-rev", seed=0, pretrained="m", version=1.0)
    ((args, kwargs),) = calls
    assert args == ("HuggingFaceH4/MATH-500", None)
    assert kwargs == {"split": "test", "revision": benchmarks.SOURCES["math500"].revision}
    benchmarks.load_math500(s1_dataset_revision="abc")
    assert calls[-1][1]["revision"] == "abc"


def test_csv_files_load(tmp_path):
    rows = [json.loads(line) for line in (DATA / "gpqa_diamond.jsonl").open()]
    path = tmp_path / "gpqa.csv"
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    loaded = benchmarks.load_gpqa_diamond(s1_data_file=str(path), version=1.0, revision="main")
    assert loaded["test"]["Question"] == [row["Question"] for row in rows]


# ---------------------------------------------------------------------------------------------
# GPQA shuffle
# ---------------------------------------------------------------------------------------------


def _fixture_docs() -> datasets.Dataset:
    raw = benchmarks.load_gpqa_diamond(s1_data_file=str(DATA / "gpqa_diamond.jsonl"))["test"]
    return prompts.process_gpqa_docs(raw)


def test_gpqa_shuffle_is_deterministic_and_gold_letter_is_right():
    first, second = _fixture_docs(), _fixture_docs()
    assert first.to_list() == second.to_list()
    raw = [json.loads(line) for line in (DATA / "gpqa_diamond.jsonl").open()]
    letters = []
    for doc, row in zip(first, raw, strict=True):
        gold_choice = doc[f"choice{'ABCD'.index(doc['answer']) + 1}"]
        assert gold_choice == row["Correct Answer"].strip()
        letters.append(doc["answer"])
    assert len(set(letters)) > 1  # really shuffled, not "always A"
    # the seed depends on the question only, not on the row's position
    assert prompts.gpqa_shuffle_seed(raw[0]["Question"]) == prompts.gpqa_shuffle_seed(
        raw[0]["Question"] + "  "
    )


def test_gpqa_prompt_lists_choices_and_asks_for_a_letter():
    doc = _fixture_docs()[0]
    prompt = prompts.gpqa_doc_to_text(doc)
    assert "'Answer: $LETTER'" in prompt
    for index, letter in enumerate("ABCD", start=1):
        assert f"\n{letter}) {doc[f'choice{index}']}" in prompt
    docs = _fixture_docs()
    assert not any("[title]" in doc[f"choice{i}"] for doc in docs for i in range(1, 5))


# ---------------------------------------------------------------------------------------------
# The s1 fork's task names
# ---------------------------------------------------------------------------------------------


def _fork_data_dir(tmp_path: Path) -> Path:
    for name in ("math500.jsonl", "aime24.jsonl", "gpqa_diamond.jsonl"):
        (tmp_path / name).symlink_to(DATA / name)
    for stand_in in ("aime24_figures.jsonl", "aime25.jsonl"):  # no offline copy: same schema
        (tmp_path / stand_in).symlink_to(DATA / "aime24.jsonl")
    return tmp_path


def test_fork_tasks_keep_the_forks_data_prompts_and_budgets(task_manager, monkeypatch, tmp_path):
    for name in prompts.FORK_MATH_CONTROLS:
        monkeypatch.delenv(name, raising=False)
    tasks = _load(task_manager, [*FORK_TASKS, "s1_aime25"], monkeypatch, _fork_data_dir(tmp_path))
    hub = {name: task.config.dataset_path for name, task in tasks.items()}
    assert hub == {
        "aime24_figures": "simplescaling/aime24_figures",
        "aime24_nofigures": "simplescaling/aime24_nofigures",
        "aime25_nofigures": "TIGER-Lab/AIME25",
        "s1_aime25": "TIGER-Lab/AIME25",
        "openai_math": "simplescaling/openaimath",
        "gpqa_diamond_openai": "Idavidrein/gpqa",
    }
    budgets = {name: task.config.generation_kwargs["max_gen_toks"] for name, task in tasks.items()}
    assert budgets["openai_math"] == 2048 and budgets["gpqa_diamond_openai"] == 1024
    assert budgets["aime24_figures"] == budgets["aime25_nofigures"] == 32768
    for name in ("aime24_nofigures", "openai_math"):
        doc = next(iter(tasks[name].test_docs()))
        assert tasks[name].doc_to_text(doc) == doc["problem"]  # the fork's '{Question}'
    gpqa = tasks["gpqa_diamond_openai"]
    doc = next(iter(gpqa.test_docs()))
    choices = "\n".join(f"{letter}) {doc[f'choice{i}']}" for i, letter in enumerate("ABCD", 1))
    assert gpqa.doc_to_text(doc) == f"{doc['Question']}\n\n{choices}"
    gold = doc[f"choice{'ABCD'.index(doc['answer']) + 1}"]
    row = gpqa.process_results(doc, [f"t</think>Answer: {doc['answer']}"])
    assert row["exact_match"] == 1 and gold


def test_fork_gpqa_choices_stay_as_written(tmp_path):
    row = {"Question": "Q?", "Correct Answer": " right [title] ", "Incorrect Answer 1": "w1",
           "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"}  # fmt: skip
    raw = datasets.Dataset.from_list([row])
    fork = prompts.process_fork_gpqa_docs(raw)[0]
    ours = prompts.process_gpqa_docs(raw)[0]
    assert " right [title] " in [fork[f"choice{i}"] for i in range(1, 5)]
    assert "right. " in [ours[f"choice{i}"] for i in range(1, 5)]
    assert fork["answer"] == ours["answer"]  # same per-question seed


@pytest.mark.parametrize(
    ("env", "math_suffix", "gpqa_suffix"),
    [
        ({}, "", ""),
        ({"PROMPTTOKEN": "2048"}, "\n\nThink for up to 2048 tokens.", None),
        ({"PROMPTSTEP": "16"}, "\n\nThink for up to 16 steps.", None),
        # the fork's precedence differs per task family: math prefers STEP, GPQA prefers TOKEN
        ({"PROMPTSTEP": "16", "PROMPTTOKEN": "64"}, "\n\nThink for up to 16 steps.",
         "\n\nThink for up to 64 tokens."),
        ({"PROMPTSHORT": "true"}, "\n\nAnswer after a short amount of thinking. Do not spend "
         "excessive time double-checking your work.", None),
    ],
)  # fmt: skip
def test_fork_prompt_conditional_control_env(monkeypatch, env, math_suffix, gpqa_suffix):
    for name in prompts.FORK_MATH_CONTROLS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert prompts.fork_math_doc_to_text({"problem": "P"}) == "P" + math_suffix
    doc = {"Question": "Q", "choice1": "a", "choice2": "b", "choice3": "c", "choice4": "d"}
    expected = "Q\n\nA) a\nB) b\nC) c\nD) d" + (math_suffix if gpqa_suffix is None else gpqa_suffix)
    assert prompts.fork_gpqa_doc_to_text(doc) == expected
    # our own tasks never read these variables
    assert prompts.math_doc_to_text({"problem": "P"}) == "P"


# ---------------------------------------------------------------------------------------------
# Sample rows
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_trace", [True, False])
def test_math_row_has_every_field(with_trace):
    doc = {"problem": "1+1?", "answer": "2"}
    thinking = "<|im_start|>think\n1+1=2\n<|im_start|>answer\n"
    response = (
        _forced(thinking, "\\boxed{2}", suppressions=2, cap_fired=True)
        if with_trace
        else (thinking + "\\boxed{2}")
    )
    written = scoring.process_math_results(doc, [response])
    # lm-eval's table shows the top level: the score, thinking tokens and the no-answer share
    # when known, the trace
    known = ["thinking_tokens", "no_answer"] if with_trace else []
    top = ["exact_match", *known, TRACE]
    assert list(written) == top
    row = flat_row(written)
    assert set(row) == ROW_FIELDS
    assert row["exact_match"] == 1 and row["extracted_answer"] == "2"
    assert row["grading_failure"] == ""
    if with_trace:
        assert row["has_trace"] == 1 and row["thinking_tokens"] == 120
        assert row["suppressions"] == 2 and row["cap_fired"] == 1
        assert row["answer_source"] == "answer_phase"
    else:
        assert row["has_trace"] == 0
        assert all(row[name] == -1 for name in SAMPLE_FIELDS)
        assert row["answer_source"] == "after_delimiter"
    for name in ("exact_match", "has_trace", *SAMPLE_FIELDS):
        assert isinstance(row[name], (int, float)), name


def test_uncapped_trace_field_is_numeric():
    row = scoring.process_math_results(
        {"answer": "2"}, [_forced("x</think>", "2", max_tokens_thinking=None)]
    )
    assert row[TRACE]["max_tokens_thinking"] == -1  # kept out of the table's means


def test_unparseable_response_scores_zero_with_reason():
    row = scoring.process_gpqa_results({"answer": "C"}, ["I am not sure at all"])
    assert (row["exact_match"], row_value(row, "grading_failure")) == (0, "no_answer")


def test_rows_through_the_task_object(task_manager, monkeypatch, data_dir):
    tasks = _load(task_manager, ["s1_math500", "s1_gpqa_diamond"], monkeypatch, data_dir)
    math = tasks["s1_math500"]
    doc = next(iter(math.test_docs()))
    row = math.process_results(doc, [_forced("t</think>", "\\boxed{(3, \\pi/2)}")])
    assert row["exact_match"] == 1 and set(row) == set(math._metric_fn_list)
    assert math.aggregation()[TRACE]([row[TRACE]]) == 1.0  # the share of traced samples
    gpqa = tasks["s1_gpqa_diamond"]
    doc = next(iter(gpqa.test_docs()))
    row = gpqa.process_results(doc, [f"Thinking...</think>Answer: {doc['answer']}"])
    # no trace: no thinking_tokens or no_answer to average into the table
    assert row["exact_match"] == 1 and set(row) == set(gpqa._metric_fn_list) - {
        "thinking_tokens",
        "no_answer",
    }


# ---------------------------------------------------------------------------------------------
# Parallel scaling
# ---------------------------------------------------------------------------------------------


def test_sampling_ks():
    assert scoring.sampling_ks(8) == [1, 2, 4, 8]
    assert scoring.sampling_ks(6) == [1, 2, 4, 6]
    assert scoring.sampling_ks(1) == [1]


def test_majority_ties_go_to_the_earliest_and_blanks_do_not_vote():
    keys, correct = ["7", "5", "5", "7", ""], [False, True, True, False, False]
    assert scoring.majority_correct(keys, correct, 2) == 0  # 7 vs 5 tie: 7 came first
    assert scoring.majority_correct(keys, correct, 3) == 1
    assert scoring.majority_correct(["", ""], [False, False], 2) == 0


def test_math_samples_vote_on_equivalent_answers():
    doc = {"answer": "\\frac{1}{2}"}
    texts = ["\\boxed{3}", "\\boxed{0.5}", "\\boxed{1/2}", "\\boxed{3}", "\\boxed{\\frac12}"]
    responses = [_forced("t</think>", text, thinking_tokens=10 * i) for i, text in enumerate(texts)]
    written = scoring.process_math_samples(doc, [responses])
    assert list(written) == scoring.table_metrics(5)
    row = flat_row(written)
    assert row["n_correct"] == 3 and row["exact_match"] == 0
    assert row["maj@1"] == 0 and row["maj@5"] == 1  # 0.5, 1/2, 1/2 outvote 3, 3
    assert row["cov@2"] == 1 and row["pass@1"] == pytest.approx(3 / 5)
    assert row["thinking_tokens"] == pytest.approx(20.0)
    assert row["thinking_tokens_each"] == [0, 10, 20, 30, 40]


def test_gpqa_samples_without_traces():
    written = scoring.process_gpqa_samples(
        {"answer": "B"}, [["Answer: B", "Answer: C", "(B)", "?"]]
    )
    assert "thinking_tokens" not in written  # unknown: not averaged into the table
    row = flat_row(written)
    assert row["sample_correct"] == [1, 0, 1, 0] and row["maj@4"] == 1
    assert row["pass@2"] == pytest.approx(1 - 1 / 6)  # unbiased: 1 - C(2,2)/C(4,2)
    assert row["thinking_tokens"] == -1 and row["grading_failures"][3] == "no_answer"


# ---------------------------------------------------------------------------------------------
# Demo task
# ---------------------------------------------------------------------------------------------


def test_demo_problems_are_seeded_integers():
    first = generate_problems(20, seed=3, difficulty=2)
    assert first == generate_problems(20, seed=3, difficulty=2)
    assert first != generate_problems(20, seed=4, difficulty=2)
    assert all(int(row["answer"]) >= 0 for row in first)
    with pytest.raises(ValueError):
        generate_problems(5, difficulty=99)


def test_demo_loads_through_lm_eval_with_metadata(task_manager):
    from lm_eval.tasks import TaskManager

    manager = TaskManager(
        include_defaults=False, metadata={"demo_num_problems": 12, "demo_difficulty": 5, "seed": 0}
    )
    task = manager.load(["s1_demo_arithmetic"])["tasks"]["s1_demo_arithmetic"]
    docs = list(task.test_docs())
    assert len(docs) == 12 and "loses" in docs[0]["problem"]
    # a model's seed=0 (lm-eval merges --model_args into metadata) must not change the problems
    assert [d["problem"] for d in docs] == [
        r["problem"] for r in generate_problems(12, difficulty=5)
    ]
    response = "Let's think step by step. ... The final answer is " + docs[0]["answer"] + "."
    assert task.process_results(docs[0], [response])["exact_match"] == 1


# ---------------------------------------------------------------------------------------------
# End to end through lm-eval's evaluator with a scripted model
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_samples_file_rows_carry_every_field(task_manager, monkeypatch, data_dir):
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM

    class ScriptedLM(LM):
        """Answers 204 to everything, with a trace, as s1_vllm would return it."""

        def generate_until(self, requests, disable_tqdm=False):
            return [_forced("<|im_start|>think\nhmm<|im_start|>answer\n", "\\boxed{204}")
                    for _ in requests]  # fmt: skip

        def loglikelihood(self, requests, disable_tqdm=False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm=False):
            raise NotImplementedError

    monkeypatch.setenv(benchmarks.DATA_DIR_ENV, str(data_dir))
    out = simple_evaluate(
        model=ScriptedLM(), tasks=["s1_aime24"], limit=3, log_samples=True,
        task_manager=task_manager, bootstrap_iters=0,
    )  # fmt: skip
    rows = [flat_row(row) for row in out["samples"]["s1_aime24"]]
    assert len(rows) == 3
    for row in rows:
        assert set(row) >= ROW_FIELDS
        assert row["thinking_tokens"] == 120 and row["has_trace"] == 1
    assert [row["exact_match"] for row in rows] == [1, 0, 0]  # only the first answer is 204
    metrics = out["results"]["s1_aime24"]
    assert metrics["exact_match,none"] == pytest.approx(1 / 3)
    assert metrics["thinking_tokens,none"] == 120 and metrics["trace,none"] == 1.0
