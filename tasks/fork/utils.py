"""Names the s1-fork-named task YAMLs reference (same functions as ``tasks/utils.py``).

doc_to_text: !function utils.fork_math_doc_to_text
"""

from s1_eval.tasks.task_functions import *  # noqa: F403
from s1_eval.tasks.task_functions import __all__  # noqa: F401
