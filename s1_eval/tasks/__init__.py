"""The Python behind s1-eval's lm-eval tasks: data loading and prompts, scoring, the demo task.

    from s1_eval.tasks.scoring import process_math_results

The task YAMLs live in the top-level ``tasks/`` folder (``s1_eval.common.bundled.TASKS_DIR``), which the
startup hook puts on every TaskManager's include path. They name functions of thin ``utils.py``
files there (lm-eval loads those by file path), which re-export ``task_functions``.
"""
