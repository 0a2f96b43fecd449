"""`s1-eval compare --traces A B`: where two runs' generations part, token by token.

    s1-eval compare --traces runs/bf16:budget=64 runs/fp32:budget=64

A side is ``RUN[:SETTING]`` as for ``s1-eval compare`` (a sweep cell, or a plain ``lm_eval
--log_samples`` folder of an s1 backend). Each problem's token trace (``s1_eval.core.token_trace``:
thinking with its inserted strings, closing text, answer) is compared: identical, or the first
token index where they part, the phase there (thinking, thinking after the k-th suppression,
closing text, answer) and a few tokens either side. The summary gives the share identical, the
median and quartiles of the first divergence, and how many diverging problems changed score.
Runs on different problems, prompts or tasks are refused; other differences (model_args,
gen_kwargs) are named, since comparing them is the point.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s1_eval.common.files import UnreadableFile, read_jsonl
from s1_eval.core.token_trace import TOKENS_COLUMN, TokenTrace
from s1_eval.runs.samples import Cell, read_json
from s1_eval.trace import flat_row

#: tokens of context shown either side of a divergence
CONTEXT = 4


@dataclass(frozen=True)
class Run:
    """One side: the cell, its rows by doc id, and what it ran."""

    side: str
    cell: Cell
    rows: Mapping[int, Mapping[str, Any]]
    ran: Mapping[str, Any]

    def trace(self, doc_id: int) -> TokenTrace:
        return TokenTrace.decode(self.rows[doc_id][TOKENS_COLUMN])

    def score(self, doc_id: int) -> float | None:
        value = self.rows[doc_id].get(self.cell.metric)
        return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class ProblemDiff:
    doc_id: int
    identical: bool
    first_divergence: int | None = None
    phase_a: str = ""
    phase_b: str = ""
    context_a: str = ""
    context_b: str = ""
    score_a: float | None = None
    score_b: float | None = None

    @property
    def change(self) -> str:
        if self.identical or self.score_a is None or self.score_b is None:
            return ""
        return (
            "won" if self.score_b > self.score_a else "lost" if self.score_b < self.score_a else ""
        )


@dataclass(frozen=True)
class TraceComparison:
    a: str
    b: str
    task: str
    differences: tuple[str, ...]
    problems: tuple[ProblemDiff, ...]
    only_in_one: int

    @property
    def diverging(self) -> list[ProblemDiff]:
        return [p for p in self.problems if not p.identical]

    def summary(self) -> dict[str, Any]:
        points = sorted(p.first_divergence for p in self.diverging)
        changes = Counter(p.change for p in self.diverging)
        return {
            "problems": len(self.problems),
            "identical": len(self.problems) - len(points),
            "identical_share": (len(self.problems) - len(points)) / len(self.problems),
            "diverging": len(points),
            "first_divergence": _quartiles(points),
            "phases": dict(Counter(p.phase_a for p in self.diverging).most_common()),
            "score_changed": {"won": changes["won"], "lost": changes["lost"]},
            "only_in_one_run": self.only_in_one,
        }

    def lines(self) -> list[str]:
        out = [f"traces of {self.task}: A = {self.a}, B = {self.b}"]
        out += [f"differs: {d}" for d in self.differences] or ["differs: nothing recorded"]
        for p in self.diverging:
            where = p.phase_a if p.phase_a == p.phase_b else f"{p.phase_a} / B: {p.phase_b}"
            scored = f"; score {_num(p.score_a)} -> {_num(p.score_b)}" if p.change else ""
            out.append(f"doc {p.doc_id}: parts at token {p.first_divergence} ({where}){scored}")
            out.append(f"    A: {p.context_a}")
            out.append(f"    B: {p.context_b}")
        return [*out, summary_line(self.summary())]

    def to_json(self) -> str:
        data = {
            "a": self.a,
            "b": self.b,
            "task": self.task,
            "differences": list(self.differences),
            "summary": self.summary(),
            "problems": [asdict(p) | {"change": p.change} for p in self.problems],
        }
        return json.dumps(data, indent=2)


def summary_line(summary: Mapping[str, Any]) -> str:
    n, same = summary["problems"], summary["identical"]
    text = f"identical: {same} / {n} ({100 * summary['identical_share']:.1f} %)"
    if summary["diverging"]:
        q = summary["first_divergence"]
        phases = ", ".join(f"{k} {v}" for k, v in summary["phases"].items())
        changed = summary["score_changed"]
        text += (
            f"; first divergence of {summary['diverging']}: median token {q['median']:g}, "
            f"quartiles {q['q1']:g}-{q['q3']:g}; where: {phases}; "
            f"score changed in B: {changed['won']} won, {changed['lost']} lost"
        )
    if summary["only_in_one_run"]:
        text += f"; {summary['only_in_one_run']} problem(s) in one run only, left out"
    return text


def compare_traces(
    side_a: str, side_b: str, task: str | None = None, tokenizer: str | None = None
) -> TraceComparison:
    """Both sides' token traces, problem by problem (ValueError, one line, when they cannot be
    compared: other task, other prompts, no token trace). Context tokens are shown as text with
    ``tokenizer`` (a folder; default: A's model folder when it is here), else as ids."""
    a, b = load_run(side_a, task), load_run(side_b, task)
    if a.cell.task != b.cell.task:
        raise ValueError(
            f"traces: A ran {a.cell.task}, B ran {b.cell.task}: compare runs of one task"
        )
    shared = sorted(set(a.rows) & set(b.rows))
    if not shared:
        raise ValueError("traces: the two runs share no problem (doc_id)")
    check_same_prompts(a, b, shared)
    if tokenizer is not None and not Path(tokenizer).is_dir():
        raise ValueError(f"--tokenizer={tokenizer}: not a folder holding a tokenizer")
    decode = _decoder(tokenizer or a.ran.get("pretrained"))
    problems = tuple(diff_problem(a, b, doc_id, decode) for doc_id in shared)
    only = len(set(a.rows) ^ set(b.rows))
    return TraceComparison(side_a, side_b, a.cell.task, tuple(differences(a, b)), problems, only)


def load_run(side: str, task: str | None) -> Run:
    from s1_eval.report.compare import pick_cell

    cell = pick_cell(side, task, "exact_match", None)
    try:
        rows = [  # rows keep per-sample fields in a trace dict; older ones at their top
            flat_row(r)
            for _, r in read_jsonl(Path(cell.samples_file))
            if r.get("filter", cell.filter) == cell.filter
        ]
    except (OSError, UnreadableFile) as error:
        raise ValueError(f"{side}: {cell.samples_file}: unreadable ({error})") from None
    missing = [r.get("doc_id") for r in rows if not r.get(TOKENS_COLUMN)]
    if missing:
        raise ValueError(
            f"{side}: no token-level trace in {len(missing)} of {len(rows)} rows (doc "
            f"{missing[0]}): rerun it with an s1 backend (s1_vllm, s1_hf, s1_server) of this "
            "version, which writes trace_tokens"
        )
    by_id = {int(r["doc_id"]): r for r in rows}
    return Run(side, cell, by_id, what_ran(cell))


def what_ran(cell: Cell) -> dict[str, Any]:
    """The model, its arguments and the task's generation settings, flattened for comparison."""
    results = read_json(Path(cell.results_file), "results")
    config = results.get("config") or {}
    ran: dict[str, Any] = {"model": config.get("model")}
    for part in str(config.get("model_args") or "").split(","):
        key, sep, value = part.partition("=")
        if sep:
            ran[key.strip()] = value.strip()
    generation = ((results.get("configs") or {}).get(cell.task) or {}).get("generation_kwargs")
    for key, value in (generation or {}).items():
        ran[f"gen_kwargs.{key}"] = value
    for key in ("chat_template_sha", "system_instruction", "fewshot_as_multiturn"):
        ran[key] = results.get(key)
    ran["setting"] = cell.setting.name
    return ran


def differences(a: Run, b: Run) -> list[str]:
    out = []
    for key in dict.fromkeys([*a.ran, *b.ran]):
        left, right = a.ran.get(key), b.ran.get(key)
        if left != right:
            out.append(f"{key}: {_shown(left)} (A) vs {_shown(right)} (B)")
    return out


def check_same_prompts(a: Run, b: Run, shared: Sequence[int]) -> None:
    for field, what in (("doc_hash", "problems"), ("prompt_hash", "prompts")):
        for doc_id in shared:
            left, right = a.rows[doc_id].get(field), b.rows[doc_id].get(field)
            if left and right and left != right:
                raise ValueError(
                    f"traces: the runs used different {what}: doc {doc_id}'s {field} is "
                    f"{left[:12]}... in A, {right[:12]}... in B; compare runs of the same "
                    "task data, chat template and system instruction"
                )


def diff_problem(a: Run, b: Run, doc_id: int, decode) -> ProblemDiff:
    left, right = a.trace(doc_id), b.trace(doc_id)
    scores = {"score_a": a.score(doc_id), "score_b": b.score(doc_id)}
    index = first_divergence(left, right)
    if index is None:
        return ProblemDiff(doc_id, True, **scores)
    return ProblemDiff(
        doc_id,
        False,
        index,
        _phase(left, index),
        _phase(right, index),
        _context(left.tokens, index, decode),
        _context(right.tokens, index, decode),
        **scores,
    )


def first_divergence(left: TokenTrace, right: TokenTrace) -> int | None:
    """The first token index where the ids or their phases differ; None if identical."""
    if left == right:
        return None
    a, b = left.tokens, right.tokens
    for index in range(min(len(a), len(b))):
        if a[index] != b[index] or left.phase_at(index) != right.phase_at(index):
            return index
    return min(len(a), len(b))


def _phase(trace: TokenTrace, index: int) -> str:
    return trace.phase_at(index) if index < len(trace.tokens) else "ended"


def _context(tokens: Sequence[int], index: int, decode) -> str:
    before = [decode(t) for t in tokens[max(0, index - CONTEXT) : index]]
    after = [decode(t) for t in tokens[index : index + CONTEXT]]
    shown = " ".join(before) + " | " + (" ".join(after) if after else "(end)")
    return shown.strip()


def _decoder(pretrained: Any):
    """Token -> its text, from the run's tokenizer when its folder is here; else the id."""
    if pretrained and Path(str(pretrained)).is_dir():
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(pretrained), local_files_only=True)
            return lambda token: repr(tokenizer.decode([token]))
        except (OSError, ValueError):
            pass
    return str


def _quartiles(points: Sequence[int]) -> dict[str, float | None]:
    if not points:
        return {"q1": None, "median": None, "q3": None}
    import numpy as np

    q1, median, q3 = np.percentile(points, [25, 50, 75])
    return {"q1": float(q1), "median": float(median), "q3": float(q3)}


def _shown(value: Any) -> str:
    return "-" if value is None else json.dumps(value) if not isinstance(value, str) else value


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"
