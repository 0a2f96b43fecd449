"""Measure the untrained SmolLM2's accuracy on the stock demo task, to pick its difficulty.

    python scripts/calibrate_stock_demo.py --difficulty 1 --num-problems 40 --thinking-tokens 150

A developer tool, not shipped: it runs the same forcing loop as the backends (``force_generate``
over the transformers engine) with the `plain` preset, greedy, and grades with the task's own
grader. Keep the stock demo's accuracy between 20% and 80%.
"""

from __future__ import annotations

import argparse
import time

from s1_eval.core.forcing import force_generate
from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.demo.smollm2 import ensure_smollm2
from s1_eval.engines.hf import HFEngine
from s1_eval.grading.grade import grade_math
from s1_eval.tasks.demo.arithmetic import doc_to_text, generate_problems

ANSWER_TOKENS = 12


def calibrate(difficulty: int, num_problems: int, thinking_tokens: int, seed: int) -> float:
    engine = HFEngine.load(str(ensure_smollm2()), dtype="float32")
    rows = generate_problems(num_problems, seed, difficulty)
    chat = engine.tokenizer.hf.apply_chat_template
    prompts = [
        engine.tokenizer.encode(
            chat(
                [{"role": "user", "content": doc_to_text(r)}],
                tokenize=False,
                add_generation_prompt=True,
            )
        )
        for r in rows
    ]
    settings = parse_gen_kwargs(
        {"max_tokens_thinking": thinking_tokens, "max_tokens_answer": ANSWER_TOKENS},
        preset="plain",
    )
    correct = 0
    for row, response in zip(rows, force_generate(engine, prompts, settings), strict=True):
        grade = grade_math(response, row["answer"])
        correct += grade.correct
        print(
            f"{row['answer']:>4} {grade.extracted!r:>8} {int(grade.correct)} {response.answer[:40]!r}"
        )
    return correct / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulty", type=int, default=1)
    parser.add_argument("--num-problems", type=int, default=40)
    parser.add_argument("--thinking-tokens", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    began = time.time()
    accuracy = calibrate(args.difficulty, args.num_problems, args.thinking_tokens, args.seed)
    print(
        f"difficulty={args.difficulty} problems={args.num_problems} "
        f"thinking_tokens={args.thinking_tokens}: accuracy {accuracy:.1%} "
        f"({time.time() - began:.0f} s)"
    )


if __name__ == "__main__":
    main()
