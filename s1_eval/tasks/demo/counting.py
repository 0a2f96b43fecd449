"""A seeded counting task whose answer needs a chain of written steps: s1 in miniature.

    rows = generate_problems(num_problems=50, seed=0, split="test")   # [{"problem", "answer"}]

A problem lists 4-9 distinct words in one to three groups separated by semicolons ("door,
tomato; island, tiger."); the answer is how many words there are (one digit: copying the count
into the answer is one token). The reasoning trace enumerates them ("1 door", "2 tomato", ...),
one short line per word, so a trace cut before the last word ends on a wrong count: accuracy
rises with the thinking budget. Each step (copy the next word, add one) is easy for a small
pretrained model, which is what lets a few minutes of fine-tuning on 2 CPU cores learn it.

The training traces also carry the pattern of real reasoning traces that "Wait" exploits: at
the end of each group, a trace either concludes too soon (closes its thinking and answers the
count so far: wrong) or writes "Wait, tomato; island" (the question's own text at that point)
and counts on. Concluding is the more frequent of the two, so the trained model, decoding
greedily, stops at every group's end, and each forced "Wait" makes it read one more group.
At the real end a "Wait" leads to "Wait, tiger. 4 words." and the trace closes again (the
count restated next to where the answer is written, however many "Wait"s were forced). What follows the
word after "Wait," is copied from the question (";" or "."), the move small transformers learn
first, so the model finds out there whether the list goes on. ``TraceMix`` holds the shares.
``write_training_set`` writes the traces in the s1K schema that ``s1-train`` reads; train and
test problems never overlap.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import datasets

from s1_eval.common.files import write_atomic

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
MIN_WORDS, MAX_WORDS = 4, 9
MIN_GROUP, MAX_GROUP = 2, 4  # words per group
#: how many groups a list has: 1 (never premature), 2 or 3 (a premature end at each group's end)
GROUP_WEIGHTS = {"test": {1: 0.4, 2: 0.3, 3: 0.3},
                 # training sees more long lists: reading on is the rarer move there
                 "train": {1: 0.25, 2: 0.35, 3: 0.4}}  # fmt: skip
DEFAULT_NUM_PROBLEMS = 50
DEFAULT_SEED = 0
Split = Literal["train", "test"]
Groups = list[list[str]]


@dataclass(frozen=True)
class TraceMix:
    """Shares of the training traces' moves (each drawn per trace, seeded).

    ``conclude_early``: at the end of each group but the last, the trace ends there and answers
    the count so far; otherwise it writes "Wait, X; Y" and counts on to the next group's end.
    ``confirm_end``: at the list's real end, the trace adds "Wait, X. N words." before closing (and
    ``confirm_again`` a second time), so a "Wait" forced at the real end leads to a
    confirmation, not to more counting.
    """

    conclude_early: float = 0.6
    confirm_end: float = 0.5
    confirm_again: float = 0.4


TRACE_MIX = TraceMix()


def _groups(rng: random.Random, split: Split) -> Groups:
    weights = GROUP_WEIGHTS[split]
    num_groups = rng.choices(list(weights), weights=list(weights.values()))[0]
    sizes = [rng.randint(MIN_GROUP, MAX_GROUP) for _ in range(num_groups)]
    while sum(sizes) < MIN_WORDS:
        sizes[rng.randrange(num_groups)] += 1
    while sum(sizes) > MAX_WORDS:
        sizes[sizes.index(max(sizes))] -= 1
    words = rng.sample(WORDS, sum(sizes))
    out, at = [], 0
    for size in sizes:
        out.append(words[at : at + size])
        at += size
    return out


def question(groups: Groups) -> str:
    # one line, each word one token after its space: what follows a word in the question ("," ";"
    # or ".") is one token, which the trace copies after "Wait, <word>"
    listed = "; ".join(", ".join(group) for group in groups)
    return f"How many words are in this list? {listed}."


def count(groups: Groups) -> int:
    return sum(len(group) for group in groups)


def thinking(groups: Groups, reads_on: int | None = None, confirms: int = 0) -> str:
    """The trace: one numbered line per word, its last number the count it answers.

    The trace reads on past ``reads_on`` group ends ("Wait, X; Y", copied from the question)
    before it concludes (default: all of them, a complete count); fewer is a premature
    conclusion. A complete trace may add ``confirms`` times "Wait, X. N words." (the question's
    text, then the count), what a "Wait" forced at the real end should lead to.
    """
    reads_on = len(groups) - 1 if reads_on is None else reads_on
    steps, number = [], 0
    for index, group in enumerate(groups[: reads_on + 1]):
        if index:
            steps.append(f"Wait, {groups[index - 1][-1]}; {group[0]}")
        for word in group:
            number += 1
            steps.append(f"{number} {word}")
    if reads_on == len(groups) - 1:
        steps += [f"Wait, {groups[-1][-1]}. {number} words."] * confirms
    return "\n".join(steps)


def _generate(num_problems: int, seed: int, split: Split) -> list[Groups]:
    rng = random.Random(f"s1-eval-counting-groups/{split}/{seed}")
    # train and test draw from one space: test problems are drawn first and never trained on
    held_out = set()
    if split == "train":
        held_out = {_key(p) for p in _generate(DEFAULT_NUM_PROBLEMS * 10, seed, "test")}
    problems: list[Groups] = []
    while len(problems) < num_problems:
        groups = _groups(rng, split)
        if _key(groups) not in held_out:
            problems.append(groups)
    return problems


def _key(groups: Groups) -> tuple[str, ...]:
    # the same words in the same order are the same problem, however they are grouped
    return tuple(word for group in groups for word in group)


def generate_problems(
    num_problems: int = DEFAULT_NUM_PROBLEMS, seed: int = DEFAULT_SEED, split: Split = "test"
) -> list[dict[str, Any]]:
    """Held-out rows for the lm-eval task: ``problem``, ``answer`` (a count), ``groups``, a key."""
    return [
        {
            "doc_key": f"count-{seed}-{i}",
            "problem": question(groups),
            "answer": str(count(groups)),
            "groups": len(groups),
        }
        for i, groups in enumerate(_generate(int(num_problems), int(seed), split))
    ]


def training_rows(
    num_problems: int, seed: int = DEFAULT_SEED, mix: TraceMix = TRACE_MIX
) -> list[dict[str, Any]]:
    """Rows in the s1K schema (question, thinking_trajectories, attempt, ...).

    ``metadata`` says which kind of trace each row is (``complete``, or ``premature``: concluded
    at a group's end with a wrong count) and how many group ends it read past after "Wait".
    """
    rng = random.Random(f"s1-eval-counting-traces/{seed}")
    rows = []
    for groups in _generate(num_problems, seed, "train"):
        reads_on = 0
        while reads_on < len(groups) - 1 and rng.random() >= mix.conclude_early:
            reads_on += 1
        complete = reads_on == len(groups) - 1
        confirms = 0
        if complete and rng.random() < mix.confirm_end:
            confirms = 2 if rng.random() < mix.confirm_again else 1
        answer = count(groups[: reads_on + 1])
        kind = "complete" if complete else "premature"
        rows.append(
            {
                "question": question(groups),
                "solution": str(count(groups)),
                "cot_type": "counting",
                "source_type": "s1-eval/counting",
                "metadata": json.dumps(
                    {
                        "words": count(groups),
                        "groups": len(groups),
                        "trace": kind,
                        "waits": reads_on,
                        "confirms": confirms,
                    }
                ),
                "thinking_trajectories": [thinking(groups, reads_on, confirms)],
                "attempt": f"$\\boxed{{{answer}}}$",
            }
        )
    return rows


def mix_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many training rows show each move (from their ``metadata``)."""
    meta = [json.loads(row["metadata"]) for row in rows]
    return {
        "rows": len(meta),
        "one group (complete, nothing to conclude early)": sum(m["groups"] == 1 for m in meta),
        "several groups, concluded too soon at a group's end": sum(
            m["trace"] == "premature" for m in meta
        ),
        'several groups, read on after "Wait" to the real end': sum(
            m["groups"] > 1 and m["trace"] == "complete" for m in meta
        ),
        'with a "Wait" that reads on (in any of the above)': sum(m["waits"] > 0 for m in meta),
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
