"""Started with every Python process of `make test`: lm-eval's task index, built once per session.

    S1_EVAL_TEST_TASK_INDEX=DIR python ...   # tests/conftest.py sets both it and PYTHONPATH

Each ``lm_eval`` process spends ~10 s of CPU parsing lm-eval's 14,000 bundled task YAMLs into
its task index before it reads its arguments; the suite starts ~130 such processes. The first
process of a session builds that part of the index for real and stores it; the others load it
(~2 s). Every other folder (this project's tasks, a test's own task folder) is indexed live,
and merged as lm-eval merges, so which task wins an override does not change.
S1_EVAL_TEST_TASK_INDEX=0 turns the replay off.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import os
import pickle
import sys
from pathlib import Path

INDEX_MODULE = "lm_eval.tasks._index"
INDEX_FILE = "index.pickle"


def cached_build(module, folder: Path):
    """Wrap ``TaskIndex.build`` so lm-eval's own task folder is parsed once per session."""
    original = module.TaskIndex.build
    bundled = Path(module.__file__).resolve().parent

    def build(paths, *, resolve_includes=True):
        paths = [Path(path) for path in paths]
        if not resolve_includes or not paths or paths[0].resolve() != bundled:
            return original(paths, resolve_includes=resolve_includes)
        index = _bundled_index(original, bundled, folder)
        for name, entry in original(paths[1:]).items():
            if name in index:
                module.log.warning(
                    "Task '%s' from %s overrides existing task from %s",
                    name, entry.yaml_path, index[name].yaml_path,
                )  # fmt: skip
            index[name] = entry
        return index

    build.replays_bundled_index = True
    return staticmethod(build)


def _bundled_index(original, bundled: Path, folder: Path) -> dict:
    import lm_eval

    from s1_eval.common.files import build_once

    where = hashlib.sha256(str(bundled).encode()).hexdigest()[:12]
    stored = folder / f"lm-eval-{lm_eval.__version__}-{where}"

    def build(staging: Path) -> None:
        index = original([bundled])
        (staging / INDEX_FILE).write_bytes(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))

    # two processes starting at once: one builds, the other waits for it
    build_once(stored, build, INDEX_FILE)
    return pickle.loads((stored / INDEX_FILE).read_bytes())


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Patch lm-eval's index module as it is first imported (nothing else is touched)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def find_spec(self, name, path, target=None):
        if name != INDEX_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            _wrap(module, self.folder)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    folder = os.environ.get("S1_EVAL_TEST_TASK_INDEX", "0")
    if folder == "0":
        return
    module = sys.modules.get(INDEX_MODULE)
    if module is not None:  # imported before this ran (pytest's own process)
        _wrap(module, Path(folder))
    elif not any(type(finder).__name__ == "_WrapOnImport" for finder in sys.meta_path):
        sys.meta_path.insert(0, _WrapOnImport(Path(folder)))


def _wrap(module, folder: Path) -> None:
    if not getattr(module.TaskIndex.build, "replays_bundled_index", False):
        module.TaskIndex.build = cached_build(module, folder)


install()
