"""Is a difference real? Paired comparisons of two settings on the same problems, and bootstrap
intervals for the paper's curve metrics.

    result = compare_records(baseline_records, forced_records); print(result.verdict)

A benchmark like AIME24 has 30 problems, so one problem moves accuracy by 3.3 points. Two
settings run on the same problems are compared problem by problem: the 95 % interval of the
accuracy difference comes from a seeded paired bootstrap over problems, the p-value from an
exact McNemar test on the problems only one of them answered (scipy does both). Scaling gets its
interval the same way: resample problems, recompute every cell of the curve, recompute the slope.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from s1_eval.common.errors import NoSharedProblems
from s1_eval.report.metrics import mean_stderr, scaling_of_arrays
from s1_eval.trace import SampleRecord

CONFIDENCE = 0.95
RESAMPLES = 10_000
SEED = 0


Direction = Literal["better", "worse", "within noise"]


def direction(difference_pct: float, significant: bool) -> Direction:
    """The one word a paired comparison ends in, wherever it is printed."""
    if not significant:
        return "within noise"
    return "better" if difference_pct > 0 else "worse"


@dataclass(frozen=True)
class Comparison:
    """B − A on the problems both scored, in accuracy points, with a paired interval."""

    n: int
    accuracy_a_pct: float
    accuracy_b_pct: float
    difference_pct: float
    ci_low_pct: float
    ci_high_pct: float
    wins: int  # problems B answers correctly and A does not
    losses: int  # the other way round
    mcnemar_p: float
    confidence: float = CONFIDENCE
    n_resamples: int = RESAMPLES
    seed: int = SEED
    label_a: str = "A"
    label_b: str = "B"

    @property
    def ties(self) -> int:
        return self.n - self.wins - self.losses

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.ci_low_pct > 0 or self.ci_high_pct < 0

    @property
    def direction(self) -> Direction:
        return direction(self.difference_pct, self.significant)

    @property
    def verdict(self) -> str:
        """One line: B better / worse than A, or within noise (the interval contains 0)."""
        level = round(100 * self.confidence)
        interval = f"{level} % interval [{self.ci_low_pct:+.1f}, {self.ci_high_pct:+.1f}]"
        if not self.significant:
            return f"within noise: B - A = {self.difference_pct:+.1f} points, {interval} contains 0"
        return f"B is {self.direction} than A: {self.difference_pct:+.1f} points, {interval} excludes 0"

    def lines(self) -> list[str]:
        """The plain-text block `s1-eval compare` prints."""
        level = round(100 * self.confidence)
        return [
            f"A: {self.label_a}",
            f"B: {self.label_b}",
            f"problems both scored: {self.n}",
            f"accuracy: A {self.accuracy_a_pct:.1f} %, B {self.accuracy_b_pct:.1f} %",
            f"B - A: {self.difference_pct:+.1f} points, {level} % paired bootstrap interval "
            f"[{self.ci_low_pct:+.1f}, {self.ci_high_pct:+.1f}] ({self.n_resamples} resamples, "
            f"seed {self.seed})",
            f"won {self.wins} / lost {self.losses} / tied {self.ties}; "
            f"exact McNemar p = {self.mcnemar_p:.3g}",
            f"verdict: {self.verdict}",
        ]


def percentile_interval(
    statistic,
    n: int,
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
    vectorized: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(problem_indices)`` over ``n`` problems.

    ``vectorized``: the statistic takes an ``axis`` keyword and a batch of index rows."""
    from scipy.stats import bootstrap

    if n == 0:
        raise NoSharedProblems("no problems to resample")
    if n == 1:  # every resample is the one problem: the interval is the point
        one = np.zeros((1, 1), dtype=int)
        value = float(
            np.asarray(statistic(one, axis=-1)).ravel()[0] if vectorized else statistic(one[0])
        )
        return value, value
    result = bootstrap(
        (np.arange(n),),
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=vectorized,
        rng=seed,
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def mcnemar_p(wins: int, losses: int) -> float:
    """Exact two-sided McNemar p-value: the discordant problems as a fair coin (1.0 if none)."""
    from scipy.stats import binomtest

    discordant = wins + losses
    return 1.0 if discordant == 0 else float(binomtest(wins, discordant, 0.5).pvalue)


def shared_scores(
    a: Sequence[SampleRecord], b: Sequence[SampleRecord]
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Doc ids both runs scored (in order) and their scores, 0/1 per problem.

    Raises NoSharedProblems when there are none, or when a shared doc id holds a different
    document in the two runs (lm-eval's ``doc_hash`` differs: another data revision)."""
    scored_a = {r.doc_id: r for r in a if r.correct is not None}
    ids = sorted(r.doc_id for r in b if r.correct is not None and r.doc_id in scored_a)
    if not ids:
        raise NoSharedProblems("the two runs share no scored problem")
    hashes_b = {r.doc_id: r.doc_hash for r in b}
    changed = [
        i
        for i in ids
        if scored_a[i].doc_hash and hashes_b[i] and scored_a[i].doc_hash != hashes_b[i]
    ]
    if changed:
        raise NoSharedProblems(
            f"{len(changed)} of {len(ids)} shared doc ids hold different documents "
            f"(doc_hash differs, e.g. doc {changed[0]}): another data revision or task"
        )
    by_id_b = {r.doc_id: r.correct for r in b}
    return (
        ids,
        np.array([float(scored_a[i].correct) for i in ids]),
        np.array([float(by_id_b[i]) for i in ids]),
    )


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of B minus A on the problems both scored, in accuracy points.

    ``stderr_pct`` is the paired standard error (the stderr of the per-problem differences):
    two settings run on the same problems share each problem's difficulty, so their
    difference is far less noisy than two independent stderrs suggest.
    """

    n: int
    difference_pct: float
    stderr_pct: float | None
    wins: int  # problems B answers correctly and A does not
    losses: int  # the other way round

    @property
    def ties(self) -> int:
        return self.n - self.wins - self.losses


def paired_difference(
    a: Sequence[SampleRecord], b: Sequence[SampleRecord]
) -> PairedDifference | None:
    """B − A over the doc ids both scored; None when they share fewer than two problems."""
    try:
        _, scores_a, scores_b = shared_scores(a, b)
    except NoSharedProblems:
        return None
    if len(scores_a) < 2:
        return None
    differences = 100.0 * (scores_b - scores_a)
    wins, losses = wins_losses(scores_a, scores_b)
    return PairedDifference(
        n=len(differences),
        difference_pct=float(differences.mean()),
        stderr_pct=mean_stderr(differences.tolist()),
        wins=wins,
        losses=losses,
    )


def wins_losses(scores_a: np.ndarray, scores_b: np.ndarray) -> tuple[int, int]:
    """Problems B solves and A does not, and the other way round (ties count in neither)."""
    return int(np.sum(scores_b > scores_a)), int(np.sum(scores_b < scores_a))


def compare_records(
    a: Sequence[SampleRecord],
    b: Sequence[SampleRecord],
    label_a: str = "A",
    label_b: str = "B",
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Paired comparison of B against A over the problems both scored."""
    _, scores_a, scores_b = shared_scores(a, b)
    differences = 100.0 * (scores_b - scores_a)
    low, high = percentile_interval(
        lambda idx, axis=-1: differences[idx].mean(axis=axis),
        len(differences),
        n_resamples,
        seed,
        confidence,
        vectorized=True,
    )
    wins, losses = wins_losses(scores_a, scores_b)
    return Comparison(
        n=len(differences),
        accuracy_a_pct=100.0 * float(scores_a.mean()),
        accuracy_b_pct=100.0 * float(scores_b.mean()),
        difference_pct=float(differences.mean()),
        ci_low_pct=low,
        ci_high_pct=high,
        wins=wins,
        losses=losses,
        mcnemar_p=mcnemar_p(wins, losses),
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
        label_a=label_a,
        label_b=label_b,
    )


def scaling_interval(
    runs: Sequence[tuple[Sequence[SampleRecord], float | None]],
    n_resamples: int = 2_000,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float] | None:
    """Bootstrap interval of Scaling over the problems every run of a curve scored.

    ``runs`` holds each run's records and its cap. A resample draws problems with replacement,
    recomputes each run's accuracy and mean thinking tokens on them, then the slope. None when
    the curve has fewer than two runs, or no problem was scored by all of them.
    """
    if len(runs) < 2:
        return None
    common = set.intersection(
        *({r.doc_id for r in records if r.correct is not None} for records, _ in runs)
    )
    if not common:
        return None
    ids = sorted(common)
    by_id = [{r.doc_id: r for r in records} for records, _ in runs]
    correct = np.array([[run[i].correct for i in ids] for run in by_id], dtype=float)
    thinking = np.array(
        [
            [np.nan if run[i].thinking_tokens is None else run[i].thinking_tokens for i in ids]
            for run in by_id
        ],
        dtype=float,
    )

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        # idx: (..., problems) rows of resampled problem indices -> one Scaling per row
        accuracy = 100.0 * correct[:, idx].mean(axis=axis)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a run with no trace: NaN
            tokens = np.nanmean(thinking[:, idx], axis=axis)
        return scaling_of_arrays(tokens, accuracy)

    low, high = percentile_interval(
        statistic, len(ids), n_resamples, seed, confidence, vectorized=True
    )
    return None if np.isnan(low) or np.isnan(high) else (low, high)
