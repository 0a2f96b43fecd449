"""How s1-eval registers with lm-eval: the one mechanism, for editable installs and wheels alike.

    # s1_eval_autoload.pth (top of site-packages) runs at interpreter start:  import s1_eval._autoload

lm-eval 0.4.x discovers no plugins (no entry points for models or tasks), so a plain
``lm_eval --model s1_vllm --tasks s1_aime24`` works only if something registers us inside the
``lm_eval`` process. That something is this startup hook, and nothing else:

1. The wheel ships ``s1_eval_autoload.pth`` at the top of site-packages (pyproject's
   force-include); an editable install ships the same file (``hatch_build.py``). Python's site
   module executes its ``import`` line at every interpreter start.
2. The import installs a meta-path finder and nothing else: no lm-eval, torch or vLLM import, so
   interpreters that never touch lm-eval pay nothing.
3. When ``lm_eval.models`` finishes importing, the finder adds the models of
   ``s1_eval.registration.MODELS`` (``s1_vllm``, ``s1_server``, ``s1_hf``) to lm-eval's model registry as lazy ``"module:Class"`` targets (vLLM loads only when the model is built).
   Not earlier: ``get_model`` imports ``lm_eval.models`` only while the registry is empty, so
   registering first would hide every built-in model.
4. When ``lm_eval.tasks.manager`` finishes importing, every ``TaskManager`` gets this package's
   task folder (``s1_eval.common.bundled.TASKS_DIR``) first on its include path, so ``--tasks s1_*``
   and the s1 fork's task names resolve without ``--include_path``.
5. With either, ``s1_eval.common.log.install_excepthook``: bad input (``InputError``) that ends
   an ``lm_eval`` run prints as one line instead of lm-eval's traceback (``S1_EVAL_DEBUG=1``
   shows it); every other exception prints as before.

The functions it runs live in ``s1_eval.registration``. Tests: tests/test_registration.py
(editable install and a built wheel, each in a fresh interpreter).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType


def _after_models(_module: ModuleType) -> None:
    from s1_eval.common.log import install_excepthook
    from s1_eval.registration import register_models

    register_models()
    install_excepthook()


def _after_task_manager(module: ModuleType) -> None:
    from s1_eval.common.log import install_excepthook
    from s1_eval.registration import patch_task_manager

    patch_task_manager(module.TaskManager)
    install_excepthook()


_HOOKS: dict[str, Callable[[ModuleType], None]] = {
    "lm_eval.models": _after_models,
    "lm_eval.tasks.manager": _after_task_manager,
}


class _RunAfterLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, hook: Callable[[ModuleType], None]):
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        try:
            self._hook(module)
        except Exception as error:  # never break lm-eval because of the plugin
            print(f"s1-eval: could not register with lm-eval: {error!r}", file=sys.stderr)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        hook = _HOOKS.get(name)
        if hook is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _RunAfterLoader(spec.loader, hook)
        return spec


def install() -> None:
    if any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
    for name, hook in _HOOKS.items():  # lm-eval imported before us: hook in now
        if name in sys.modules:
            hook(sys.modules[name])


install()
