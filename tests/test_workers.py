"""How `make test` splits the suite over pytest-xdist workers (tests/conftest.py).

pytest -n 2 tests/test_workers.py
"""

from __future__ import annotations

import os

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
