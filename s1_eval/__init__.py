"""s1-eval: budget forcing (s1: simple test-time scaling) for lm-evaluation-harness.

    from s1_eval import parse_gen_kwargs, force_generate  # or: lm_eval --model s1_vllm ...

The package is imported at every interpreter start by its lm-eval hook, so this module stays
empty of imports: the public names below load on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "BudgetForcingConfig": "s1_eval.core.settings",
    "Delimiters": "s1_eval.core.settings",
    "GenerationSettings": "s1_eval.core.settings",
    "PRESETS": "s1_eval.core.settings",
    "Sampling": "s1_eval.core.settings",
    "parse_gen_kwargs": "s1_eval.core.settings",
    "force_generate": "s1_eval.core.forcing",
    "GenerationStep": "s1_eval.core.forcing",
    "StepResult": "s1_eval.core.forcing",
    "ForcedText": "s1_eval.trace",
    "Trace": "s1_eval.trace",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 's1_eval' has no attribute {name!r}")
