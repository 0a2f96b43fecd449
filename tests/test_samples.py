"""Reading lm-eval results / samples files into cells (hand-written files, no evaluation)."""

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_runs import row, write_run, write_sweep

from s1_eval.common.files import UnreadableFile, read_jsonl
from s1_eval.runs.folder import Setting
from s1_eval.runs.samples import UnreadableRun, find_results_files, load_cells


def test_setting_names_and_gen_kwargs():
    s = Setting(512, 2, "Wait")
    assert s.name == "budget=512,n_ignore=2,str=Wait"
    assert s.series == "n_ignore=2,str=Wait"
    assert s.gen_kwargs() == {
        "max_tokens_thinking": 512,
        "thinking_n_ignore": 2,
        "thinking_n_ignore_str": "Wait",
    }
    assert Setting(None).name == "budget=none" and Setting(None).gen_kwargs() == {}
    assert Setting(64, 0).name == "budget=64,n_ignore=0"
    assert Setting(64, 2, "\nWait").name == 'budget=64,n_ignore=2,str="\\nWait"'
    assert "/" not in Setting(64, 2, "a/b c").slug and " " not in Setting(64, 2, "a/b c").slug
    assert Setting.from_dict(s.to_dict()) == s


def test_setting_from_gen_kwargs_first_source_wins():
    s = Setting.from_gen_kwargs(
        {"max_tokens_thinking": "1000", "until": ["x"]},
        {"thinking_n_ignore": 3},
        {"max_tokens_thinking": 5, "thinking_n_ignore_str": "Hmm"},
    )
    assert s == Setting(1000, 3, "Hmm")
    assert Setting.from_gen_kwargs({"max_tokens_thinking": "auto"}).budget == "auto"
    assert Setting.from_gen_kwargs(None, {}).budget is None
    # the backend's s1_forcing records the strings as a list; no suppression -> no string
    assert Setting.from_gen_kwargs(
        {"thinking_n_ignore": 2}, {"thinking_n_ignore_str": ["Wait"]}
    ) == (Setting(None, 2, "Wait"))
    assert Setting(64, 0, "Wait") == Setting(64, 0) and Setting(64, None, "x").ignore_str is None


def test_unknown_cap_marker_is_no_cap(tmp_path):
    rows = [row(0, 1, 50, 64), row(1, 0, -1, -1, cap_fired=-1, suppressions=-1)]
    write_run(tmp_path, "t", {"max_tokens_thinking": 64}, rows)
    (cell,), _ = load_cells([tmp_path])
    assert [r.max_tokens_thinking for r in cell.records] == [64, None]


def test_plain_lm_eval_run_is_read(tmp_path):
    rows = [row(0, 1, 900, 1000), row(1, 0, 1000, 1000), row(2, 1, -1, None)]
    write_run(
        tmp_path,
        "s1_aime24",
        {"max_tokens_thinking": 1000, "thinking_n_ignore": 2},
        rows,
        s1_forcing={"thinking_n_ignore_str": "Wait", "preset": "s1"},
    )
    cells, warnings = load_cells([tmp_path])
    assert warnings == []
    (cell,) = cells
    assert cell.model == "org/model-7b" and cell.task == "s1_aime24"
    assert cell.setting == Setting(1000, 2, "Wait")  # ignore string from config.s1_forcing
    assert [r.correct for r in cell.records] == [1.0, 0.0, 1.0]
    assert cell.records[2].has_trace is False
    assert cell.metric == "exact_match" and cell.filter == "none" and cell.missing_fields == ()


def test_missing_trace_fields_are_reported(tmp_path):
    write_run(tmp_path, "other_task", {}, [row(0, 1), row(1, 0)])
    (cell,), _ = load_cells([tmp_path])
    assert cell.setting == Setting(None)
    assert cell.records[0].thinking_tokens is None
    assert set(cell.missing_fields) == {"thinking_tokens", "max_tokens_thinking"}


def test_incomplete_or_cut_samples_are_skipped(tmp_path):
    path = write_run(tmp_path / "a", "t", {}, [row(0, 1, 10)], effective=3)
    cells, warnings = load_cells([tmp_path / "a"])
    assert cells == [] and "incomplete" in warnings[0]
    samples = next(path.parent.glob("samples_*.jsonl"))
    write_run(tmp_path / "b", "t", {}, [row(0, 1, 10), row(1, 1, 10)])
    cut = next((tmp_path / "b").rglob("samples_*.jsonl"))
    cut.write_text(cut.read_text()[:-20])  # killed mid-line
    with pytest.raises(UnreadableFile, match=", line 2, column"):
        read_jsonl(cut)
    cells, warnings = load_cells([tmp_path / "b"])
    assert cells == [] and f"{cut}: incomplete (line 2, column" in warnings[0]
    assert samples.is_file()


def test_filter_and_metric_choice(tmp_path):
    rows = [
        row(0, 1, 10, filter_name="maj@4"),
        row(0, 0, 10, filter_name="none"),
        row(1, 1, 10, filter_name="maj@4"),
        row(1, 1, 10, filter_name="none"),
    ]
    write_run(tmp_path, "t", {}, rows)
    (cell,), warnings = load_cells([tmp_path])
    assert cell.filter == "none" and [r.correct for r in cell.records] == [0.0, 1.0]
    assert "maj@4" in warnings[0]
    (cell,), _ = load_cells([tmp_path], filter_name="maj@4")
    assert [r.correct for r in cell.records] == [1.0, 1.0]
    other = [{**r, "acc": r["exact_match"]} for r in rows[:2]]
    for r in other:
        del r["exact_match"]
        r["metrics"] = ["acc"]
    write_run(tmp_path / "acc", "t2", {}, other)
    (cell,), _ = load_cells([tmp_path / "acc"])
    assert cell.metric == "acc"  # falls back to the first numeric metric


def test_latest_duplicate_wins(tmp_path):
    write_run(
        tmp_path, "t", {"max_tokens_thinking": 8}, [row(0, 0, 8)], date="2026-01-01T00-00-00.1"
    )
    write_run(
        tmp_path, "t", {"max_tokens_thinking": 8}, [row(0, 1, 8)], date="2026-02-01T00-00-00.1"
    )
    (cell,), warnings = load_cells([tmp_path])
    assert cell.records[0].correct == 1.0 and "superseded" in warnings[0]


def test_sweep_folder_reads_only_finished_cells(tmp_path):
    (tmp_path / "sweep.json").write_text("{}")
    done = tmp_path / "cells" / "t__budget=8"
    results = write_run(done, "t", {}, [row(0, 1, 8)])
    marker = {"results_file": str(results.relative_to(done)), "setting": Setting(8).to_dict()}
    (done / "cell.json").write_text(json.dumps(marker))
    write_run(tmp_path / "cells" / "t__budget=16", "t", {}, [row(0, 1, 8)])  # no marker
    write_run(tmp_path / "cells" / ".tmp-t__budget=32.1.x", "t", {}, [row(0, 1, 8)])
    assert [p for p, _ in find_results_files(tmp_path)] == [results]
    (cell,), _ = load_cells([tmp_path])
    assert cell.setting == Setting(8)


def test_tmp_folders_ignored_in_plain_dirs(tmp_path):
    write_run(tmp_path / ".tmp-x", "t", {}, [row(0, 1, 8)])
    cells, warnings = load_cells([tmp_path])
    assert cells == [] and "no lm-eval results" in warnings[0]


@pytest.mark.parametrize("bad", ["{", "", "[1, 2]", b"\xff\xfe\x00"])
def test_unreadable_results_file_stops_the_reading(tmp_path, bad):
    folder = tmp_path / "m"
    folder.mkdir()
    path = folder / "results_2026.json"
    path.write_bytes(bad) if isinstance(bad, bytes) else path.write_text(bad)
    with pytest.raises(UnreadableRun, match=f"^{re.escape(str(path))}: unreadable results file"):
        load_cells([tmp_path])


def test_a_finished_sweep_cell_must_be_whole(tmp_path):
    run = write_sweep(tmp_path / "s", [("t", Setting(8), [row(0, 1, 8, 8), row(1, 0, 8, 8)])])
    assert len(load_cells([run])[0]) == 1  # the killed cell's leftovers are never read
    (samples,) = run.glob("cells/t__*/*/samples_*.jsonl")
    samples.write_text(samples.read_text().splitlines()[0] + "\n")
    with pytest.raises(UnreadableRun, match=r"incomplete .* in a finished cell"):
        load_cells([run])
    (marker,) = run.glob("cells/t__*/cell.json")
    marker.write_text("{")
    with pytest.raises(UnreadableRun, match="unreadable cell marker"):
        load_cells([run])


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(UnreadableRun, match="no such run folder"):
        load_cells([tmp_path / "nope"])


def test_model_label_is_readable():
    from s1_eval.runs.samples import model_label

    assert model_label({"model_name": ".cache/s1-eval/mini-s1-3373b4"}) == "mini-s1-3373b4"
    assert model_label({"model_name": "/data/models/s1-32B/"}) == "s1-32B"
    assert model_label({"model_name": "simplescaling/s1-32B"}) == "simplescaling/s1-32B"
    assert model_label({"config": {"model_args": "pretrained=gpt2,dtype=auto"}}) == "gpt2"
    assert model_label({"model_name": "/m/x"}, {"label": "mine"}) == "mine"
