"""Seeded arithmetic word problems with integer answers, generated in process (no download).

    rows = generate_problems(num_problems=50, seed=1234, difficulty=1)   # [{"problem", "answer"}, ...]

The difficulty knob picks the templates: 1 = a bare sum "What is 3 + 4?", 2 = one addition in
a story, numbers up to 5, 3 = one addition or subtraction up to 9, 4 = one step up to 20
(multiplication too), 5 = two steps. The same arguments always
give the same problems, so runs and machines compare like with like.
"""

from __future__ import annotations

import random
from typing import Any

import datasets

from s1_eval.common.errors import InputError

NAMES = ("Tom", "Anna", "Ben", "Mia", "Sam", "Lily", "Max", "Emma", "Leo", "Zoe")
OBJECTS = ("apples", "pencils", "marbles", "stickers", "cookies", "books", "coins", "cards")
DEFAULT_NUM_PROBLEMS = 50
DEFAULT_SEED = 1234
DEFAULT_DIFFICULTY = 1


def _add(rng: random.Random, top: int) -> tuple[str, int]:
    name, other = rng.sample(NAMES, 2)
    thing = rng.choice(OBJECTS)
    a, b = rng.randint(1, top), rng.randint(1, top)
    text = f"{name} has {a} {thing}. {other} gives {name} {b} more {thing}. "
    return text + f"How many {thing} does {name} have now?", a + b


def _subtract(rng: random.Random, top: int) -> tuple[str, int]:
    name, other = rng.sample(NAMES, 2)
    thing = rng.choice(OBJECTS)
    a = rng.randint(2, top)
    b = rng.randint(1, a - 1)
    text = f"{name} has {a} {thing}. {name} gives {b} {thing} to {other}. "
    return text + f"How many {thing} does {name} have left?", a - b


def _multiply(rng: random.Random, top: int) -> tuple[str, int]:
    name = rng.choice(NAMES)
    thing = rng.choice(OBJECTS)
    a, b = rng.randint(2, min(top, 9)), rng.randint(2, min(top, 9))
    text = f"{name} buys {a} boxes with {b} {thing} in each box. "
    return text + f"How many {thing} does {name} have?", a * b


def _bare_sum(rng: random.Random, top: int) -> tuple[str, int]:
    a, b = rng.randint(1, top), rng.randint(1, top)
    return f"What is {a} + {b}?", a + b


def _two_steps(rng: random.Random, top: int) -> tuple[str, int]:
    name, other = rng.sample(NAMES, 2)
    thing = rng.choice(OBJECTS)
    a, b = rng.randint(2, top), rng.randint(1, top)
    c = rng.randint(1, a + b - 1)
    text = (
        f"{name} has {a} {thing}. {other} gives {name} {b} more {thing}. "
        f"Then {name} loses {c} {thing}. "
    )
    return text + f"How many {thing} does {name} have now?", a + b - c


LEVELS = {
    1: ((_bare_sum,), 9),
    2: ((_add,), 5),
    3: ((_add, _subtract), 9),
    4: ((_add, _subtract, _multiply), 20),
    5: ((_two_steps,), 20),
}


def generate_problems(
    num_problems: int = DEFAULT_NUM_PROBLEMS,
    seed: int = DEFAULT_SEED,
    difficulty: int = DEFAULT_DIFFICULTY,
) -> list[dict[str, Any]]:
    if difficulty not in LEVELS:
        raise InputError(f"difficulty must be one of {sorted(LEVELS)}, got {difficulty!r}")
    templates, top = LEVELS[difficulty]
    rng = random.Random(f"s1-eval-demo/{seed}/{difficulty}")
    rows = []
    for index in range(int(num_problems)):
        problem, answer = rng.choice(templates)(rng, top)
        rows.append(
            {"doc_key": f"demo-{difficulty}-{index}", "problem": problem, "answer": str(answer)}
        )
    return rows


def load_demo(
    demo_num_problems: int = DEFAULT_NUM_PROBLEMS,
    demo_seed: int = DEFAULT_SEED,
    demo_difficulty: int = DEFAULT_DIFFICULTY,
    **_metadata: Any,
) -> datasets.DatasetDict:
    """lm-eval custom_dataset hook: ``--metadata '{"demo_difficulty": 2, "demo_num_problems": 100}'``.

    lm-eval merges ``--model_args`` into the metadata it passes here, hence the ``demo_``
    prefix: a model's ``seed=0`` must not change the problems.
    """
    rows = generate_problems(int(demo_num_problems), int(demo_seed), int(demo_difficulty))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def doc_to_text(doc: dict) -> str:
    return f"{doc['problem']} Answer with a number."
