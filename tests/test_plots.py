"""The scaling plot (PNG) from a report."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_runs import row, write_run

from s1_eval.report.build import Report, build_report
from s1_eval.report.plots import plot_scaling
from s1_eval.report.reference import load_reference, reference_accuracy

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_two_tasks_with_reference(tmp_path):
    for task in ("s1_aime24", "other"):
        for budget in (100, 200):
            write_run(
                tmp_path / f"{task}{budget}",
                task,
                {"max_tokens_thinking": budget},
                [row(0, int(budget == 200), budget, budget), row(1, 0, budget - 5, budget)],
            )
    report = build_report(sorted(tmp_path.iterdir()))
    out = plot_scaling(report, tmp_path / "plots" / "scaling.png", reference=True)
    assert out.read_bytes()[:8] == PNG
    assert not list(out.parent.glob(".tmp-*"))


def test_reference_accuracy():
    ref = load_reference()
    assert reference_accuracy("s1_aime24", ref) == 56.7
    assert reference_accuracy("s1_gpqa_diamond", ref) == 59.6
    assert reference_accuracy("gsm8k", ref) is None
    assert reference_accuracy("s1_aime24", None) is None


def test_plot_empty_report(tmp_path):
    out = plot_scaling(Report((), ()), tmp_path / "empty.png")
    assert out.read_bytes()[:8] == PNG


def test_an_installed_wheel_has_the_paper_numbers(installed_wheel):
    """`plot --reference` must draw the paper's line from a wheel install, not only a checkout."""
    target = installed_wheel
    code = (
        f"import site; site.addsitedir({str(target)!r}); site.main()\n"
        "import s1_eval.report.reference as r\n"
        "print(r.__file__, r.reference_accuracy('s1_aime24', r.load_reference()))\n"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd="/"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    module, accuracy = run.stdout.split()
    assert module.startswith(str(target)) and float(accuracy) == 56.7


def test_plot_against_total_generated_tokens_through_the_cli(tmp_path, capsys):
    from s1_eval.cli import main

    demo = Path(__file__).resolve().parents[1] / "results" / "demo"
    out = tmp_path / "total.png"
    assert main(["plot", str(demo), "--output_path", str(out), "--x", "total"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    report = build_report([demo])
    # the total axis is thinking + answer: to the right of the thinking axis for every cell
    assert all(r.generated_mean > r.thinking_mean for r in report.cells)
    with pytest.raises(SystemExit) as bad:
        main(["plot", str(demo), "--output_path", str(out), "--x", "answers"])
    assert bad.value.code == 2
