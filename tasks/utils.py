"""Names the task YAMLs in this folder reference (``!function utils.<name>``).

process_results: !function utils.process_math_results

lm-eval loads this file by path; the functions live in ``s1_eval.tasks``.
"""

from s1_eval.tasks.task_functions import *  # noqa: F403
from s1_eval.tasks.task_functions import __all__  # noqa: F401
