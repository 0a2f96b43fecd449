"""Where the folders that ship beside the code live: the task YAMLs and the trainer's recipes.

    from s1_eval.common.bundled import TASKS_DIR, TRAINER_DIR   # e.g. TRAINER_DIR / "recipes"

In a checkout they are the top-level ``tasks/`` and ``trainer/`` folders; a wheel carries copies
of both inside the package (``s1_eval/_bundled/``, see pyproject's force-include). Neither folder
holds importable code: the Python they use lives in ``s1_eval.tasks`` and ``s1_eval.trainer``,
so every module has exactly one import path.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
_INSTALLED = _PACKAGE / "_bundled"
_ROOT = _INSTALLED if _INSTALLED.is_dir() else _PACKAGE.parent

#: the lm-eval task folder (YAMLs and the ``utils.py`` files they name)
TASKS_DIR = _ROOT / "tasks"
#: recipes, accelerate configs and the SLURM script of the SFT trainer
TRAINER_DIR = _ROOT / "trainer"
