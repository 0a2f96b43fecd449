"""The package's shape holds: no import cycles anywhere in s1_eval, counting imports inside
functions (they only hide a cycle). The layering itself is import-linter's contract in
pyproject.toml, run by `make quality`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from tests.conftest import lm_eval_command


def import_cycles(package: str) -> list[list[str]]:
    """Every group of modules of ``package`` that import each other, directly or not."""
    graph = grimp.build_graph(package, include_external_packages=False, cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = low[module] = len(order)
        stack.append(module)
        for other in edges[module]:
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(edges):
        if module not in order:
            visit(module)
    return cycles


def test_s1_eval_has_no_import_cycles():
    assert import_cycles("s1_eval") == []


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path, monkeypatch):
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def helper():\n    from cyclic_pkg import high\n")
    (package / "high.py").write_text("from cyclic_pkg import low\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert import_cycles("cyclic_pkg") == [["cyclic_pkg.high", "cyclic_pkg.low"]]
    finally:
        sys.modules.pop("cyclic_pkg", None)


# ---------------------------------------------------------------------------------------------
# Responses cached before the modules moved into subpackages still load
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: `lm_eval --use_cache` database written by the flat layout (s1_eval.budget, s1_eval.forcing,
#: ...): 8 pickled ForcedText responses of s1_scripted on s1_fake, made with
#: --model_args patience=600,wait_tokens=200 and the gen_kwargs below
OLD_CACHE = ROOT / "tests/fixtures/cache_before_layout/s1_fake_rank0.db"
GEN_KWARGS = "max_tokens_thinking=800,thinking_n_ignore=2,thinking_n_ignore_str=Wait"


def test_a_use_cache_database_from_the_flat_layout_still_loads(tmp_path):
    cache = tmp_path / "s1_fake"
    shutil.copy(OLD_CACHE, f"{cache}_rank0.db")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    # other model_args than the cached run's: a regenerated response would think 50 tokens
    # per "Wait", so equal traces prove that every response came from the old database
    proc = subprocess.run(
        [*lm_eval_command(), "--model", "s1_scripted",
         "--model_args", "patience=600,wait_tokens=50", "--tasks", "s1_fake",
         "--include_path", "tests/fixtures/s1_fake_task", "--gen_kwargs", GEN_KWARGS,
         "--output_path", str(tmp_path / "out"), "--log_samples", "--use_cache", str(cache)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    [samples] = (tmp_path / "out").rglob("samples_s1_fake_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert [r["thinking_tokens"] for r in rows] == [500, 600, 700, 800, 800, 800, 800, 800]
    assert [r["suppressions"] for r in rows] == [2, 2, 2, 2, 2, 1, 1, 1]
    assert all(r["resps"][0][0].startswith("<|im_start|>think") for r in rows)
