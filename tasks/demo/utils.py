"""Names the demo task YAMLs reference (lm-eval loads this file by path).

custom_dataset: !function utils.load_counting
"""

from s1_eval.tasks.demo.arithmetic import doc_to_text, load_demo
from s1_eval.tasks.demo.counting import doc_to_text as counting_doc_to_text
from s1_eval.tasks.demo.counting import load_counting
from s1_eval.tasks.scoring import process_math_results
from s1_eval.trace import traced_share

__all__ = [
    "counting_doc_to_text",
    "doc_to_text",
    "load_counting",
    "load_demo",
    "process_math_results",
    "traced_share",
]
