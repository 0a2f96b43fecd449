"""The s1 fork's published command lines run through the real `lm_eval` CLI with `--model s1_vllm`.

    pytest tests/test_fork_commands.py        # offline: tests/fixtures/data, --limit

The lines below are copied from the fork's eval/commands.sh (simplescaling/s1). The test edits
only what it must: `--model vllm` -> `--model s1_vllm`, the OpenAI grader's env vars dropped
(grading is local), the model swapped for the local SmolLM2 (no 32B model, no 8 GPUs here), and
`--limit` plus `--metadata s1_data_dir` appended (no dataset hub here). Tasks, flags and gen_kwargs
stay verbatim.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ENGINE_ARGS, lm_eval_command, read_results, read_samples

DATA = Path(__file__).resolve().parent / "fixtures" / "data"

#: "Testing" line of the fork's eval/commands.sh
FORK_TESTING = (
    "lm_eval --model dummy --tasks aime24_figures,aime24_nofigures,openai_math,gpqa_diamond_openai"
    ' --batch_size auto --output_path dummy --log_samples --gen_kwargs "max_gen_toks=32768"'
)
#: "s1.1 / AIME2025, AIME2024, MATH500, GPQA, 2x Wait" line of the fork's eval/commands.sh
FORK_S11_TWO_WAITS = (
    "OPENAI_API_KEY=YOUR_OPENAI_KEY PROCESSOR=gpt-4o-mini lm_eval --model vllm --model_args"
    " pretrained=simplescaling/s1.1-32B,dtype=float32,tensor_parallel_size=8 --tasks"
    " aime25_nofigures,aime24_nofigures,openai_math,gpqa_diamond_openai --batch_size auto"
    " --apply_chat_template --output_path s1.1forcingignore2wait --log_samples --gen_kwargs"
    ' "max_gen_toks=32768,max_tokens_thinking=auto,thinking_n_ignore=2,thinking_n_ignore_str=Wait"'
)


def offline_data(folder: Path) -> Path:
    """tests/fixtures/data plus stand-ins for the two sets with no offline copy here (AIME 2024
    "figures" and AIME 2025: the AIME 2024 slice, which has their schema)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in DATA.glob("*.jsonl"):
        (folder / path.name).symlink_to(path)
    for stand_in in ("aime24_figures.jsonl", "aime25.jsonl"):
        (folder / stand_in).symlink_to(DATA / "aime24.jsonl")
    return folder


def as_s1(line: str, model_args: str | None, data_dir: Path, limit: int) -> list[str]:
    """The fork's line as argv, with only the edits the module docstring lists."""
    words = shlex.split(line)
    while "=" in words[0]:  # OPENAI_API_KEY=... PROCESSOR=...: the fork's remote grader
        words.pop(0)
    assert words[0] == "lm_eval"
    words[:1] = lm_eval_command()
    model = words.index("--model") + 1
    if words[model] == "vllm":
        words[model] = "s1_vllm"
    if model_args is not None:
        words[words.index("--model_args") + 1] = model_args
    return [*words, "--limit", str(limit), "--metadata", json.dumps({"s1_data_dir": str(data_dir)})]


def run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.mark.slow
def test_fork_testing_line_parses_and_runs(tmp_path):
    argv = as_s1(FORK_TESTING, None, offline_data(tmp_path / "data"), limit=2)
    run(argv, cwd=tmp_path)
    results = read_results(tmp_path / "dummy")
    tasks = {"aime24_figures", "aime24_nofigures", "openai_math", "gpqa_diamond_openai"}
    assert set(results["results"]) == tasks
    for task in tasks:
        rows = read_samples(tmp_path / "dummy", task)
        assert len(rows) == 2 and all(row["exact_match"] == 0 for row in rows)  # dummy says "lol"
        assert all(row["has_trace"] == 0 for row in rows)
    assert results["configs"]["openai_math"]["generation_kwargs"]["max_gen_toks"] == 32768


@pytest.mark.engine
@pytest.mark.slow
def test_fork_s1_1_two_waits_line_runs_on_s1_vllm(tmp_path, smollm2_dir):
    # the fork's dtype=float32 stays; tensor_parallel_size=8 cannot run here. A 512-token context
    # keeps max_gen_toks=32768 with an uncapped (auto) budget to seconds per request on 2 cores.
    engine = {**ENGINE_ARGS, "max_model_len": 512}
    model_args = ",".join(
        [f"pretrained={smollm2_dir}", "dtype=float32"]
        + [f"{k}={v}" for k, v in engine.items() if k != "dtype"]
    )
    argv = as_s1(FORK_S11_TWO_WAITS, model_args, offline_data(tmp_path / "data"), limit=1)
    run(argv, cwd=tmp_path, timeout=600)
    out = tmp_path / "s1.1forcingignore2wait"
    results = read_results(out)
    tasks = {"aime25_nofigures", "aime24_nofigures", "openai_math", "gpqa_diamond_openai"}
    assert set(results["results"]) == tasks
    forcing = results["config"]["s1_forcing"]
    assert forcing["thinking_n_ignore"] == 2 and forcing["max_gen_toks"] == 32768
    for task in tasks:
        [row] = read_samples(out, task)
        assert row["has_trace"] == 1 and row["exact_match"] in (0, 1)
        assert row["suppressions"] <= 2 and row["thinking_tokens"] > 0
