"""`s1-eval demo` end to end: real s1-train, real vLLM sweep, real lm_eval on the trained model.

One short demo run (the recipe's training, 8 problems, two cap budgets) is shared by the engine
tests: the demo command, its resume, ``lm_eval --model s1_vllm --model_args preset=s1`` round
trips on the model it trained (the cap, and one "Wait" recovering a premature conclusion).
The committed run in results/demo and the README section made from it are checked without an
engine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s1_eval.core.s1_format import PRESETS
from s1_eval.demo.run import ABLATION_STRINGS, DEMO_BUDGETS, WAIT_COUNTS, demo_config, stock_config
from tests.conftest import REPO, engine_args_string, lm_eval_command, read_samples, rows_by_cell

S1 = PRESETS["s1"]
# the recipe's full training (the "Wait" test needs a model that learned the pattern), few cells
DEMO_COMMAND = [sys.executable, "-m", "s1_eval.cli", "demo", "--output_path", "out", "--limit", "8",
                "--budgets", "8,64"]  # fmt: skip


@pytest.fixture(scope="module")
def demo_run(smollm2_dir, tmp_path_factory):
    """Run the demo once in a fresh folder; the base model is linked in, not converted again."""
    cwd = tmp_path_factory.mktemp("demo")
    cache = cwd / ".cache" / "s1-eval"
    cache.mkdir(parents=True)
    (cache / smollm2_dir.name).symlink_to(smollm2_dir)
    run = subprocess.run(DEMO_COMMAND, capture_output=True, text=True, cwd=cwd, timeout=2400)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    [model_dir] = [path for path in cache.glob("mini-s1-*") if path.is_dir()]
    return cwd, run, model_dir


def test_demo_config_sweeps_the_cap_the_extension_and_the_string_ablation(tmp_path):
    config = demo_config(tmp_path / "model")
    assert config.tasks == ("s1_demo_counting",) and config.apply_chat_template
    assert "preset=s1" in config.model_args and "dtype=float32" in config.model_args
    assert len(config.settings) == 2 * len(DEMO_BUDGETS) + len(WAIT_COUNTS) + len(ABLATION_STRINGS)
    assert {s.ignore_str for s in config.settings} == {None, "Wait", "Hmm", ""}
    uncapped = {(s.n_ignore, s.ignore_str) for s in config.settings if s.budget is None}
    assert uncapped == {(0, None), (1, "Wait"), (2, "Wait"), (4, "Wait"), (2, "Hmm"), (2, "")}
    assert "preset=plain" in stock_config(tmp_path / "model").model_args


@pytest.mark.engine
def test_demo_trains_sweeps_and_checks_its_targets(demo_run):
    cwd, run, model_dir = demo_run
    assert "training: s1-train" in run.stdout and "s/it" in run.stderr  # progress bar shown
    assert (model_dir / "config.json").is_file()
    assert "| s1_demo_counting |" in run.stdout and "demo finished" in run.stdout
    for name in ("leaderboard.md", "leaderboard.json", "leaderboard.csv", "scaling.png",
                 "forcing.png", "demo.md", "demo.json"):  # fmt: skip
        assert (cwd / "out" / name).is_file(), name
    for target in ("native accuracy", "cap curve: accuracy at budget 8",
                   "cap curve: accuracy at budget 64", "Control 100%", '2× "Wait": gain over native',
                   '2× "Hmm"', "2× no string"):  # fmt: skip
        assert target in run.stdout, target
    board = json.loads((cwd / "out" / "leaderboard.json").read_text())
    assert str(cwd) not in json.dumps(board), "committed-style results name no machine path"


@pytest.mark.engine
def test_demo_training_lowers_the_loss_and_saves_a_model(demo_run):
    """The s1-train run inside the demo: its logged loss falls, its folder loads in vLLM."""
    _, run, model_dir = demo_run
    losses = [float(x) for x in re.findall(r"'loss': '([0-9.e-]+)'", run.stdout + run.stderr)]
    assert len(losses) >= 2, "s1-train logs the loss every 4 steps"
    print(f"training loss: {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert losses[-1] < losses[0] * 0.5
    assert (model_dir / "model.safetensors").is_file()
    assert '"use_cache": true' in (model_dir / "config.json").read_text()


@pytest.mark.engine
def test_demo_rerun_skips_training_and_generation(demo_run):
    cwd, _, _ = demo_run
    first = (cwd / "out" / "demo.md").read_text()
    again = subprocess.run(DEMO_COMMAND, capture_output=True, text=True, cwd=cwd, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "skipping training" in again.stdout
    cells = 2 * 2 + len(WAIT_COUNTS) + len(ABLATION_STRINGS)
    assert f"{cells} of {cells} cells already finished" in again.stdout
    # the rerun prints the same tables and targets (only the timing line grows)
    assert first.split("Time on")[0] in again.stdout
    assert "vllm forcing" not in again.stderr


@pytest.mark.engine
def test_trained_model_thinks_in_s1_delimiters_under_lm_eval(demo_run, tmp_path):
    _, _, model_dir = demo_run
    cap = 16  # the model stops by itself after 13 thinking tokens on one group, 22+ on more
    command = [*lm_eval_command(), "--model", "s1_vllm",
               "--model_args", engine_args_string(model_dir, preset="s1"),
               "--tasks", "s1_demo_counting", "--apply_chat_template", "--limit", "8",
               "--gen_kwargs", f"max_tokens_thinking={cap}",
               "--output_path", str(tmp_path), "--log_samples"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_samples(tmp_path, "s1_demo_counting")
    assert len(rows) == 8 and all(0 < r["thinking_tokens"] <= cap for r in rows)
    for row in rows:
        response = row["resps"][0][0]
        # the model, not the forcing, writes the enumeration after the opening delimiter
        assert response.startswith(S1.thinking_start + "\n1 "), response[:80]
        if row["cap_fired"]:
            assert f"{S1.thinking_end}\nFinal Answer:" in response
        else:
            # thinking ended by the model's own delimiter; it answers in s1's trained format
            assert f"{S1.thinking_end}\nAnswer: $\\boxed{{" in response, response[-80:]
    assert any(not r["cap_fired"] for r in rows) and any(r["cap_fired"] for r in rows)


@pytest.mark.engine
def test_one_forced_wait_recovers_a_premature_conclusion_under_lm_eval(demo_run, tmp_path):
    """The demo's native cell (no cap, no suppression) concludes too soon on some problems; the
    real lm_eval CLI with thinking_n_ignore=1 suppresses that end, appends "Wait", and the
    model reads on past the group's end and answers right."""
    cwd, _, model_dir = demo_run
    [native_dir] = (cwd / "out" / "cells").glob("*budget=none,n_ignore=0")
    native = {row["doc_id"]: row for row in read_samples(native_dir, "s1_demo_counting")}
    command = [*lm_eval_command(), "--model", "s1_vllm",
               "--model_args", engine_args_string(model_dir, preset="s1"),
               "--tasks", "s1_demo_counting", "--apply_chat_template", "--limit", "8",
               "--gen_kwargs", "max_gen_toks=160,thinking_n_ignore=1,thinking_n_ignore_str=Wait",
               "--output_path", str(tmp_path), "--log_samples"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    recovered = []
    for row in read_samples(tmp_path, "s1_demo_counting"):
        before = native[row["doc_id"]]
        premature = not before["exact_match"] and not before["cap_fired"]
        if premature and row["exact_match"]:
            recovered.append((before, row))
    print(f"recovered by one Wait: {len(recovered)} of 8")
    assert recovered, "no premature conclusion was recovered by one Wait"
    for before, after in recovered:
        thought = before["resps"][0][0].split(S1.thinking_end)[0]
        response = after["resps"][0][0]
        # the forced run thinks exactly as the native one, then "Wait" where it had stopped,
        # and the model reads on: "Wait, <last word>; <first word of the next group>"
        last_word = thought.rstrip().rsplit(" ", 1)[-1]
        assert response.startswith(f"{thought}Wait, {last_word}; "), response[:200]
        assert after["suppressions"] == 1 and not after["cap_fired"]
        assert after["thinking_tokens"] > before["thinking_tokens"]


def sweep_command(model_args: str, budgets: str, output: Path, *extra: str) -> list[str]:
    """`s1-eval sweep` with exactly the demo's settings (see demo_config)."""
    gen_kwargs = ",".join(f"{k}={v}" for k, v in demo_config(Path()).gen_kwargs.items())
    return [sys.executable, "-m", "s1_eval.cli", "sweep", "--model_args", model_args,
            "--tasks", "s1_demo_counting", "--budgets", budgets, "--n_ignore", "0,2",
            "--ignore_str", "Wait", "--gen_kwargs", gen_kwargs, "--limit", "8",
            "--apply_chat_template", "--no_report", "--output_path", str(output), *extra]  # fmt: skip


def cell_rows(run_dir: Path) -> dict[str, list[tuple]]:
    return rows_by_cell(run_dir, "s1_demo_counting")


@pytest.fixture(scope="module")
def independent_run(demo_run, tmp_path_factory):
    """The demo's budgets and one more (96), each cell generating its own thinking."""
    _, _, model_dir = demo_run
    out = tmp_path_factory.mktemp("independent") / "run"
    command = sweep_command(demo_config(model_dir).model_args, "8,64,96", out, "--independent")
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "one pass" not in run.stdout
    return out


@pytest.mark.engine
def test_shared_sweep_equals_a_sweep_of_independent_cells(demo_run, independent_run):
    """The demo sweeps in one shared pass: every cell's responses and traces are identical."""
    cwd, run, _ = demo_run
    independent_run = cell_rows(independent_run)
    assert "in one pass (shared thinking)" in run.stdout
    shared = cell_rows(cwd / "out")
    common = [name for name in shared if name in independent_run]
    assert len(shared) == 10 and len(common) == 4
    for name in common:
        assert shared[name] == independent_run[name], name
    capped = [r for rows in shared.values() for r in rows if r[-1]]
    assert capped and len(capped) < sum(len(rows) for rows in shared.values())


@pytest.mark.engine
def test_a_larger_budget_later_only_generates_past_the_stored_thinking(
    demo_run, independent_run, tmp_path
):
    cwd, _, _ = demo_run
    independent_run = cell_rows(independent_run)
    run_dir = tmp_path / "run"
    shutil.copytree(cwd / "out", run_dir)
    assert (run_dir / "trajectories.jsonl").is_file()
    # the demo names its model by a path relative to its folder: extend it from there
    model_args = json.loads((run_dir / "sweep.json").read_text())["fixed"]["model_args"]
    run = subprocess.run(
        sweep_command(model_args, "8,64,96", run_dir),
        capture_output=True, text=True, timeout=900, cwd=cwd,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "4 of 6 cells already finished" in run.stdout
    [stats] = re.findall(r"(\d+) from the store; (\d+) tokens generated", run.stdout)
    from_store, generated = map(int, stats)
    rows = cell_rows(run_dir)
    assert {name: rows[name] for name in independent_run} == independent_run
    new_cells = [name for name in rows if "budget=96" in name]
    alone = sum(r[2] + r[3] for name in new_cells for r in independent_run[name])
    print(f"budget 96 added: {generated} tokens generated, {alone} in its separate cells")
    assert from_store > 0 and generated < alone / 2


@pytest.mark.engine
def test_two_real_runs_of_one_setting_compare_within_noise(demo_run, independent_run):
    cwd, _, _ = demo_run
    setting = "budget=64,n_ignore=0"
    proc = subprocess.run(
        [sys.executable, "-m", "s1_eval.cli", "compare", f"{cwd / 'out'}:{setting}",
         f"{independent_run}:{setting}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "problems both scored: 8" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("verdict: within noise: B - A = +0.0 points")


def test_committed_wait_gain_compares_significant():
    """The committed demo's 2x "Wait" gain holds up problem by problem."""
    run = Path(REPO, "results", "demo")
    proc = subprocess.run(
        [sys.executable, "-m", "s1_eval.cli", "compare", f"{run}:budget=none,n_ignore=0",
         f"{run}:budget=none,n_ignore=2,str=Wait", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["n"] == 50 and result["significant"] and result["ci_low_pct"] > 0
    assert result["wins"] > result["losses"] and result["mcnemar_p"] < 0.05
    board = json.loads(Path(run, "leaderboard.json").read_text())
    [row] = [c for c in board["comparisons"] if c["setting"] == "budget=none,n_ignore=2,str=Wait"]
    assert (
        row["difference_pct"] == result["difference_pct"]
        and row["baseline"] == "budget=none,n_ignore=0"
    )


def test_committed_demo_table_is_recomputed_from_its_samples():
    from s1_eval.report.build import build_report
    from s1_eval.report.leaderboard import to_json

    committed = Path(REPO, "results", "demo")
    board = json.loads((committed / "leaderboard.json").read_text())
    report = json.loads(to_json(build_report([committed])))
    assert _without_paths(report) == _without_paths(board)
    assert len(board["cells"]) == 2 * len(DEMO_BUDGETS) + len(WAIT_COUNTS) + len(ABLATION_STRINGS)


def _without_paths(board: dict) -> dict:
    """Every figure of the leaderboard by setting; only file locations may differ."""
    return {
        (section, row.get("setting") or row.get("series")): {
            k: v for k, v in row.items() if k != "results_file"
        }
        for section in ("cells", "curves", "comparisons")
        for row in board[section]
    }


def test_committed_demo_shows_wait_recovering_premature_conclusions_and_the_docs_say_so():
    """The demo page's tables are generated from results/demo: recomputed here from the
    samples, they must equal both the page and the run's own demo.md. The claims its prose
    makes are checked on the same numbers."""
    from s1_eval.demo.report import measure_demo, readme_section

    committed = Path(REPO, "results", "demo")
    measured = measure_demo(committed)
    met = {t.name: t.met for t in measured.targets}
    assert measured.native is not None and measured.premature >= 10
    assert met["native accuracy (no cap, no suppression) <= 70%"]
    # forced "Wait"s recover premature conclusions: a paired gain far outside the noise
    assert met['2× "Wait": gain over native > 3x its paired stderr']
    two_waits = next(p for p in measured.wait_curve if p.setting.n_ignore == 2)
    assert two_waits.vs_native.wins > 3 * two_waits.vs_native.losses
    assert met["cap curve: accuracy at budget 8 <= 30%"]
    assert all(met[name] for name in met if name.startswith("Control 100%"))
    # and every other target the demo prints: the "Wait" curve rises to >= 90% by 2x "Wait"
    assert all(met.values()), [name for name, ok in met.items() if not ok]
    section = readme_section(committed)
    assert (committed / "demo.md").read_text() == section
    assert section in (REPO / "docs" / "demo.md").read_text(), "run scripts/build_docs.py"


def test_demo_figure_draws_both_curves_from_the_measured_cells():
    from s1_eval.demo.report import figure_series, measure_demo, render_figure

    measured = measure_demo(Path(REPO, "results", "demo"))
    series = {s.label: s for s in figure_series(measured)}
    cap = series['cap (budget sweep) + up to 2 "Wait"']
    assert [label for *_, label in cap.points] == [str(b) for b in DEMO_BUDGETS]
    assert [(x, y) for x, y, *_ in cap.points] == [
        (p.thinking_mean, p.accuracy_pct) for p in measured.cap_with_wait
    ]
    wait = series['extend: k × "Wait", no cap']
    assert [label for *_, label in wait.points] == [f"k={k}" for k in WAIT_COUNTS]
    # more suppressions, more thinking: the "Wait" curve moves right along the same axis
    xs = [x for x, *_ in wait.points]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    assert {label for label in series if label.startswith("ablation")} == {
        'ablation: 2× "Hmm"',
        "ablation: 2× no string",
    }
    assert render_figure(measured).startswith(b"\x89PNG")


def test_scrub_local_paths_removes_machine_folders(tmp_path, monkeypatch):
    from s1_eval.demo.run import scrub_local_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.json").write_text(f'{{"a": "{tmp_path}/tasks/x.yaml", "b": "{Path.home()}/m"}}')
    scrub_local_paths(tmp_path)
    assert (tmp_path / "r.json").read_text() == '{"a": "./tasks/x.yaml", "b": "~/m"}'
