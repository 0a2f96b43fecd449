"""Paired comparisons and bootstrap intervals against hand-computed cases."""

import math

import pytest

from s1_eval.report.metrics import RunPoint, scaling
from s1_eval.report.statistics import (
    NoSharedProblems,
    compare_records,
    mcnemar_p,
    percentile_interval,
    scaling_interval,
)
from s1_eval.trace import SampleRecord


def records(scores, thinking=None, doc_hash=None):
    return [
        SampleRecord(
            doc_id=i,
            correct=float(s),
            thinking_tokens=None if thinking is None else thinking[i],
            doc_hash=doc_hash,
        )
        for i, s in enumerate(scores)
    ]


def test_all_tied_is_within_noise():
    a = records([1, 0, 1, 0, 1, 0])
    result = compare_records(a, records([1, 0, 1, 0, 1, 0]))
    assert (result.difference_pct, result.ci_low_pct, result.ci_high_pct) == (0.0, 0.0, 0.0)
    assert (result.wins, result.losses, result.ties, result.mcnemar_p) == (0, 0, 6, 1.0)
    assert not result.significant and result.verdict.startswith("within noise")


def test_all_won_is_significant():
    result = compare_records(records([0] * 10), records([1] * 10))
    assert (result.difference_pct, result.ci_low_pct, result.ci_high_pct) == (100.0, 100.0, 100.0)
    # exact two-sided McNemar with 10 discordant problems all one way: 2 / 2**10
    assert result.mcnemar_p == pytest.approx(2 / 2**10)
    assert result.significant and result.verdict.startswith("B is better than A")
    assert compare_records(records([1] * 10), records([0] * 10)).verdict.startswith("B is worse")


def test_two_problems_interval_spans_the_resample_support():
    # differences (0, 100): resampled means are 0, 50, 100 with probability 1/4, 1/2, 1/4,
    # so the 2.5th and 97.5th percentiles are 0 and 100
    result = compare_records(records([1, 0]), records([1, 1]))
    assert result.difference_pct == 50.0
    assert (result.ci_low_pct, result.ci_high_pct) == (0.0, 100.0)
    assert not result.significant


def test_mcnemar_against_the_binomial_sum():
    # 3 wins, 17 losses: 2 * (C(20,0) + C(20,1) + C(20,2) + C(20,3)) / 2**20
    expected = 2 * sum(math.comb(20, k) for k in range(4)) / 2**20
    assert mcnemar_p(3, 17) == pytest.approx(expected)
    assert mcnemar_p(17, 3) == pytest.approx(expected)
    assert mcnemar_p(0, 0) == 1.0


def test_the_bootstrap_is_seeded_and_narrows_with_more_problems():
    diffs = [100.0 if i % 3 == 0 else 0.0 for i in range(30)]
    interval = percentile_interval(lambda idx: sum(diffs[i] for i in idx) / len(idx), 30)
    assert interval == percentile_interval(lambda idx: sum(diffs[i] for i in idx) / len(idx), 30)
    many = diffs * 10
    wide = interval[1] - interval[0]
    narrow = percentile_interval(lambda idx: sum(many[i] for i in idx) / len(idx), 300)
    assert interval[0] < 100 / 3 < interval[1] and narrow[1] - narrow[0] < wide / 2


def test_only_problems_both_scored_are_paired():
    a = records([1, 0, 1, 1])
    b = [SampleRecord(doc_id=i, correct=c) for i, c in ((1, 1.0), (2, 1.0), (3, None), (7, 1.0))]
    result = compare_records(a, b)
    assert result.n == 2 and (result.wins, result.losses) == (1, 0)


def test_no_shared_problem_or_another_revision_is_refused():
    with pytest.raises(NoSharedProblems, match="share no scored problem"):
        compare_records(records([1, 0]), [SampleRecord(doc_id=9, correct=1.0)])
    with pytest.raises(NoSharedProblems, match="doc_hash differs"):
        compare_records(records([1, 0], doc_hash="x"), records([1, 0], doc_hash="y"))


def test_scaling_interval_of_a_noiseless_curve_is_the_point():
    # every problem behaves alike: resampling cannot move the curve
    runs = [
        (records([0] * 8, thinking=[10] * 8), 10),
        (records([1] * 8, thinking=[20] * 8), 20),
    ]
    point = scaling([RunPoint(10, 0.0), RunPoint(20, 100.0)])
    assert scaling_interval(runs) == pytest.approx((point, point))


def test_scaling_interval_covers_the_point_and_needs_two_runs():
    first = records([i % 2 for i in range(20)], thinking=[10 + i % 3 for i in range(20)])
    second = records(
        [1 if i % 4 else 0 for i in range(20)], thinking=[30 + i % 5 for i in range(20)]
    )
    low, high = scaling_interval([(first, 12), (second, 40)])
    points = [RunPoint(10.95, 50.0), RunPoint(32.0, 75.0)]
    assert low < scaling(points) < high
    assert scaling_interval([(first, 12)]) is None


def test_one_direction_word_for_the_verdict_and_the_report_table():
    from s1_eval.report.statistics import direction

    assert direction(+5.0, True) == "better" and direction(-5.0, True) == "worse"
    assert direction(+5.0, False) == "within noise"
