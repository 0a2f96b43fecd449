"""lm-eval docs and prompt text from a benchmark's rows: s1's prompts and the s1 fork's.

    text = gpqa_doc_to_text(process_gpqa_docs(rows)[0])   # choices shuffled per question, stably

Which task uses which of these is in ``s1_eval.tasks.benchmarks.TASKS``.
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import datasets

GPQA_LETTERS = "ABCD"

# ---------------------------------------------------------------------------------------------
# Docs
# ---------------------------------------------------------------------------------------------


def process_math_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Uniform math docs: ``problem``, ``answer`` (a string) and ``doc_key``; other columns stay."""
    return dataset.map(_math_doc)


def _math_doc(doc: dict) -> dict:
    problem = doc.get("problem") or doc.get("question") or doc.get("Problem") or ""
    answer = doc.get("answer", doc.get("Answer"))
    key = doc.get("unique_id") or doc.get("id") or doc.get("ID")
    return {
        "problem": problem,
        "answer": "" if answer is None else str(answer).strip(),
        "doc_key": str(key) if key is not None else _digest(problem)[:12],
    }


def process_gpqa_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Shuffle each question's four choices with a seed derived from its text, so the order and
    the gold letter are the same on every machine and run. Keeps only what the prompt needs."""
    keep = {"Question", "Record ID"}
    drop = [name for name in dataset.column_names if name not in keep]
    return dataset.map(_gpqa_doc, remove_columns=drop)


def _gpqa_doc(doc: dict, clean: bool = True) -> dict:
    tidy = _clean_choice if clean else str
    correct = tidy(doc["Correct Answer"])
    choices = [correct] + [tidy(doc[f"Incorrect Answer {i}"]) for i in (1, 2, 3)]
    random.Random(gpqa_shuffle_seed(doc["Question"])).shuffle(choices)
    gold_index = choices.index(correct)
    out = {f"choice{i + 1}": choice for i, choice in enumerate(choices)}
    out["answer"] = GPQA_LETTERS[gold_index]
    out["doc_key"] = str(doc.get("Record ID") or _digest(doc["Question"])[:12])
    return out


def gpqa_shuffle_seed(question: str) -> int:
    """A per-question seed that does not depend on Python's hash randomisation."""
    return int(_digest("s1-eval/gpqa/" + question.strip())[:16], 16)


def _clean_choice(text: Any) -> str:
    # the raw set has stray whitespace and " [title]" markers (as lm-eval's gpqa tasks clean)
    text = "" if text is None else str(text)
    return text.strip().replace(" [title]", ". ").replace("  ", " ")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: OpenAI simple-evals' multiple-choice template (the s1 fork keeps it commented out and sends
#: the bare question and choices: see ``FORK_GPQA_TEMPLATE``).
GPQA_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be "
    "of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n\n{question}\n\nA) {a}\nB) {b}\nC) {c}\nD) {d}"
)


def math_doc_to_text(doc: dict) -> str:
    """s1 prompts math problems with the bare problem text (its default QUERY_TEMPLATE)."""
    return doc["problem"]


def gpqa_doc_to_text(doc: dict) -> str:
    return GPQA_TEMPLATE.format(
        question=doc["Question"].strip(),
        a=doc["choice1"],
        b=doc["choice2"],
        c=doc["choice3"],
        d=doc["choice4"],
    )


# ---------------------------------------------------------------------------------------------
# The s1 fork's task names (aime24_figures, aime24_nofigures, aime25_nofigures, openai_math,
# gpqa_diamond_openai): its prompts, so its published command lines run unchanged
# ---------------------------------------------------------------------------------------------

#: the fork's GPQA prompt: question and choices, no instruction
FORK_GPQA_TEMPLATE = "{question}\n\nA) {a}\nB) {b}\nC) {c}\nD) {d}"
#: the fork's prompt-conditional control: an env var appends one sentence to every prompt
#: (its eval/commands.sh sets e.g. PROMPTTOKEN=2048). Order = the fork's precedence.
FORK_MATH_CONTROLS = ("PROMPTSTEP", "PROMPTTOKEN", "PROMPTLONG", "PROMPTSHORT")
FORK_GPQA_CONTROLS = ("PROMPTLONG", "PROMPTSHORT", "PROMPTTOKEN", "PROMPTSTEP")
CONTROL_SENTENCES = {
    "PROMPTSTEP": "Think for up to {value} steps.",
    "PROMPTTOKEN": "Think for up to {value} tokens.",
    "PROMPTLONG": (
        "Answer after a long amount of thinking. If you feel like you are finished early, spend "
        "the extra time trying to double-check your work until you are absolutely sure that you "
        "have the correct answer."
    ),
    "PROMPTSHORT": (
        "Answer after a short amount of thinking. Do not spend excessive time double-checking "
        "your work."
    ),
}


def fork_control_suffix(order: tuple[str, ...]) -> str:
    """``"\n\n<sentence>"`` for the first control env var set (fork precedence), else ``""``."""
    for name in order:
        value = os.environ.get(name)
        if value is not None:
            return "\n\n" + CONTROL_SENTENCES[name].format(value=value)
    return ""


def fork_math_doc_to_text(doc: dict) -> str:
    return doc["problem"] + fork_control_suffix(FORK_MATH_CONTROLS)


def process_fork_gpqa_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """As the fork: choices as written in the data (no cleaning). One deliberate difference: the
    fork shuffles with the global ``random`` state (so the letters depend on lm-eval's seed, the
    task order and dataset caching); here, as in ``s1_gpqa_diamond``, a per-question seed."""
    keep = {"Question", "Record ID"}
    drop = [name for name in dataset.column_names if name not in keep]
    return dataset.map(_fork_gpqa_doc, remove_columns=drop)


def _fork_gpqa_doc(doc: dict) -> dict:
    return _gpqa_doc(doc, clean=False)


def fork_gpqa_doc_to_text(doc: dict) -> str:
    text = FORK_GPQA_TEMPLATE.format(
        question=doc["Question"], a=doc["choice1"], b=doc["choice2"], c=doc["choice3"],
        d=doc["choice4"],
    )  # fmt: skip
    return text + fork_control_suffix(FORK_GPQA_CONTROLS)
