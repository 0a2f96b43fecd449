"""`s1-eval compare`: picking the two cells, the printed result and the refusals."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_runs import row, write_run, write_sweep

from s1_eval.report.compare import split_side
from s1_eval.runs.folder import Setting
from tests.test_cli import assert_one_line_error, s1_eval

NATIVE = Setting(budget=None, n_ignore=0)
WAIT = Setting(budget=None, n_ignore=2, ignore_str="Wait")


def sweep(tmp_path: Path) -> Path:
    """Twelve problems: native answers 2, with 2x Wait 12 (10 won, none lost)."""
    native = [row(i, int(i < 2), 10, None, doc_hash=f"h{i}") for i in range(12)]
    wait = [row(i, 1, 20, None, doc_hash=f"h{i}") for i in range(12)]
    return write_sweep(tmp_path / "run", [("t", NATIVE, native), ("t", WAIT, wait)])


def test_compare_prints_the_paired_result(tmp_path):
    run = sweep(tmp_path)
    proc = s1_eval("compare", f"{run}:{NATIVE.name}", f"{run}:{WAIT.name}")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "problems both scored: 12" in lines
    assert "accuracy: A 16.7 %, B 100.0 %" in lines
    assert "won 10 / lost 0 / tied 2; exact McNemar p = 0.00195" in lines
    assert lines[-1].startswith("verdict: B is better than A: +83.3 points")


def test_compare_json_and_the_same_setting_is_within_noise(tmp_path):
    run = sweep(tmp_path)
    proc = s1_eval("compare", f"{run}:{WAIT.slug}", f"{run}:{WAIT.name}", "--json")
    data = json.loads(proc.stdout)
    assert (data["difference_pct"], data["ci_low_pct"], data["ci_high_pct"]) == (0.0, 0.0, 0.0)
    assert data["significant"] is False and data["verdict"].startswith("within noise")
    assert data["n_resamples"] == 10_000 and data["seed"] == 0


def test_refusals_are_one_line(tmp_path):
    run = sweep(tmp_path)
    proc = s1_eval("compare", str(run), f"{run}:{WAIT.name}")
    assert_one_line_error(proc, "holds 2 settings: name one as", NATIVE.name)
    proc = s1_eval("compare", f"{run}:budget=none,n_ignore=2,str=Wiat", f"{run}:{WAIT.name}")
    assert_one_line_error(proc, "no setting", f"Did you mean '{WAIT.name}'")
    other = write_run(tmp_path / "other", "t", {}, [row(50, 1, 10), row(51, 0, 10)])
    proc = s1_eval("compare", f"{run}:{NATIVE.name}", str(other.parent.parent))
    assert_one_line_error(proc, "cannot compare", "share no scored problem")
    revised = [row(i, 1, 10, None, doc_hash=f"new{i}") for i in range(12)]
    write_run(tmp_path / "revised", "t", {}, revised)
    proc = s1_eval("compare", f"{run}:{NATIVE.name}", str(tmp_path / "revised"))
    assert_one_line_error(proc, "12 of 12 shared doc ids hold different documents")


def test_split_side():
    assert split_side("runs/a:budget=8") == ("runs/a", "budget=8")
    assert split_side("runs/a") == ("runs/a", None)


def test_report_reference_adds_the_paper_points_with_intervals(tmp_path):
    run = sweep(tmp_path)
    proc = s1_eval("report", run, "--reference", "--output_path", tmp_path / "board")
    assert proc.returncode == 0, proc.stderr
    assert "## Paired comparisons" in proc.stdout and "## The paper's AIME24" in proc.stdout
    assert "| 4 | 17 / 30 | 56.7 | 37.4 - 74.5 |" in proc.stdout
    assert "| 4 | 17 / 30 | 56.7 |" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_each_decode_method_is_compared_with_forcing_at_its_own_budget():
    """The committed decode-methods run: every method cell against the plain forcing cell of
    the same budget (never the parallel samples, never forcing against itself)."""
    from s1_eval.report.compare import against_forcing
    from s1_eval.runs.samples import load_cells

    cells, _ = load_cells([Path(__file__).resolve().parents[1] / "results" / "decode-methods"])
    rows = against_forcing(cells)
    methods = {pair.setting.split(",")[0] for pair in rows}
    assert methods == {f"method={m}" for m in
                       ("alphaone", "early-stop", "engine-cap", "nothinking", "nowait")}  # fmt: skip
    for pair in rows:
        budget = pair.setting.split("budget=")[1].split(",")[0]
        assert pair.baseline == f"budget={budget}" and pair.n == 50
