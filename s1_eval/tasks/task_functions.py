"""Names the task YAMLs reference with ``!function utils.<name>`` (lm-eval loads this file by path).

    process_results: !function utils.process_math_results

Only re-exports: the code lives in importable modules, so state such as the grading worker is
shared however many YAMLs load this file.
"""

from s1_eval.tasks.benchmarks import (
    load_aime24,
    load_aime24_figures,
    load_aime25,
    load_gpqa_diamond,
    load_math500,
    load_openai_math,
)
from s1_eval.tasks.prompts import (
    fork_gpqa_doc_to_text,
    fork_math_doc_to_text,
    gpqa_doc_to_text,
    math_doc_to_text,
    process_fork_gpqa_docs,
    process_gpqa_docs,
    process_math_docs,
)
from s1_eval.tasks.scoring import (
    process_gpqa_results,
    process_gpqa_samples,
    process_math_results,
    process_math_samples,
)
from s1_eval.trace import traced_share

__all__ = [
    "fork_gpqa_doc_to_text",
    "fork_math_doc_to_text",
    "gpqa_doc_to_text",
    "load_aime24",
    "load_aime24_figures",
    "load_aime25",
    "load_gpqa_diamond",
    "load_math500",
    "load_openai_math",
    "math_doc_to_text",
    "process_fork_gpqa_docs",
    "process_gpqa_docs",
    "process_gpqa_results",
    "process_gpqa_samples",
    "process_math_docs",
    "process_math_results",
    "process_math_samples",
    "traced_share",
]
