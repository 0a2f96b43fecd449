"""How `make test` splits the suite over pytest-xdist workers (tests/conftest.py).

pytest -n 2 tests/test_workers.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SHARED_ENGINES, SLOW_FILES, work_unit


def test_files_using_a_shared_engine_form_one_work_unit():
    assert work_unit("tests/test_server.py") == work_unit("tests/test_lm.py") == "shared-engines"
    assert work_unit("tests/test_files.py") == "tests/test_files.py"
    assert all(name in (REPO / "tests" / "conftest.py").read_text() for name in SHARED_ENGINES)


def test_every_weighted_file_exists():
    """A renamed test file would lose its weight and start last."""
    assert [name for name in SLOW_FILES if not (REPO / "tests" / name).is_file()] == []


def test_a_worker_keeps_to_cores_of_its_own():
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    mine = sorted(os.sched_getaffinity(0))
    if workers >= 2 and (os.cpu_count() or 1) >= workers:
        assert len(mine) <= (os.cpu_count() or 1) // workers
        assert os.environ["VLLM_CPU_OMP_THREADS_BIND"] == ",".join(map(str, mine))
        assert os.environ["OMP_NUM_THREADS"] == str(len(mine))
    else:  # one process: every core, as the machine gave them
        assert len(mine) == len(os.sched_getaffinity(os.getppid()))


INDEX_DIGEST = """
import hashlib, json, lm_eval.tasks as tasks
index = tasks.TaskManager(include_path=%r).task_index
rows = sorted((name, str(e.kind), str(e.yaml_path), json.dumps(e.cfg, sort_keys=True, default=str))
              for name, e in index.items())
print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest(), index["arc_easy"].yaml_path)
"""


def _index_digest(include_path: Path, replay: str) -> list[str]:
    env = {**os.environ, "S1_EVAL_TEST_TASK_INDEX": replay}
    done = subprocess.run([sys.executable, "-c", INDEX_DIGEST % str(include_path)],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_a_replayed_task_index_equals_lm_evals_own(tmp_path):
    """Every process of the suite replays lm-eval's bundled task index from the session's first
    build (tests/process_start): it lists what lm-eval itself lists, our tasks and a test's own
    folder included, and a task of that folder still overrides a bundled one of the same name."""
    overriding = tmp_path / "tasks" / "arc_easy.yaml"
    overriding.parent.mkdir()
    overriding.write_text(
        "task: arc_easy\ndataset_path: json\noutput_type: generate_until\n"
        "doc_to_text: q\ndoc_to_target: a\n"
    )
    live = _index_digest(overriding.parent, replay="0")
    store = tmp_path / "store"
    store.mkdir()
    first = _index_digest(overriding.parent, replay=str(store))
    [stored] = store.glob("*/index.pickle")
    stored_at = stored.stat().st_mtime_ns
    replayed = _index_digest(overriding.parent, replay=str(store))
    assert stored.stat().st_mtime_ns == stored_at, "the third process loaded, did not rebuild"
    assert live == first == replayed and live[-1] == str(overriding)
    assert int(live[0]) > 10_000  # lm-eval's own tasks, not only ours
    # one store and its lock, no leftovers
    assert sorted(path.name for path in store.iterdir()) == sorted(
        [stored.parent.name, f".{stored.parent.name}.lock"]
    )
