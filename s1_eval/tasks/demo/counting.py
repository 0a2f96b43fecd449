"""A seeded counting task whose answer needs a chain of written steps: s1 in miniature.

    rows = generate_problems(num_problems=50, seed=0, split="test")   # [{"problem", "answer"}]

A problem lists 4-16 distinct words; the answer is how many there are. The reasoning trace
enumerates them ("1 apple", "2 river", ...), one short line per word, so a trace cut before
the last word ends on a wrong count: accuracy rises with the thinking budget. Each step
(copy the next word, add one) is easy for a small pretrained model, which is what lets a
five-minute fine-tune on 2 CPU cores learn it. ``write_training_set`` writes the same family
in the s1K schema that ``s1-train`` reads; train and test problems never overlap.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Literal

import datasets

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
MIN_WORDS, MAX_WORDS = 4, 16
DEFAULT_NUM_PROBLEMS = 50
DEFAULT_SEED = 0
Split = Literal["train", "test"]


def _words(rng: random.Random) -> list[str]:
    return rng.sample(WORDS, rng.randint(MIN_WORDS, MAX_WORDS))


def question(words: list[str]) -> str:
    return f"How many words are in this list? {', '.join(words)}."


def thinking(words: list[str]) -> str:
    """The trace: one numbered line per word; its last number is the answer."""
    return "\n".join(f"{i} {word}" for i, word in enumerate(words, start=1))


def _generate(num_problems: int, seed: int, split: Split) -> list[list[str]]:
    rng = random.Random(f"s1-eval-counting/{split}/{seed}")
    # train and test draw from one space: test problems are drawn first and never trained on
    held_out = set()
    if split == "train":
        held_out = {tuple(w) for w in _generate(DEFAULT_NUM_PROBLEMS * 10, seed, "test")}
    problems: list[list[str]] = []
    while len(problems) < num_problems:
        words = _words(rng)
        if tuple(words) not in held_out:
            problems.append(words)
    return problems


def generate_problems(
    num_problems: int = DEFAULT_NUM_PROBLEMS, seed: int = DEFAULT_SEED, split: Split = "test"
) -> list[dict[str, Any]]:
    """Held-out rows for the lm-eval task: ``problem``, ``answer`` (a count) and a key."""
    return [
        {"doc_key": f"count-{seed}-{i}", "problem": question(words), "answer": str(len(words))}
        for i, words in enumerate(_generate(int(num_problems), int(seed), split))
    ]


def training_rows(num_problems: int, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """Rows in the s1K schema (question, thinking_trajectories, attempt, ...)."""
    rows = []
    for words in _generate(num_problems, seed, "train"):
        rows.append(
            {
                "question": question(words),
                "solution": str(len(words)),
                "cot_type": "counting",
                "source_type": "s1-eval/counting",
                "metadata": json.dumps({"words": len(words)}),
                "thinking_trajectories": [thinking(words)],
                "attempt": f"$\\boxed{{{len(words)}}}$",
            }
        )
    return rows


def write_training_set(
    path: str | os.PathLike, num_problems: int, seed: int = DEFAULT_SEED
) -> Path:
    """Write the s1K-format JSONL atomically (a killed run never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        for row in training_rows(num_problems, seed):
            out.write(json.dumps(row) + "\n")
    os.replace(staging, path)
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
