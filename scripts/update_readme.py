"""Regenerate the README's result sections from the committed results/ folders.

    python scripts/update_readme.py          # rewrites them in place; tests check they are current

Each generated section sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``
lines; everything else in the README is prose and stays as written. The demo section comes from
results/demo, the control methods' table from results/methods (and the decode-time methods'
from results/decode-methods), the served load test's result from results/load, the token-trace
comparisons from results/reproducibility (rendered by bench/reproducibility.py), the lm-eval
vllm parity table from s1_eval.backends.parity, the Performance part's
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
    from s1_eval.backends.parity import readme_table

    return readme_table()


def _methods() -> str:
    from s1_eval.report.build import build_report
    from s1_eval.report.methods_table import methods_markdown
    from s1_eval.report.reference import load_reference

    return methods_markdown(build_report([REPO / "results" / "methods"]), load_reference(), False)


def _decode_methods() -> str:
    from s1_eval.report.build import build_report
    from s1_eval.report.leaderboard import to_markdown
    from s1_eval.report.methods_figure import METHODS_FIGURE
    from s1_eval.report.methods_table import methods_markdown

    run = REPO / "results" / "decode-methods"
    report = build_report([run])
    pairs = to_markdown(report).split("## Paired comparisons\n", 1)[1].split("\n## ", 1)[0]
    figure = (
        f"![accuracy vs total thinking tokens per problem](results/decode-methods/{METHODS_FIGURE})"
    )
    return f"{methods_markdown(report, heading=False)}\n{pairs.strip()}\n\n{figure}\n"


def _load() -> str:
    return (REPO / "results" / "load" / "server_load.md").read_text()


def _demo() -> str:
    from s1_eval.demo.report import readme_section

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


def _reproducibility() -> str:
    spec = importlib.util.spec_from_file_location(
        "reproducibility", REPO / "bench" / "reproducibility.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.section()


SECTIONS: dict[str, Callable[[], str]] = {
    "demo": _demo,
    "parity": _parity,
    "methods": _methods,
    "decode-methods": _decode_methods,
    "load": _load,
    "reproducibility": _reproducibility,
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
