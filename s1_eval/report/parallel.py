"""Parallel scaling at equal token cost: majority@k and short-m@k runs from k seeded samples.

    cells = with_parallel_runs(load_cells(["runs/x"])[0])   # the "parallel" cells replaced

A sweep's ``parallel`` cells are k seeded samples of every problem (``s1_eval.sweep.decoding``).
Each k of their level gives two derived runs, each problem scored once, on the axis of the total
thinking tokens spent on it across the samples:

- ``majority`` (majority@k; the s1 paper's Fig. 4b comparison): the most frequent extracted
  answer of the first k samples (a tie goes to the answer seen first); cost: every sample's
  thinking;
- ``short-m`` (short-m@k, "Don't Overthink It", arXiv 2505.17813): the k samples run side by
  side and stop once m of them finished thinking, i.e. the m with the least thinking; the vote
  is among those m (a tie goes to the shortest); cost: each sample's thinking up to the m-th
  shortest, the moment the others were stopped.

A derived run's budget is k x the per-sample cap (its Control bound on the total).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

from s1_eval.common.files import read_jsonl
from s1_eval.runs.folder import Setting
from s1_eval.runs.methods import read_parallel_level
from s1_eval.runs.samples import Cell
from s1_eval.trace import SampleRecord


def with_parallel_runs(cells: Sequence[Cell]) -> list[Cell]:
    """``cells`` with each group of parallel samples replaced by its derived runs."""
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    out: list[Cell] = []
    for cell in cells:
        if cell.setting.method == "parallel":
            key = (cell.model, cell.task, cell.run_dir, cell.setting.unseeded)
            groups[key].append(cell)
        else:
            out.append(cell)
    for members in groups.values():
        out += derived_runs(sorted(members, key=lambda c: c.setting.seed or 0))
    return out


def derived_runs(samples: Sequence[Cell]) -> list[Cell]:
    """majority@k and short-m@k cells from one group of seeded sample cells (seed order)."""
    ks, m = read_parallel_level(samples[0].setting.level)
    answers = [_answers(cell) for cell in samples]
    per_sample_cap = samples[0].setting.cap
    runs = []
    for k in ks or (len(samples),):
        if k > len(samples):
            continue  # the sweep is still running: no k-th sample yet
        group = samples[:k]
        total = k * per_sample_cap if per_sample_cap is not None else None
        runs.append(_cell(group, answers[:k], "majority", str(k), total, majority))
        if k >= m:
            vote = lambda rows, m=m: short_m(rows, m)  # noqa: E731
            runs.append(_cell(group, answers[:k], "short-m", f"{m}@{k}", total, vote))
    return runs


def _answers(cell: Cell) -> dict[int, str]:
    rows = [row for _, row in read_jsonl(cell.samples_file)]
    return {
        int(r.get("doc_id", -1)): str(r.get("extracted_answer") or "")
        for r in rows
        if str(r.get("filter", "none")) == cell.filter
    }


def majority(rows: Sequence[tuple[SampleRecord, str]]) -> tuple[SampleRecord, int | None]:
    """(the sample whose answer won, the thinking tokens spent) over every sample."""
    return _vote(rows), _sum(r.thinking_tokens for r, _ in rows)


def short_m(rows: Sequence[tuple[SampleRecord, str]], m: int) -> tuple[SampleRecord, int | None]:
    """(the winner among the m shortest thinkers, the tokens spent until the m-th finished)."""
    lengths = [r.thinking_tokens for r, _ in rows]
    if any(n is None for n in lengths):
        return _vote(rows[:m]), None
    order = sorted(range(len(rows)), key=lambda i: (lengths[i], i))
    first = [rows[i] for i in order[:m]]
    stop = lengths[order[m - 1]]
    return _vote(first), sum(min(n, stop) for n in lengths)


def _vote(rows: Sequence[tuple[SampleRecord, str]]) -> SampleRecord:
    counts = Counter(answer for _, answer in rows if answer)
    if not counts:
        return rows[0][0]
    best = max(counts.values())
    winner = next(a for _, a in rows if counts.get(a) == best)  # ties: the first seen
    return next(r for r, a in rows if a == winner)


def _sum(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _cell(group, answers, method, level, total, vote) -> Cell:
    by_doc = [{r.doc_id: r for r in cell.records} for cell in group]
    docs = [d for d in by_doc[0] if all(d in b for b in by_doc) and all(d in a for a in answers)]
    records = []
    for doc in docs:
        winner, spent = vote([(b[doc], a[doc]) for b, a in zip(by_doc, answers, strict=True)])
        records.append(
            SampleRecord(
                doc_id=doc,
                correct=winner.correct,
                thinking_tokens=spent,
                max_tokens_thinking=total,
                doc_hash=winner.doc_hash,
            )
        )
    first = group[0]
    seconds = [c.seconds for c in group]
    return replace(
        first,
        setting=Setting(total, method=method, level=level),
        records=tuple(records),
        marker=None,
        seconds=sum(seconds) if method == "majority" and None not in seconds else None,
    )
