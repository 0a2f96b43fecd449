"""`s1-train select`: each stage on a generated pool, determinism, bad input on the real command
line, QLoRA's refusal without bitsandbytes/CUDA, and one real-engine scoring by SmolLM2.

The pool is generated here (seeded): arithmetic questions in three domains with traces of
different lengths, plus one row of each kind the quality stage must drop. Benchmark questions
come from tests/fixtures/select_benchmark.jsonl (invented) and the MATH-500 rows of
tests/fixtures/data.
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from s1_eval.trace import flat_row
from s1_eval.trainer import sft
from s1_eval.trainer.data import ConfigError, build_s1_dataset, load_rows, resolve_columns
from s1_eval.trainer.select_cmd import REPORT_FILE, SELECTED_FILE, select_command, summary_table
from s1_eval.trainer.select_config import parse_select_args
from s1_eval.trainer.select_difficulty import difficulty_stage, gold_answer
from s1_eval.trainer.select_diversity import diversity_sample
from s1_eval.trainer.select_quality import (
    Benchmark,
    PoolRow,
    benchmark_grams,
    ngrams,
    quality_stage,
    read_pool,
)
from tests.conftest import REPO, engine_args_string

S1_TRAIN = str(Path(sys.executable).with_name("s1-train"))
FIXTURES = REPO / "tests" / "fixtures"
BENCHMARK = FIXTURES / "select_benchmark.jsonl"
DOMAINS = ("addition", "multiplication", "subtraction")
OPS = {"addition": ("+", lambda a, b: a + b), "multiplication": ("*", lambda a, b: a * b),
       "subtraction": ("-", lambda a, b: a - b)}  # fmt: skip


def good_row(domain: str, a: int, b: int, steps: int) -> dict:
    sign, op = OPS[domain]
    trace = [f"Step {i + 1}: compute {a} {sign} {b} carefully." for i in range(steps)]
    return {
        "question": f"What is {a} {sign} {b}?",
        "solution": f"$\\boxed{{{op(a, b)}}}$",
        "cot_type": "math",
        "source_type": f"generated/{domain}",
        "metadata": "{}",
        "thinking_trajectories": trace,
        "attempt": f"The answer is $\\boxed{{{op(a, b)}}}$.",
        "domain": domain,
    }


#: the rows the quality stage must drop: (line in the pool, kind)
BAD_ROWS = {
    31: "malformed",  # no attempt
    32: "malformed",  # empty question
    33: "formatting",  # the trace closes thinking itself
    34: "formatting",  # a trace that is a number
    35: "duplicate",  # line 1's question, spaced differently
    36: "contaminated",  # a benchmark question, re-cased and re-punctuated
    37: "contaminated",  # MATH-500's first problem (decontaminate_task s1_math500)
}


def make_pool(seed: int = 0, good: int = 30) -> list[dict]:
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < good:
        domain, a, b = DOMAINS[len(rows) % 3], rng.randint(2, 99), rng.randint(2, 99)
        if (domain, a, b) not in seen:
            seen.add((domain, a, b))
            rows.append(good_row(domain, a, b, steps=rng.randint(1, 12)))
    first = rows[0]
    no_attempt = {k: v for k, v in good_row("addition", 1000, 1, 2).items() if k != "attempt"}
    empty_question = {**good_row("addition", 1001, 1, 2), "question": "  "}
    closes = good_row("addition", 1002, 1, 2)
    closes["thinking_trajectories"] = ["5 <|im_start|>answer 6"]
    number_trace = {**good_row("addition", 1003, 1, 2), "thinking_trajectories": 7}
    duplicate = {**good_row(first["domain"], 1, 1, 3), "question": " " + first["question"] + " "}
    contaminated = {
        **good_row("addition", 1004, 1, 2),
        "question": "a FARMER plants seven rows of turnips, with twelve turnips in each row!",
    }
    math500 = json.loads((FIXTURES / "data" / "math500.jsonl").read_text().splitlines()[0])
    copied = {**good_row("multiplication", 1005, 1, 2), "question": math500["problem"]}
    bad = [no_attempt, empty_question, closes, number_trace, duplicate, contaminated, copied]
    return rows + bad


def write_pool(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def config_for(tmp_path: Path, *extra: str, rows: list[dict] | None = None):
    pool = write_pool(tmp_path / "pool.jsonl", make_pool() if rows is None else rows)
    return parse_select_args(["--pool", str(pool), "--output_dir", str(tmp_path / "out"), *extra])


@pytest.fixture
def data_env(monkeypatch):
    monkeypatch.setenv("S1_EVAL_DATA_DIR", str(FIXTURES / "data"))


# ------------------------------------------------------------------------------- quality


def test_quality_drops_each_bad_row_by_file_line_and_keeps_the_rest(tmp_path, data_env):
    config = config_for(
        tmp_path, "--decontaminate", str(BENCHMARK), "--decontaminate_task", "s1_math500"
    )
    pool = read_pool(config)
    kept, dropped = quality_stage(pool, config, benchmark_grams(config))
    assert {d.where: d.kind for d in dropped} == {f"pool.jsonl:{n}": k for n, k in BAD_ROWS.items()}
    assert [r.line for r in kept] == list(range(1, 31))
    reasons = {d.where: d.reason for d in dropped}
    assert reasons["pool.jsonl:31"] == "missing 'attempt'"
    assert reasons["pool.jsonl:35"] == "same question as pool.jsonl:1"
    assert "select_benchmark.jsonl row 1" in reasons["pool.jsonl:36"]
    assert "s1_math500 row 1" in reasons["pool.jsonl:37"]


def test_without_decontamination_the_benchmark_copies_are_kept(tmp_path):
    config = config_for(tmp_path)
    kept, dropped = quality_stage(read_pool(config), config, benchmark_grams(config))
    assert benchmark_grams(config) is None
    assert {d.kind for d in dropped} == {"malformed", "formatting", "duplicate"}
    assert len(kept) == 32


def test_eight_shared_words_are_contamination_seven_are_not():
    bench = Benchmark(8)
    bench.add("one two three four five six seven eight nine ten", "b:1")
    assert bench.match("zero one two three four five six seven eight") == "b:1"
    assert bench.match("zero one two three four five six seven zero eight") is None
    assert ngrams("Short, question?", 8) == {("short", "question")}


# ------------------------------------------------------------------------------- difficulty


def test_difficulty_keeps_what_every_reference_failed():
    rows = [PoolRow(f"p:{n}", n, {}) for n in (1, 2, 3, 4)]
    first = {
        "p:1": (True, ""),
        "p:2": (False, ""),
        "p:3": (False, "gold_unparsed"),
        "p:4": (False, ""),
    }
    second = {"p:1": (False, ""), "p:2": (True, ""), "p:3": (False, ""), "p:4": (False, "")}
    kept, dropped, stats = difficulty_stage(rows, [first, second], ["1:a", "2:b"])
    assert [r.where for r in kept] == ["p:3", "p:4"]
    assert [(d.where, d.reason) for d in dropped] == [
        ("p:1", "solved by 1:a"),
        ("p:2", "solved by 2:b"),
    ]
    assert stats == {"solved_by": {"1:a": 1, "2:b": 1}, "ungraded": 1}


def test_gold_answer_is_the_last_box_else_the_solution():
    assert gold_answer("so $\\boxed{3}$ then $\\boxed{\\frac{1}{2}}$") == "\\frac{1}{2}"
    assert gold_answer(" 42 ") == "42"


# ------------------------------------------------------------------------------- diversity


def test_diversity_picks_domains_uniformly_not_by_size():
    rows = [("big", n) for n in range(100)] + [("small", n) for n in range(5)]
    chosen = diversity_sample(rows, [1] * len(rows), lambda r: r[0], size=10, seed=0)
    # drawn by size, "small" would get ~0.5 of 10; drawn uniformly, about half, then exhausted
    assert Counter(d for d, _ in chosen)["small"] >= 4
    everything = diversity_sample(rows, [1] * len(rows), lambda r: r[0], size=500, seed=0)
    assert sorted(everything) == sorted(rows)


def test_diversity_favours_longer_traces_as_two_to_the_minus_rank():
    rows = list(range(10))
    lengths = [10 * n for n in rows]  # row 9 is the longest (rank 0), row 8 rank 1
    firsts = Counter(
        diversity_sample(rows, lengths, lambda r: "d", 1, seed)[0] for seed in range(400)
    )
    assert 0.42 < firsts[9] / 400 < 0.58  # 2^0 / ~2
    assert 0.17 < firsts[8] / 400 < 0.33  # 2^-1 / ~2
    assert firsts[0] <= 2


# ------------------------------------------------------------------------------- the command


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [S1_TRAIN, *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=300
    )


def test_same_seed_gives_byte_identical_files_and_another_seed_another_set(tmp_path, capsys):
    pool = write_pool(tmp_path / "pool.jsonl", make_pool())
    outputs = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        report = select_command(["--pool", str(pool), "--output_dir", str(tmp_path / name),
                                 "--size", "12", "--seed", seed])  # fmt: skip
        outputs.append(
            (
                (tmp_path / name / SELECTED_FILE).read_bytes(),
                (tmp_path / name / REPORT_FILE).read_bytes(),
            )
        )
    assert outputs[0] == outputs[1]
    assert outputs[0][0] != outputs[2][0]
    selected = [json.loads(line) for line in outputs[0][0].decode().splitlines()]
    assert len(selected) == 12 and report["counts"]["selected"] == 12
    assert set(selected[0]) == set(make_pool()[0])  # s1K schema, rows as they were
    printed = capsys.readouterr().out
    assert "quality" in printed and "malformed 2, formatting 2, duplicate 1" in printed


def test_the_report_counts_every_row_once(tmp_path, data_env):
    pool = write_pool(tmp_path / "pool.jsonl", make_pool())
    report = select_command(["--pool", str(pool), "--output_dir", str(tmp_path / "o"),
                             "--decontaminate_task", "s1_math500", "--decontaminate",
                             str(BENCHMARK), "--size", "50"])  # fmt: skip
    assert report["counts"] == {"pool": 37, "quality": 30, "difficulty": 30, "selected": 30}
    assert report["short_of_size"] == 20 and not report["difficulty"]["run"]
    assert len(report["dropped"]) == 37 - 30
    assert sum(d["selected"] for d in report["domains"].values()) == 30
    assert report["trace_length_unit"] == "words"


BAD_INPUT = [
    (["--sizes", "3"], "--sizes", "Did you mean '--size'?"),
    (["stray"], "stray", "unexpected word"),
    (["--reference_model", "s1_vlm"], "reference_model", "Did you mean 's1_vllm'?"),
    (["--decontaminate_task", "gpqa"], "decontaminate_task", "not one of our benchmark tasks"),
    (["--size", "0"], "size", "positive"),
    (["--domain_field", "area"], "area", "diversity"),
]


def select_argv(tmp_path: Path, pool: Path, *extra: str) -> list[str]:
    # a reference model that does not exist: reaching it would be a different error
    return ["select", "--pool", str(pool), "--output_dir", str(tmp_path / "o"),
            "--reference_args", "pretrained=/nonexistent/model", *extra]  # fmt: skip


def test_bad_input_on_the_command_line_is_one_line_and_status_2(tmp_path):
    """The real console script: an unknown option, then a pool without a field a stage needs."""
    pool = write_pool(tmp_path / "pool.jsonl", make_pool())
    run = run_cli(*select_argv(tmp_path, pool, "--sizes", "3"))
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: --sizes: unknown option") and "Did you mean '--size'?" in line
    rows = [{k: v for k, v in row.items() if k != "solution"} for row in make_pool()]
    run = run_cli(*select_argv(tmp_path, write_pool(tmp_path / "pool.jsonl", rows)))
    assert run.returncode == 2
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: solution: no row of") and "difficulty" in line, line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("extra", "key", "words"), BAD_INPUT)
def test_bad_input_is_one_line_naming_the_key_before_any_model_loads(
    tmp_path, capsys, extra, key, words
):
    """Through ``main``, the function the console script calls (a subprocess costs ~20 s)."""
    pool = write_pool(tmp_path / "pool.jsonl", make_pool())
    with pytest.raises(SystemExit) as stop:
        sft.main(select_argv(tmp_path, pool, *extra))
    assert stop.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {key}: ") and words in line, line
    assert not (tmp_path / "o").exists()


def test_without_a_reference_model_the_pool_needs_no_solution(tmp_path, capsys):
    rows = [{k: v for k, v in row.items() if k != "solution"} for row in make_pool()]
    pool = write_pool(tmp_path / "pool.jsonl", rows)
    sft.main(["select", "--pool", str(pool), "--output_dir", str(tmp_path / "o")])
    assert "difficulty      32  0 (not run: no --reference_args)" in capsys.readouterr().out


def test_a_broken_pool_line_is_named_by_file_and_line(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps(make_pool()[0]) + "\n{not json\n")
    config = parse_select_args(["--pool", str(pool), "--output_dir", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match=r"pool: .*pool\.jsonl.*line 2"):
        read_pool(config)


def test_select_is_listed_among_the_subcommands_a_stray_word_is_told(tmp_path):
    run = run_cli("selcet")
    assert run.returncode == 2 and "Did you mean 'select'?" in run.stderr


# ------------------------------------------------------------------------------- QLoRA


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None and torch.cuda.is_available(),
    reason="this machine can run QLoRA",
)
def test_qlora_without_bitsandbytes_or_cuda_is_refused_before_loading(tmp_path):
    recipe = REPO / "trainer" / "recipes" / "tiny_cpu.yaml"
    run = run_cli("--config", str(recipe), "--use_peft", "--load_in_4bit",
                  "--output_dir", str(tmp_path / "o"), "--model_name_or_path", "/nonexistent")  # fmt: skip
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: load_in_4bit: ") and "bitsandbytes" in line, line
    run = run_cli("--config", str(recipe), "--load_in_4bit", "--output_dir", str(tmp_path / "o"))
    assert "error: load_in_4bit: is a LoRA option but use_peft is false" in run.stderr


def test_qlora_options_become_a_4bit_base_and_each_missing_need_is_named(monkeypatch):
    from s1_eval.trainer import lora

    args = lora.LoraArgs(use_peft=True, load_in_4bit=True, use_bnb_nested_quant=True)
    loading = lora.quantized_loading(args, "auto")
    quant = loading["quantization_config"]
    assert quant.load_in_4bit and quant.bnb_4bit_quant_type == "nf4"
    assert quant.bnb_4bit_use_double_quant and quant.bnb_4bit_compute_dtype == torch.bfloat16
    assert loading["device_map"] == {"": 0}
    assert lora.quantized_loading(lora.LoraArgs(use_peft=True), "auto") == {}
    monkeypatch.setattr(lora, "_has_bitsandbytes", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ConfigError, match=r"^load_in_4bit: QLoRA needs the bitsandbytes package"):
        args.check_lora_options()
    monkeypatch.setattr(lora, "_has_bitsandbytes", lambda: True)
    args.check_lora_options()  # both present: accepted
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"QLoRA needs a CUDA GPU; "):
        args.check_lora_options()


# ------------------------------------------------------------------------------- real engine

ENGINE_POOL = [
    ("addition", "What is 2 + 3?", "5", 3),
    ("addition", "What is 1 + 1?", "2", 1),
    ("addition", "What is 48213 + 90877 + 123457?", "262547", 9),
    ("addition", "What is 3 + 4?", "7", 2),
    ("multiplication", "What is 2 times 3?", "6", 2),
    ("multiplication", "What is 4817 times 9173?", "44186341", 12),
    ("multiplication", "What is 1 times 5?", "5", 1),
    ("multiplication", "What is 7193 times 6421 times 13?", "600418021", 15),
]  # fmt: skip


def engine_pool() -> list[dict]:
    rows = []
    for domain, question, answer, steps in ENGINE_POOL:
        row = good_row(domain, 1, 1, steps)
        row.update(question=question, solution=answer, attempt=f"$\\boxed{{{answer}}}$")
        rows.append(row)
    return rows


@pytest.mark.engine
@pytest.mark.slow
def test_smollm2_scores_the_pool_through_our_task_and_grader(tmp_path, smollm2_dir):
    """The real command with SmolLM2 on s1_vllm as the reference model: every pool row becomes
    one graded sample of the scoring cell, and what it solved is what the stage dropped."""
    pool = write_pool(tmp_path / "pool.jsonl", engine_pool())
    run = run_cli("select", "--pool", str(pool), "--output_dir", str(tmp_path / "out"),
                  "--size", "3", "--max_gen_toks", "48",
                  "--reference_args", engine_args_string(smollm2_dir, preset="plain"),
                  cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "out" / REPORT_FILE).read_text())
    [samples_file] = (tmp_path / "out" / "difficulty" / "reference_1").rglob("samples_*.jsonl")
    samples = [flat_row(json.loads(line)) for line in samples_file.read_text().splitlines()]
    assert sorted(s["doc"]["id"] for s in samples) == [f"pool.jsonl:{n}" for n in range(1, 9)]
    solved = {s["doc"]["id"] for s in samples if s["exact_match"] == 1}
    print(f"SmolLM2 solved {sorted(solved)}; answers {[s['extracted_answer'] for s in samples]}")
    assert all(s["grading_failure"] != "gold_unparsed" for s in samples)
    assert 0 < len(solved) < 8, "the easy sums are solved, the long products are not"
    assert {d["where"] for d in report["dropped"] if d["kind"] == "solved"} == solved
    [name] = report["difficulty"]["references"]
    assert name == f"1:{smollm2_dir.name}" and report["difficulty"]["solved_by"][name] == len(
        solved
    )
    assert report["counts"]["difficulty"] == 8 - len(solved)
    assert report["counts"]["selected"] == min(3, 8 - len(solved))
    assert report["trace_length_unit"] == "tokens"
    selected = (tmp_path / "out" / SELECTED_FILE).read_text().splitlines()
    assert len(selected) == report["counts"]["selected"]
    assert not {json.loads(line)["question"] for line in selected} & {
        s["doc"]["problem"] for s in samples if s["exact_match"] == 1
    }
    assert str(tmp_path) not in json.dumps(report) and str(smollm2_dir) not in json.dumps(report)


# ------------------------------------------------------------------------------- committed run

RESULTS = REPO / "results" / "select"


def committed_report() -> dict:
    return json.loads((RESULTS / REPORT_FILE).read_text())


def test_the_committed_run_is_this_generator_pool_and_its_stages_recompute(data_env):
    """results/select: the pool is make_pool()'s; its quality stage, the split of the rest into
    solved and candidates, and the seeded draw over the candidates all recompute from the files
    (only the reference model's verdicts need the engine)."""
    assert (RESULTS / "pool.jsonl").read_text() == "".join(
        json.dumps(r) + "\n" for r in make_pool()
    )
    report = committed_report()
    config = parse_select_args(
        ["--pool", str(RESULTS / "pool.jsonl"), "--output_dir", "unused", "--size", "12",
         "--decontaminate", str(BENCHMARK), "--decontaminate_task", "s1_math500"]
    )  # fmt: skip
    kept, dropped = quality_stage(read_pool(config), config, benchmark_grams(config))
    assert [d.to_dict() for d in dropped] == [
        d for d in report["dropped"] if d["stage"] == "quality"
    ]
    solved = [d["where"] for d in report["dropped"] if d["stage"] == "difficulty"]
    candidates = report["candidates"]
    assert sorted([c["where"] for c in candidates] + solved) == sorted(r.where for r in kept)
    drawn = diversity_sample(candidates, [c["trace_length"] for c in candidates],
                             lambda c: c["domain"], size=report["size"], seed=report["seed"])  # fmt: skip
    assert [c["drawn"] for c in drawn] == list(range(1, 13))
    by_line = {r.where: r.row for r in read_pool(config)}
    in_pool_order = sorted(drawn, key=lambda c: int(c["where"].split(":")[1]))
    expected = "".join(json.dumps(by_line[c["where"]]) + "\n" for c in in_pool_order)
    assert (RESULTS / SELECTED_FILE).read_text() == expected


def test_the_docs_show_the_committed_report_as_the_command_prints_it():
    for page in ("training.md", "results/select.md"):
        assert summary_table(committed_report()) in (REPO / "docs" / page).read_text(), page


def test_the_committed_selection_is_trainer_input():
    """selected.jsonl is s1K: the trainer builds its s1 prompt/completion pairs unchanged."""
    rows = load_rows(str(RESULTS / SELECTED_FILE))
    dataset = build_s1_dataset(rows, resolve_columns(rows.column_names), "s1")
    assert len(dataset) == 12
    assert dataset[0]["completion"][0]["content"].startswith("<|im_start|>think\n")
