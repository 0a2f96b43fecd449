"""A seeded counting task whose answer needs a chain of written steps: s1 in miniature.

    rows = generate_problems(num_problems=50, seed=0, split="test")   # [{"problem", "answer"}]

A problem lists 4-13 distinct words over one to three lines; the answer is how many there
are. The reasoning trace enumerates them ("1 apple", "2 river", ...), one short line per word,
so a trace cut before the last word ends on a wrong count: accuracy rises with the thinking
budget. Each step (copy the next word, add one) is easy for a small pretrained model, which is
what lets a few minutes of fine-tuning on 2 CPU cores learn it.

The training traces also carry the pattern of real reasoning traces that "Wait" exploits: at
each line break, a trace either concludes too soon (closes its thinking and answers the count
so far: wrong) or writes "Wait, after X comes Y." and counts on. Concluding is the more
frequent of the two, so the trained model, decoding greedily, stops at every line break, and
each forced "Wait" makes it read one more line. ``TraceMix`` holds the shares.
``write_training_set`` writes the traces in the s1K schema that ``s1-train`` reads; train and test problems never overlap.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import datasets

from s1_eval.files import write_atomic

# Each is one token after a space in SmolLM2's tokenizer, so a step costs 3-4 tokens.
WORDS = (
    "apple",
    "river",
    "stone",
    "cloud",
    "horse",
    "lamp",
    "chair",
    "bread",
    "music",
    "tiger",
    "garden",
    "window",
    "candle",
    "pencil",
    "rocket",
    "forest",
    "island",
    "orange",
    "silver",
    "winter",
    "summer",
    "dragon",
    "castle",
    "bottle",
    "button",
    "carpet",
    "mirror",
    "ladder",
    "jacket",
    "basket",
    "kettle",
    "pillow",
    "rabbit",
    "violin",
    "wallet",
    "anchor",
    "banana",
    "cactus",
    "coffee",
    "donkey",
    "engine",
    "falcon",
    "guitar",
    "hammer",
    "jungle",
    "lemon",
    "magnet",
    "needle",
    "parrot",
    "pepper",
    "planet",
    "puzzle",
    "saddle",
    "tomato",
    "tunnel",
    "turtle",
    "wagon",
    "zebra",
    "book",
    "tree",
    "fish",
    "bird",
    "ship",
    "coin",
    "ring",
    "moon",
    "star",
    "door",
)
MIN_WORDS, MAX_WORDS = 4, 13
MIN_LINE, MAX_LINE = 2, 5  # words per line
#: how many lines a list spans: 1 (never premature), 2 or 3 (a premature end at each break)
LINE_WEIGHTS = {"test": {1: 0.4, 2: 0.3, 3: 0.3},
                # training sees more long lists: reading past a break is the rarer move there
                "train": {1: 0.25, 2: 0.35, 3: 0.4}}  # fmt: skip
DEFAULT_NUM_PROBLEMS = 50
DEFAULT_SEED = 0
Split = Literal["train", "test"]


@dataclass(frozen=True)
class TraceMix:
    """Shares of the training traces' moves (each drawn per trace, seeded).

    ``conclude_early``: at each line break, the trace ends there and answers the count so far;
    otherwise it writes "Wait, after X comes Y." and counts on to the next break.
    ``confirm_end``: at the list's real end, the trace adds "Wait, X is the last word." before
    closing (and ``confirm_again`` a second time), so a "Wait"
    forced at the real end leads to a confirmation, not to more counting.
    """

    conclude_early: float = 0.6
    confirm_end: float = 0.4
    confirm_again: float = 0.3


TRACE_MIX = TraceMix()


def _lines(rng: random.Random, split: Split) -> list[list[str]]:
    weights = LINE_WEIGHTS[split]
    num_lines = rng.choices(list(weights), weights=list(weights.values()))[0]
    sizes = [rng.randint(MIN_LINE, MAX_LINE) for _ in range(num_lines)]
    while sum(sizes) < MIN_WORDS:
        sizes[rng.randrange(num_lines)] += 1
    while sum(sizes) > MAX_WORDS:
        sizes[sizes.index(max(sizes))] -= 1
    words = rng.sample(WORDS, sum(sizes))
    out, at = [], 0
    for size in sizes:
        out.append(words[at : at + size])
        at += size
    return out


def question(lines: list[list[str]]) -> str:
    # "- " before each line: a line's first word is then the same token as in the trace; the
    # full stop after the last word tells the list's end from a line's end one token ahead
    listed = "".join(f"\n- {', '.join(line)}" for line in lines)
    return f"How many words are in this list?{listed}."


def count(lines: list[list[str]]) -> int:
    return sum(len(line) for line in lines)


def thinking(lines: list[list[str]], breaks: int | None = None, confirms: int = 0) -> str:
    """The trace: one numbered line per word, its last number the count it answers.

    ``breaks`` line breaks are read past ("Wait, after X comes Y.", Y copied from the list)
    before the trace concludes (default: all of them, a complete count); fewer is a premature
    conclusion. A complete trace may add ``confirms`` times "Wait, X is the last word.", what
    a "Wait" forced at the real end should lead to.
    """
    breaks = len(lines) - 1 if breaks is None else breaks
    steps, number = [], 0
    for index, line in enumerate(lines[: breaks + 1]):
        if index:
            steps.append(f"Wait, after {lines[index - 1][-1]} comes {line[0]}.")
        for word in line:
            number += 1
            steps.append(f"{number} {word}")
    if breaks == len(lines) - 1:
        steps += [f"Wait, {lines[-1][-1]} is the last word."] * confirms
    return "\n".join(steps)


def _generate(num_problems: int, seed: int, split: Split) -> list[list[list[str]]]:
    rng = random.Random(f"s1-eval-counting-lines/{split}/{seed}")
    # train and test draw from one space: test problems are drawn first and never trained on
    held_out = set()
    if split == "train":
        held_out = {_key(p) for p in _generate(DEFAULT_NUM_PROBLEMS * 10, seed, "test")}
    problems: list[list[list[str]]] = []
    while len(problems) < num_problems:
        lines = _lines(rng, split)
        if _key(lines) not in held_out:
            problems.append(lines)
    return problems


def _key(lines: list[list[str]]) -> tuple[str, ...]:
    # the same words in the same order are the same problem, however the lines break
    return tuple(word for line in lines for word in line)


def generate_problems(
    num_problems: int = DEFAULT_NUM_PROBLEMS, seed: int = DEFAULT_SEED, split: Split = "test"
) -> list[dict[str, Any]]:
    """Held-out rows for the lm-eval task: ``problem``, ``answer`` (a count), ``lines``, a key."""
    return [
        {
            "doc_key": f"count-{seed}-{i}",
            "problem": question(lines),
            "answer": str(count(lines)),
            "lines": len(lines),
        }
        for i, lines in enumerate(_generate(int(num_problems), int(seed), split))
    ]


def training_rows(
    num_problems: int, seed: int = DEFAULT_SEED, mix: TraceMix = TRACE_MIX
) -> list[dict[str, Any]]:
    """Rows in the s1K schema (question, thinking_trajectories, attempt, ...).

    ``metadata`` says which kind of trace each row is (``complete``, or ``premature``: concluded
    at a line break with a wrong count) and how many line breaks it read past after "Wait".
    """
    rng = random.Random(f"s1-eval-counting-traces/{seed}")
    rows = []
    for lines in _generate(num_problems, seed, "train"):
        breaks = 0
        while breaks < len(lines) - 1 and rng.random() >= mix.conclude_early:
            breaks += 1
        complete = breaks == len(lines) - 1
        confirms = 0
        if complete and rng.random() < mix.confirm_end:
            confirms = 2 if rng.random() < mix.confirm_again else 1
        answer = sum(len(line) for line in lines[: breaks + 1])
        kind = "complete" if complete else "premature"
        rows.append(
            {
                "question": question(lines),
                "solution": str(count(lines)),
                "cot_type": "counting",
                "source_type": "s1-eval/counting",
                "metadata": json.dumps(
                    {
                        "words": count(lines),
                        "lines": len(lines),
                        "trace": kind,
                        "waits": breaks,
                        "confirms": confirms,
                    }
                ),
                "thinking_trajectories": [thinking(lines, breaks, confirms)],
                "attempt": f"$\\boxed{{{answer}}}$",
            }
        )
    return rows


def mix_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many training rows show each move (from their ``metadata``)."""
    meta = [json.loads(row["metadata"]) for row in rows]
    return {
        "rows": len(meta),
        "one line (complete, no line break)": sum(m["lines"] == 1 for m in meta),
        "several lines, concluded too soon at a line break": sum(
            m["trace"] == "premature" for m in meta
        ),
        'several lines, read past every line break after "Wait"': sum(
            m["lines"] > 1 and m["trace"] == "complete" for m in meta
        ),
        'with a "Wait" after a line break (in any of the above)': sum(m["waits"] > 0 for m in meta),
        'with a "Wait" confirming the real end': sum(m["confirms"] > 0 for m in meta),
    }


def write_training_set(
    path: str | os.PathLike, num_problems: int, seed: int = DEFAULT_SEED
) -> Path:
    """Write the s1K-format JSONL atomically (a killed run never leaves half a file)."""
    path = Path(path)
    write_atomic(path, "".join(json.dumps(row) + "\n" for row in training_rows(num_problems, seed)))
    return path


def load_counting(
    demo_num_problems: int = DEFAULT_NUM_PROBLEMS, demo_seed: int = DEFAULT_SEED, **_metadata: Any
) -> datasets.DatasetDict:
    """lm-eval custom_dataset hook: ``--metadata '{"demo_num_problems": 100}'``.

    lm-eval merges ``--model_args`` into the metadata, hence the ``demo_`` prefix: a model's
    ``seed=0`` must not change the problems.
    """
    rows = generate_problems(int(demo_num_problems), int(demo_seed), "test")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def doc_to_text(doc: dict) -> str:
    return doc["problem"]
