"""Names the sampling-variant YAMLs reference (same functions as ``tasks/utils.py``).

process_results: !function utils.process_math_samples
"""

from s1_eval.tasks.task_functions import *  # noqa: F403
from s1_eval.tasks.task_functions import __all__  # noqa: F401
