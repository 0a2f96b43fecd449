"""Leaderboard tables across runs (hand-written lm-eval files)."""

import csv
import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_runs import row, write_run

from s1_eval.report.build import ALL_SETTINGS, build_report
from s1_eval.report.leaderboard import to_json, to_markdown, write_report
from s1_eval.report.metrics import SCALING_KEY, SCALING_UNIT
from s1_eval.report.reference import load_reference


def make_runs(root: Path) -> list[Path]:
    """Three plain lm-eval runs of one model on one task: caps 1000, 2000 and no cap.

    cap 1000: thinking 800/1000 (mean 900), 1 of 2 correct  -> 50 %
    cap 2000: thinking 2100/1900 (mean 2000), 2 of 2 correct -> 100 %, 1 sample over its cap
    no cap:   thinking 3000/3000, 1 of 2 correct            -> 50 %
    """
    runs = [root / "a", root / "b", root / "c"]
    write_run(
        runs[0],
        "s1_aime24",
        {"max_tokens_thinking": 1000},
        [row(0, 1, 800, 1000), row(1, 0, 1000, 1000)],
    )
    write_run(
        runs[1],
        "s1_aime24",
        {"max_tokens_thinking": 2000},
        [row(0, 1, 2100, 2000), row(1, 1, 1900, 2000)],
    )
    write_run(runs[2], "s1_aime24", {}, [row(0, 1, 3000), row(1, 0, 3000)])
    return runs


def test_curve_metrics_across_runs(tmp_path):
    report = build_report(make_runs(tmp_path))
    assert [c.budget for c in report.cells] == ["1000", "2000", "none"]
    (curve,) = report.curves
    assert curve.series == "budget forcing" and curve.n_runs == 3 and curve.n_unbounded == 1
    assert curve.control_pct == 100.0  # both capped runs have mean <= cap
    assert curve.control_per_sample_pct == pytest.approx(75.0)  # 3 of 4 capped samples
    # slopes per 1k tokens: (900,50)-(2000,100): 50/1.1; (900,50)-(3000,50): 0; (2000,100)-(3000,50): -50
    assert curve.scaling == pytest.approx((50 / 1.1 + 0 - 50) / 3)
    assert curve.performance_pct == 100.0 and curve.best_setting == "budget=2000"
    assert "without a cap" in curve.note
    assert report.cells[1].control_run == 1 and report.cells[2].control_run is None


def test_scaling_interval_and_paired_comparisons(tmp_path):
    report = build_report(make_runs(tmp_path))
    (curve,) = report.curves
    # two problems: the interval holds the point and is seeded (same report, same interval)
    assert curve.scaling_ci_low <= curve.scaling <= curve.scaling_ci_high
    assert build_report(make_runs(tmp_path)).curves[0].scaling_ci_low == curve.scaling_ci_low
    # the baseline is the run without forcing (no cap); both capped runs compare against it
    assert [(c.baseline, c.setting) for c in report.comparisons] == [
        ("budget=none", "budget=1000"),
        ("budget=none", "budget=2000"),
    ]
    first, second = report.comparisons
    assert (first.difference_pct, first.wins, first.losses, first.ties) == (0.0, 0, 0, 2)
    assert (second.difference_pct, second.wins, second.ties, second.mcnemar_p) == (50.0, 1, 1, 1.0)
    markdown = to_markdown(report)
    assert "## Paired comparisons" in markdown
    assert (
        "| budget=none | budget=2000 | 2 | +50.0 | [+0.0, +100.0] | 1 / 0 / 1 | 1 | within noise |"
        in markdown
    )
    data = json.loads(to_json(report))
    assert data["comparisons"][1]["ci_high_pct"] == 100.0
    assert data["curves"][0]["scaling_ci_high"] == curve.scaling_ci_high


def test_series_and_pooled_curve(tmp_path):
    for budget in (100, 200):
        for k in (0, 2):
            write_run(
                tmp_path / f"r{budget}_{k}",
                "t",
                {
                    "max_tokens_thinking": budget,
                    "thinking_n_ignore": k,
                    "thinking_n_ignore_str": "Wait",
                },
                [row(0, int(budget > 100), budget - 10 + k, budget)],
            )
    report = build_report(sorted(tmp_path.iterdir()))
    assert [c.series for c in report.curves] == ["n_ignore=0", "n_ignore=2,str=Wait", ALL_SETTINGS]
    assert report.curves[-1].n_runs == 4


def test_outputs_state_the_scaling_unit(tmp_path):
    report = build_report(make_runs(tmp_path))
    files = write_report(report, tmp_path / "board")
    names = sorted(p.name for p in files)
    assert names == ["cells.csv", "leaderboard.csv", "leaderboard.json", "leaderboard.md"]
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    assert f"Scaling ({SCALING_UNIT})" in markdown and "50.0 ± 50.0" in markdown
    data = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert data["scaling_unit"] == SCALING_UNIT
    assert SCALING_KEY in data["curves"][0] and data["curves"][0]["scaling_unit"] == SCALING_UNIT
    assert "scaling" not in data["curves"][0]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "board" / "leaderboard.csv").read_text())))
    assert rows[0]["model"] == "org/model-7b" and SCALING_KEY in rows[0]
    cells = list(csv.DictReader(io.StringIO((tmp_path / "board" / "cells.csv").read_text())))
    assert [c["setting"] for c in cells] == ["budget=1000", "budget=2000", "budget=none"]
    assert not list((tmp_path / "board").glob(".tmp-*"))


def test_cells_carry_their_versions_but_the_files_keep_their_columns(tmp_path):
    runs = make_runs(tmp_path)
    results = next(runs[0].rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["lm_eval_version"] = "0.4.13"
    data["config"]["s1_eval_version"] = "1.2.3"
    results.write_text(json.dumps(data))
    report = build_report(runs)
    versions = [(c.s1_eval_version, c.lm_eval_version) for c in report.cells]
    assert versions == [("1.2.3", "0.4.13"), ("", ""), ("", "")]
    write_report(report, tmp_path / "board")
    cells = json.loads((tmp_path / "board" / "leaderboard.json").read_text())["cells"]
    header = (tmp_path / "board" / "cells.csv").read_text().splitlines()[0]
    for name in ("s1_eval_version", "lm_eval_version"):
        assert name not in cells[0] and name not in header


def test_runs_without_traces_still_report_accuracy(tmp_path):
    write_run(tmp_path, "gsm8k", {}, [row(0, 1), row(1, 1), row(2, 0)])
    report = build_report([tmp_path])
    (cell,) = report.cells
    assert cell.accuracy_pct == pytest.approx(200 / 3) and cell.thinking_mean is None
    assert "thinking_tokens" in cell.missing
    (curve,) = report.curves
    assert curve.scaling is None and curve.control_pct is None and curve.performance_pct > 66
    assert "without thinking tokens" in curve.note
    assert "n/a" in to_markdown(report)


def test_paper_reference_matches_design_table():
    ref = load_reference()
    rows = {r[0]: r[1:] for r in ref["methods_aime24_s1_32b"]["rows"]}
    assert rows["budget forcing"] == [100, 15, 56.7, 5]
    assert rows["rejection sampling"] == [100, -35, 40.0, 5]
    assert rows["class-conditional"] == [50, 25, 36.7, 2]
    head = {r[0]: r[1:] for r in ref["headline_greedy"]["rows"]}
    assert head["s1-32B, budget forcing"] == [56.7, 93.0, 59.6]
    assert "2501.19393" in ref["source"]
    ablation = {r[0]: r[1:] for r in ref["extrapolation_ignore_twice_s1_32b"]["rows"]}
    assert ablation['2x "Wait"'] == [53.3, 93.0, 59.6]


def test_cost_per_correct_answer_per_cell_and_curve(tmp_path):
    runs = make_runs(tmp_path)  # every sample answers in 10 tokens
    results = next(runs[0].rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["total_evaluation_time_seconds"] = "30.0"  # lm-eval writes it as text
    data["pretty_env_info"] = "Is CUDA available: True\nGPU 0: NVIDIA H100\nGPU 1: NVIDIA H100\n"
    results.write_text(json.dumps(data))
    report = build_report(runs)
    first, second, _ = report.cells
    # cap 1000: (800 + 10) + (1000 + 10) tokens, 1 correct; 30 s on two H100s
    assert first.tokens_per_correct == 1820 and first.generated_mean == 910
    assert first.seconds_per_correct == 30.0 and first.hardware == "2x NVIDIA H100"
    assert second.tokens_per_correct == (2110 + 1910) / 2
    assert second.seconds is None and second.seconds_per_correct is None  # not recorded
    (curve,) = report.curves
    assert curve.tokens_per_correct == (1820 + 4020 + 6020) / 4
    assert curve.seconds_per_correct is None  # a partial sum would flatter the curve
    markdown = to_markdown(report)
    assert "| tokens / correct |" in markdown and "| 30.00 (2x NVIDIA H100) |" in markdown
    assert json.loads(to_json(report))["cells"][0]["tokens_per_correct"] == 1820


def test_a_shared_pass_cell_has_no_seconds_of_its_own(tmp_path):
    from make_runs import write_sweep

    from s1_eval.runs.folder import CELL_FILE, Setting

    run = write_sweep(
        tmp_path / "sweep", [("s1_aime24", Setting(64), [row(0, 1, 50, 64)])], leftover=False
    )
    [marker_path] = run.rglob(CELL_FILE)
    marker = json.loads(marker_path.read_text())
    marker.update({"seconds": 5.0, "hardware": "1x A100"})
    marker_path.write_text(json.dumps(marker))
    [cell] = build_report([run]).cells
    assert cell.seconds_per_correct == 5.0 and cell.hardware == "1x A100"
    marker["shared_pass"] = True
    marker_path.write_text(json.dumps(marker))
    [cell] = build_report([run]).cells
    assert cell.seconds is None and cell.tokens_per_correct == 60


def test_paper_extrapolation_points_carry_their_30_problem_interval():
    from s1_eval.report.reference import paper_interval_lines, paper_intervals

    rows = paper_intervals(load_reference())
    assert [r[1] for r in rows] == [15, 16, 16, 16, 17, 16, 17, 16, 15]
    _, correct, problems, low, high = rows[0]
    # Clopper-Pearson for 15 of 30: the Beta(15, 16) and Beta(16, 15) quantiles
    assert (correct, problems) == (15, 30)
    assert low == pytest.approx(31.30, abs=0.01) and high == pytest.approx(68.70, abs=0.01)
    assert "| 4 | 17 / 30 | 56.7 | 37.4 - 74.5 |" in paper_interval_lines(load_reference())
    readme = " ".join(
        (Path(__file__).parents[1] / "results" / "reference" / "README.md").read_text().split()
    )
    for _, correct, problems, low, high in (rows[0], rows[4]):
        stated = f"{correct} of {problems} ({100 * correct / problems:.1f} %) spans {low:.1f}–{high:.1f} %"
        assert stated in readme, stated
