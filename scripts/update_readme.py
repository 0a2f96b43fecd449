"""Regenerate the README's result sections from the committed results/ folders.

    python scripts/update_readme.py          # rewrites them in place; tests check they are current

Each generated section sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``
lines; everything else in the README is prose and stays as written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def _demo() -> str:
    from s1_eval.demo_report import readme_section

    return readme_section(REPO / "results" / "demo")


SECTIONS: dict[str, Callable[[], str]] = {"demo": _demo}


def render(readme: str) -> str:
    """The README with every generated section replaced by its current content."""
    for name, build in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)", flags=re.DOTALL
        )
        if not pattern.search(readme):
            raise ValueError(f"README.md has no '<!-- generated: {name} -->' section")
        text = build()
        readme = pattern.sub(lambda m, text=text: m.group(1) + text + m.group(2), readme)
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
