"""Control, Scaling and Performance (s1 paper §3.2), per-cell statistics, paired differences,
maj@k and pass@k.

    curve = curve_metrics([RunPoint(1000, 20.0, a_max=1000), RunPoint(2000, 30.0, a_max=2000)])

Pure functions over plain numbers; reading lm-eval files lives in ``s1_eval.runs.samples``.
Conventions used everywhere in s1-eval:

* accuracy is in **percentage points** (0–100), as the paper reports it;
* thinking is in tokens; a run's ``a`` is its mean thinking tokens over samples with a trace;
* **Scaling** is in ``SCALING_UNIT`` = accuracy points per 1,000 thinking tokens. The paper
  gives no unit; with its AIME24 curves (tens of points gained over a few thousand tokens)
  only this unit yields its two-digit magnitudes (15 for budget forcing): per token the
  values would be ~0.015, as fractions per 1k tokens ~0.15;
* **Control** counts only runs that were given a bound: a run without a cap (budget "none")
  was asked to respect nothing, so it is left out of Control (reported as ``n_unbounded``)
  but still counts for Scaling and Performance. All runs unbounded -> Control is ``None``;
* a request whose thinking the **context clamped** (prompt + budget + answer room did not fit
  ``max_model_len``, so it was allowed fewer tokens than its cap) counts for Control like any
  other: its thinking stayed within the bound it was given, so it is within cap per sample and
  adds its (shorter) thinking to the run's ``a``. Such a run did not test its budget: cells report
  ``context_clamped_pct`` beside Control so a reader sees it;
* a **no-answer** sample (its thinking used up max_gen_toks or the context; ``no_answer`` in
  its row) scores 0 and is counted on its own (``no_answer_pct``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from s1_eval.trace import SampleRecord

SCALING_UNIT = "acc. points per 1k thinking tokens"
SCALING_KEY = "scaling_acc_points_per_1k_thinking_tokens"


def mean_stderr(values: Sequence[float]) -> float | None:
    """Standard error of the mean (lm-eval's formula: sample stddev / sqrt(n)); None if n < 2."""
    if len(values) < 2:
        return None
    from lm_eval.api.metrics import mean_stderr as lm_eval_mean_stderr

    return float(lm_eval_mean_stderr(list(values)))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# --------------------------------------------------------------------------- per sample / cell


@dataclass(frozen=True)
class CellStats:
    """Statistics of one run (one task at one setting).

    ``within_cap_pct`` is the per-sample Control: the share of traced samples whose thinking
    stayed within their cap (each sample's own resolved ``max_tokens_thinking``, else the
    cell's ``cap``). Samples without a known cap are not counted there (``n_capped``).
    """

    n: int
    n_scored: int
    accuracy_pct: float | None
    accuracy_stderr_pct: float | None
    n_traced: int
    thinking_mean: float | None
    thinking_max: int | None
    thinking_stderr: float | None
    cap: float | None
    n_capped: int
    n_within_cap: int
    within_cap_pct: float | None
    cap_fired_pct: float | None
    suppressions_mean: float | None
    answer_tokens_mean: float | None
    missing: tuple[str, ...] = ()
    #: correct answers (the sum of the per-sample scores)
    correct: float | None = None
    #: thinking + answer tokens of every sample; None unless every sample recorded both
    generated_tokens: int | None = None
    #: mean generations drawn per sample under rejection sampling (0: not rejection-sampled)
    rejection_tries_mean: float | None = None
    #: share of traced samples whose thinking the loop guard ended
    loop_stopped_pct: float | None = None
    #: share of traced samples whose thinking limit the context lowered below their cap
    context_clamped_pct: float | None = None
    #: share of traced samples left without an answer (thinking used up the length)
    no_answer_pct: float | None = None

    @property
    def generated_mean(self) -> float | None:
        """Mean generated tokens (thinking + answer) per sample."""
        return self.generated_tokens / self.n if self.generated_tokens is not None else None

    @property
    def tokens_per_correct(self) -> float | None:
        return per_correct(self.generated_tokens, self.correct)


def per_correct(total: float | None, correct: float | None) -> float | None:
    """A cost divided by the number of correct answers; None when either is unknown or 0."""
    if total is None or not correct:
        return None
    return total / correct


def cell_stats(records: Sequence[SampleRecord], cap: float | None = None) -> CellStats:
    """Accuracy ± stderr, thinking-token statistics and the per-sample cap share of one run."""
    scored = [float(r.correct) for r in records if r.correct is not None]
    traced = [r for r in records if r.has_trace]
    thinking = [r.thinking_tokens for r in traced]
    within = capped = 0
    for r in traced:
        limit = r.max_tokens_thinking if r.max_tokens_thinking is not None else cap
        if limit is None:
            continue
        capped += 1
        within += r.thinking_tokens <= limit
    cap_fired = [r.cap_fired for r in traced if r.cap_fired is not None]
    suppressions = [r.suppressions for r in traced if r.suppressions is not None]
    answer_tokens = [r.answer_tokens for r in traced if r.answer_tokens is not None]
    tries = [r.rejection_tries for r in traced if r.rejection_tries is not None]
    loop_stopped = [r.loop_stopped for r in traced if r.loop_stopped is not None]
    clamped = [r.context_clamped for r in traced if r.context_clamped is not None]
    no_answer = [r.no_answer for r in traced if r.no_answer is not None]
    stderr = mean_stderr(scored)
    thinking_stderr = mean_stderr(thinking)
    missing = []
    if len(scored) < len(records):
        missing.append(f"correctness ({len(records) - len(scored)} of {len(records)} samples)")
    if len(traced) < len(records):
        missing.append(f"thinking_tokens ({len(records) - len(traced)} of {len(records)} samples)")
    return CellStats(
        n=len(records),
        n_scored=len(scored),
        accuracy_pct=None if not scored else 100.0 * sum(scored) / len(scored),
        accuracy_stderr_pct=None if stderr is None else 100.0 * stderr,
        n_traced=len(traced),
        thinking_mean=_mean(thinking),
        thinking_max=max(thinking) if thinking else None,
        thinking_stderr=thinking_stderr,
        cap=cap,
        n_capped=capped,
        n_within_cap=within,
        within_cap_pct=100.0 * within / capped if capped else None,
        cap_fired_pct=100.0 * sum(cap_fired) / len(cap_fired) if cap_fired else None,
        suppressions_mean=_mean(suppressions),
        answer_tokens_mean=_mean(answer_tokens),
        missing=tuple(missing),
        correct=sum(scored) if scored else None,
        generated_tokens=(
            sum(r.thinking_tokens + r.answer_tokens for r in traced)
            if records and len(answer_tokens) == len(traced) == len(records)
            else None
        ),
        rejection_tries_mean=_mean(tries),
        loop_stopped_pct=_pct(loop_stopped),
        context_clamped_pct=_pct(clamped),
        no_answer_pct=_pct(no_answer),
    )


def _pct(flags: Sequence[int]) -> float | None:
    """The share of 1s among known 0/1 flags, in %; None when none is known (older rows)."""
    return 100.0 * sum(flags) / len(flags) if flags else None


# --------------------------------------------------------------------------- across runs


@dataclass(frozen=True)
class RunPoint:
    """One run of a method: ``a`` = mean thinking tokens, ``f(a)`` = accuracy in points."""

    thinking_tokens: float
    accuracy_pct: float
    a_max: float | None = None
    a_min: float | None = None
    label: str = ""

    @property
    def bounded(self) -> bool:
        return self.a_max is not None or self.a_min is not None


def in_control(point: RunPoint) -> bool | None:
    """1[a_min <= a <= a_max] for one run; None when the run had no bound at all."""
    if not point.bounded:
        return None
    low = point.a_min if point.a_min is not None else -math.inf
    high = point.a_max if point.a_max is not None else math.inf
    return low <= point.thinking_tokens <= high


def control_pct(points: Sequence[RunPoint]) -> float | None:
    """Control in %: share of bounded runs that stayed within their bounds (paper: per run)."""
    verdicts = [v for v in map(in_control, points) if v is not None]
    return 100.0 * sum(verdicts) / len(verdicts) if verdicts else None


def scaling(points: Sequence[RunPoint]) -> float | None:
    """Scaling in SCALING_UNIT: 1/C(|A|,2) · Σ_{a<b} (f(b) − f(a)) / (b − a).

    Exactly the paper's formula: pairs with equal thinking tokens have no a < b and add
    nothing, but still count in C(|A|,2). None with fewer than two runs.
    """
    if len(points) < 2:
        return None
    value = scaling_of_arrays([p.thinking_tokens for p in points], [p.accuracy_pct for p in points])
    return float(value)


def scaling_of_arrays(thinking, accuracy):
    """``scaling`` over arrays whose first axis is the runs and whose other axes are batches
    (the bootstrap evaluates thousands of resampled curves at once). A pair with an unknown
    (NaN) side adds nothing, like a pair with equal thinking tokens."""
    import numpy as np

    a = np.asarray(thinking, dtype=float)
    f = np.asarray(accuracy, dtype=float)
    total = np.zeros(a.shape[1:])
    for i, j in combinations(range(a.shape[0]), 2):
        gap = a[j] - a[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (f[j] - f[i]) / gap
        # per token -> per 1,000 tokens (the slope is symmetric in i, j)
        total += np.where(np.isfinite(slope) & (gap != 0), slope * 1000.0, 0.0)
    return total / math.comb(a.shape[0], 2)


def performance_pct(points: Sequence[RunPoint]) -> float | None:
    """Performance = max_a f(a), in accuracy points."""
    return max((p.accuracy_pct for p in points), default=None)


@dataclass(frozen=True)
class CurveMetrics:
    """Control / Scaling / Performance over the runs A of one method (one curve)."""

    n_runs: int
    n_bounded: int
    n_unbounded: int
    control_pct: float | None
    control_per_sample_pct: float | None
    scaling: float | None
    performance_pct: float | None
    best_label: str = ""
    scaling_unit: str = SCALING_UNIT


def curve_metrics(
    points: Sequence[RunPoint], within_cap: Sequence[tuple[int, int]] = ()
) -> CurveMetrics:
    """All three metrics for one curve.

    ``within_cap`` holds (samples within cap, samples with a cap) per run; the per-sample
    Control pools them over all runs of the curve.
    """
    within = sum(w for w, _ in within_cap)
    capped = sum(c for _, c in within_cap)
    best = max(points, key=lambda p: p.accuracy_pct, default=None)
    bounded = sum(p.bounded for p in points)
    return CurveMetrics(
        n_runs=len(points),
        n_bounded=bounded,
        n_unbounded=len(points) - bounded,
        control_pct=control_pct(points),
        control_per_sample_pct=100.0 * within / capped if capped else None,
        scaling=scaling(points),
        performance_pct=performance_pct(points),
        best_label=best.label if best else "",
    )
