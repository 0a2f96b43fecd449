"""Regenerate the README's result sections from the committed results/ folders.

    python scripts/update_readme.py          # rewrites them in place; tests check they are current

Each generated section sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``
lines; everything else in the README is prose and stays as written. The demo section comes from
results/demo, the control methods' table from results/methods, the served load test's result
from results/load, the version matrix from results/compat (scripts/compat_table.py), the lm-eval
vllm parity table from s1_eval.parity, the Performance part's
tables, the sentences quoting their numbers and the commands that reproduce them from
results/bench/*.json (rendered by bench/bench_tables.py, which the bench scripts use for their
own markdown too).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BENCH_RESULTS = REPO / "results" / "bench"


def _parity() -> str:
    from s1_eval.parity import readme_table

    return readme_table()


def _methods() -> str:
    from s1_eval.methods_table import methods_markdown
    from s1_eval.reference import load_reference
    from s1_eval.report import build_report

    return methods_markdown(build_report([REPO / "results" / "methods"]), load_reference(), False)


def _load() -> str:
    return (REPO / "results" / "load" / "server_load.md").read_text()


def _compat() -> str:
    spec = importlib.util.spec_from_file_location(
        "compat_table", REPO / "scripts" / "compat_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.readme_section()


def _demo() -> str:
    from s1_eval.demo_report import readme_section

    return readme_section(REPO / "results" / "demo")


@functools.cache
def bench_tables() -> ModuleType:
    # bench/ is a folder of scripts, not a package: load the renderer by its path
    spec = importlib.util.spec_from_file_location(
        "bench_tables", REPO / "bench" / "bench_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bench(render: str, result: str) -> Callable[[], str]:
    def build() -> str:
        data: dict[str, Any] = json.loads((BENCH_RESULTS / result).read_text())
        return getattr(bench_tables(), render)(data)

    return build


SECTIONS: dict[str, Callable[[], str]] = {
    "demo": _demo,
    "parity": _parity,
    "methods": _methods,
    "load": _load,
    "compat": _compat,
    "bench-forcing": _bench("forcing_section", "forcing_bench.json"),
    "bench-forcing-command": _bench("forcing_command", "forcing_bench.json"),
    "bench-sweep": _bench("sweep_section", "sweep_bench.json"),
    "bench-sweep-command": _bench("sweep_command", "sweep_bench.json"),
    "bench-server": _bench("server_section", "server_bench.json"),
    "bench-server-command": _bench("server_command", "server_bench.json"),
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end: {name} -->)", re.DOTALL)


def section(readme: str, name: str) -> str:
    """What the README holds now between the markers of section ``name``."""
    found = _pattern(name).search(readme)
    if found is None:
        raise ValueError(f"README.md has no '<!-- generated: {name} -->' section")
    return found.group(2)


def render(readme: str) -> str:
    """The README with every generated section replaced by its current content."""
    for name, build in SECTIONS.items():
        section(readme, name)  # a missing marker is an error, not a silent no-op
        text = build()
        readme = _pattern(name).sub(lambda m, text=text: m.group(1) + text + m.group(3), readme)
    return readme


def main() -> int:
    current = README.read_text()
    updated = render(current)
    if updated != current:
        README.write_text(updated)
        print("README.md: generated sections updated")
    else:
        print("README.md: generated sections already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
