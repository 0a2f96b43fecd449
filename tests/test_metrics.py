"""Unit tests of s1_eval.report.metrics, with a worked example computed by hand."""

import math
from fractions import Fraction

import pytest

from s1_eval.grading.parallel import cov_at_k, maj_at_k, pass_at_k
from s1_eval.report.metrics import (
    SCALING_UNIT,
    RunPoint,
    cell_stats,
    control_pct,
    curve_metrics,
    in_control,
    mean_stderr,
    per_correct,
    performance_pct,
    scaling,
)
from s1_eval.report.statistics import paired_difference
from s1_eval.trace import SampleRecord

# Worked example (by hand). Four runs of one method; a = mean thinking tokens, f = accuracy %.
#   run  cap    a     f     in control?
#   R1   1000   1000  20    yes (a = cap counts as within)
#   R2   2000   2000  30    yes
#   R3   3000   4000  45    no  (4000 > 3000)
#   R4   none   5000  40    no bound: left out of Control
# Control = 2 of the 3 bounded runs = 66.67 %.
# Scaling, slopes in acc. points per 1k tokens over all C(4,2) = 6 pairs:
#   (R1,R2) 10/1 = 10      (R1,R3) 25/3      (R1,R4) 20/4 = 5
#   (R2,R3) 15/2 = 7.5     (R2,R4) 10/3      (R3,R4) -5/1 = -5
#   sum = 17.5 + 35/3 = 175/6 ;  Scaling = (175/6) / 6 = 175/36 = 4.8611...
# Performance = max f = 45.
WORKED = [
    RunPoint(1000, 20.0, a_max=1000, label="R1"),
    RunPoint(2000, 30.0, a_max=2000, label="R2"),
    RunPoint(4000, 45.0, a_max=3000, label="R3"),
    RunPoint(5000, 40.0, a_max=None, label="R4"),
]


def test_worked_example_control_scaling_performance():
    assert control_pct(WORKED) == pytest.approx(200 / 3)
    assert scaling(WORKED) == pytest.approx(float(Fraction(175, 36)))
    assert performance_pct(WORKED) == 45.0
    curve = curve_metrics(WORKED, within_cap=[(8, 10), (10, 10), (2, 10)])
    assert curve.n_runs == 4 and curve.n_bounded == 3 and curve.n_unbounded == 1
    assert curve.control_pct == pytest.approx(66.6667, abs=1e-3)
    assert curve.control_per_sample_pct == pytest.approx(100 * 20 / 30)  # pooled samples
    assert curve.scaling == pytest.approx(4.8611, abs=1e-4)
    assert curve.best_label == "R3"
    assert curve.scaling_unit == SCALING_UNIT == "acc. points per 1k thinking tokens"


def test_worked_example_cell_stats():
    # 4 samples, cap 1000: thinking 900, 1000, 1100 and one unknown trace (None)
    records = [
        SampleRecord(0, 1.0, 900, 1000, cap_fired=0, suppressions=2),
        SampleRecord(1, 0.0, 1000, 1000, cap_fired=1, suppressions=1),
        SampleRecord(2, 1.0, 1100, None, cap_fired=1, suppressions=0),  # cap from the cell
        SampleRecord(3, 1.0, None, None),
    ]
    stats = cell_stats(records, cap=1000)
    # accuracy 3/4; sample stddev of [1,0,1,1] = sqrt(0.75/3) = 0.5; stderr = 0.5/sqrt(4) = 0.25
    assert stats.accuracy_pct == 75.0
    assert stats.accuracy_stderr_pct == pytest.approx(25.0)
    assert stats.n_traced == 3 and stats.thinking_mean == 1000.0 and stats.thinking_max == 1100
    assert (stats.n_within_cap, stats.n_capped) == (2, 3)
    assert stats.within_cap_pct == pytest.approx(200 / 3)
    assert stats.cap_fired_pct == pytest.approx(200 / 3)
    assert stats.suppressions_mean == 1.0
    assert any("thinking_tokens (1 of 4" in m for m in stats.missing)


def test_cell_stats_without_any_trace_or_cap():
    stats = cell_stats([SampleRecord(0, 1.0), SampleRecord(1, 0.0)])
    assert stats.accuracy_pct == 50.0
    assert stats.thinking_mean is None and stats.within_cap_pct is None
    assert stats.n_capped == 0
    assert cell_stats([SampleRecord(0, None)]).accuracy_pct is None


def test_in_control_bounds():
    assert in_control(RunPoint(500, 10, a_max=500)) is True
    assert in_control(RunPoint(501, 10, a_max=500)) is False
    assert in_control(RunPoint(100, 10, a_min=200)) is False
    assert in_control(RunPoint(300, 10, a_min=200, a_max=400)) is True
    assert in_control(RunPoint(300, 10)) is None
    assert control_pct([RunPoint(1, 1), RunPoint(2, 2)]) is None  # all unbounded


def test_scaling_edge_cases():
    assert scaling([]) is None and scaling([RunPoint(1, 1)]) is None
    # two points: the slope itself, per 1k tokens
    assert scaling([RunPoint(1000, 40), RunPoint(3000, 60)]) == pytest.approx(10.0)
    # order does not matter
    assert scaling([RunPoint(3000, 60), RunPoint(1000, 40)]) == pytest.approx(10.0)
    # equal thinking tokens: no a < b pair, but still counted in C(|A|, 2) (paper's formula)
    assert scaling([RunPoint(1000, 40), RunPoint(1000, 50), RunPoint(2000, 60)]) == pytest.approx(
        (20 + 10) / 3
    )


def test_scaling_unit_gives_paper_magnitudes():
    # A budget-forcing-like curve: ~30 points gained between ~1k and ~6k thinking tokens.
    curve = [RunPoint(1000, 25), RunPoint(2000, 40), RunPoint(4000, 50), RunPoint(6000, 56.7)]
    value = scaling(curve)
    assert 5 < value < 30  # two-digit range like the paper's 15; per token it would be ~0.01


def test_mean_stderr_by_hand():
    # 5 of 8 correct: mean 0.625, sample variance (5 * 0.375**2 + 3 * 0.625**2) / 7 = 15 / 56,
    # stderr sqrt(15 / 56 / 8)
    values = [1, 0, 0, 1, 1, 1, 0, 1]
    assert mean_stderr(values) == pytest.approx(math.sqrt(15 / 56 / 8))
    assert mean_stderr([2.0, 4.0]) == pytest.approx(1.0)  # stddev sqrt(2) over sqrt(2)
    assert mean_stderr([1]) is None


def test_maj_at_k():
    answers = ["1", "2", "2", "1", "3"]
    assert maj_at_k(answers, 3) == "2"
    assert maj_at_k(answers, 4) == "1"  # tie 2-2: the earliest answer wins
    assert maj_at_k(answers) == "1"
    assert maj_at_k([None, "5", None], 3) == "5"
    assert maj_at_k([], 2) is None


def test_pass_at_k():
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))  # 0.7
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 3, 2) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 = c/n
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_cov_at_k():
    assert cov_at_k([0, 0, 1], 2) == 0.0
    assert cov_at_k([0, 0, 1], 3) == 1.0


def test_generated_tokens_per_correct_answer():
    records = [
        SampleRecord(0, 1.0, 900, 1000, answer_tokens=100),
        SampleRecord(1, 0.0, 1000, 1000, answer_tokens=20),
        SampleRecord(2, 1.0, 500, 1000, answer_tokens=80),
    ]
    stats = cell_stats(records, cap=1000)
    # (900 + 100) + (1000 + 20) + (500 + 80) = 2600 tokens for 2 correct answers
    assert stats.generated_tokens == 2600 and stats.correct == 2.0
    assert stats.tokens_per_correct == 1300.0
    assert stats.generated_mean == pytest.approx(2600 / 3)
    wrong = cell_stats([SampleRecord(0, 0.0, 10, 10, answer_tokens=1)])
    assert wrong.tokens_per_correct is None  # no correct answer: undefined, not infinite
    partial = cell_stats([*records, SampleRecord(3, 1.0, 10, 1000)])  # answer_tokens unknown
    assert partial.generated_tokens is None and partial.tokens_per_correct is None
    assert per_correct(30.0, 3) == 10.0 and per_correct(None, 3) is None


def _records(scores: dict[int, float | None]) -> list[SampleRecord]:
    return [SampleRecord(doc_id, correct) for doc_id, correct in scores.items()]


def test_paired_difference_by_hand():
    # B wins on docs 1 and 2, loses on doc 3, ties on 0 and 4; doc 5 only in B, doc 6 unscored
    a = _records({0: 1, 1: 0, 2: 0, 3: 1, 4: 0, 6: None})
    b = _records({0: 1, 1: 1, 2: 1, 3: 0, 4: 0, 5: 1, 6: 1})
    d = paired_difference(a, b)
    assert (d.n, d.wins, d.losses, d.ties) == (5, 2, 1, 2)
    # differences 0, 100, 100, -100, 0: mean 20; squared deviations sum to 28000, so the
    # sample variance is 7000 and the stderr sqrt(7000 / 5)
    assert d.difference_pct == pytest.approx(20.0)
    assert d.stderr_pct == pytest.approx(math.sqrt(7000 / 5))


def test_paired_difference_of_identical_runs_is_zero_with_zero_stderr():
    a = _records({0: 1, 1: 0, 2: 1})
    d = paired_difference(a, a)
    assert (d.difference_pct, d.stderr_pct, d.wins, d.losses) == (0.0, 0.0, 0, 0)
    assert paired_difference(a, _records({7: 1})) is None  # no shared problems
