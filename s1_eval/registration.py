"""What the startup hook (``s1_eval._autoload``, which documents the mechanism) does in lm-eval.

register_models()   # from s1_eval.registration; the startup hook runs it once lm_eval.models loads
"""

from __future__ import annotations

import inspect

from s1_eval.common.bundled import TASKS_DIR

#: lm-eval model name -> "module:class" (string targets: nothing heavy is imported here)
MODELS = {
    "s1_vllm": "s1_eval.backends.lm:S1VLLM",
    "s1_hf": "s1_eval.backends.lm:S1HF",
    "s1_server": "s1_eval.backends.lm:S1Server",
    "s1_scripted": "s1_eval.backends.lm:S1Scripted",
}


def register_models() -> None:
    import lm_eval.models  # noqa: F401  built-ins first, or get_model would never load them
    from lm_eval.api.registry import model_registry

    for name, target in MODELS.items():
        if name not in model_registry:
            model_registry.register(name, target=target)


def patch_task_manager(task_manager_cls: type) -> None:
    """Make every TaskManager also index our task folder (idempotent)."""
    if getattr(task_manager_cls.__init__, "_s1_eval", False):
        return
    original = task_manager_cls.__init__
    signature = inspect.signature(original)
    ours = str(TASKS_DIR)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        paths = bound.arguments.get("include_path") or []
        if not isinstance(paths, (list, tuple)):
            paths = [paths]
        # ours first: a user's include_path comes later and may override our tasks
        bound.arguments["include_path"] = [ours, *[p for p in paths if str(p) != ours]]
        original(*bound.args, **bound.kwargs)

    __init__._s1_eval = True
    task_manager_cls.__init__ = __init__
