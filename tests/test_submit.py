"""`s1-eval submit` bundles of copies of the demo run, and `s1-eval verify` on them, tampered."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "results" / "demo"
CELL = "s1_demo_counting__budget=32,n_ignore=0"


def s1_eval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "s1_eval.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def one_cell_run(folder: Path) -> Path:
    """One finished cell of the demo sweep as a sweep folder of its own (fast to verify)."""
    run = folder / "run"
    shutil.copytree(DEMO / "cells" / CELL, run / "cells" / CELL)
    shutil.copy(DEMO / "sweep.json", run / "sweep.json")
    return run


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("submit")
    done = s1_eval("submit", str(one_cell_run(folder)), "--output_path", str(folder / "bundle"))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "bundle"


def copy_of(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "bundle"))


def test_the_bundle_holds_runs_environment_verdict_and_a_manifest_of_every_file(bundle):
    submission = json.loads((bundle / "submission.json").read_text())
    assert submission["verify"] == {"ok": True, "summary": "1 cells, 50 samples re-graded"}
    assert submission["environment"]["lm-eval"] and submission["environment"]["python"]
    assert {r["hardware"] for r in submission["recorded"].values()} == {"2 CPUs (x86_64)"}
    manifest = json.loads((bundle / "manifest.json").read_text())["files"]
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {
        "manifest.json"
    }
    assert set(manifest) == on_disk
    assert "runs/1-run/sweep.json" in manifest
    assert any(name.endswith(".jsonl") for name in manifest)


def test_the_untouched_bundle_verifies(bundle):
    done = s1_eval("verify", str(bundle))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("verify: OK - 1 cells, 50 samples re-graded; 1 bundle")


def test_an_edited_a_missing_and_an_added_file_are_each_named(bundle, tmp_path):
    copy = copy_of(bundle, tmp_path)
    [samples] = copy.rglob("samples_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    rows[0]["resps"] = [["a different response"]]  # a field the re-grade does not read
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (copy / "runs" / "1-run" / "sweep.json").unlink()
    (copy / "runs" / "1-run" / "extra.txt").write_text("x")
    done = s1_eval("verify", str(copy))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("verify: FAILED - ")
    rel = samples.relative_to(copy).as_posix()
    assert any(
        line.endswith(f"{rel}: edited (SHA-256 differs from the manifest)") for line in lines
    )
    assert any(
        line.endswith("runs/1-run/sweep.json: missing (listed in the manifest)") for line in lines
    )
    assert any(line.endswith("runs/1-run/extra.txt: added (not in the manifest)") for line in lines)


def test_files_no_bundle_holds_and_an_edited_submission_or_manifest_are_named(bundle, tmp_path):
    """A lock file and a file in a temporary folder (which a run folder's reader skips) are
    still added files; an entry dropped from the manifest makes its file an added one."""
    copy = copy_of(bundle, tmp_path)
    submission = json.loads((copy / "submission.json").read_text())
    submission["environment"]["python"] = "3.99"
    (copy / "submission.json").write_text(json.dumps(submission))
    (copy / "runs" / "1-run" / ".lock").write_text("1")
    (copy / "runs" / "1-run" / "cells" / ".tmp-x").mkdir()
    (copy / "runs" / "1-run" / "cells" / ".tmp-x" / "results.json").write_text("{}")
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["runs/1-run/sweep.json"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    done = s1_eval("verify", str(copy))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[1:] == [
        f"  {copy}: {line}"
        for line in (
            "runs/1-run/.lock: added (not in the manifest)",
            "runs/1-run/cells/.tmp-x/results.json: added (not in the manifest)",
            "runs/1-run/sweep.json: added (not in the manifest)",
            "submission.json: edited (SHA-256 differs from the manifest)",
        )
    ]


def test_a_folder_without_its_manifest_still_fails_as_a_bundle_and_is_re_graded(bundle, tmp_path):
    copy = copy_of(bundle, tmp_path)
    (copy / "manifest.json").unlink()
    done = s1_eval("verify", str(copy))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "50 samples re-graded" in done.stdout.splitlines()[0]
    assert done.stdout.splitlines()[1:] == [
        f"  {copy}: manifest.json: missing (no file can be checked)"
    ]


def test_an_archive_with_a_broken_manifest_and_a_file_beside_its_folder_names_both(
    bundle, tmp_path
):
    copy = copy_of(bundle, tmp_path)
    (copy / "manifest.json").write_text("{")
    (tmp_path / "note.txt").write_text("x")
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:
        tar.add(copy, arcname="bundle")
        tar.add(tmp_path / "note.txt", arcname="note.txt")
    done = s1_eval("verify", str(tampered))
    assert done.returncode == 1, done.stdout + done.stderr
    # named by the archive, never by the scratch folder it was unpacked into
    assert done.stdout.splitlines()[1:] == [
        f"  {tampered}: manifest.json: unreadable (line 1, column 2: invalid JSON "
        "(Expecting property name enclosed in double quotes)) (no file can be checked)",
        f"  {tampered}: note.txt: added (beside the bundle folder in the archive)",
    ]


def test_a_tar_gz_bundle_verifies(tmp_path):
    out = tmp_path / "submission.tar.gz"
    done = s1_eval("submit", str(one_cell_run(tmp_path)), "--output_path", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    done = s1_eval("verify", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    [folder] = (tmp_path / "unpacked").iterdir()
    [samples] = folder.rglob("samples_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    next(r for r in rows if r["exact_match"] == 0)["exact_match"] = 1
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    done = s1_eval("verify", str(tampered))
    assert done.returncode == 1
    lines = done.stdout.splitlines()[1:]
    rel = samples.relative_to(folder).as_posix()
    assert f"  {tampered}: {rel}: edited (SHA-256 differs from the manifest)" in lines
    regraded = [line for line in lines if "exact_match recorded 1, re-graded 0" in line]
    assert regraded and all(line.startswith(f"  {tampered}/") for line in regraded)


def test_a_run_that_fails_verify_is_not_bundled(tmp_path):
    run = one_cell_run(tmp_path)
    [samples] = run.rglob("samples_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    wrong = next(r for r in rows if r["exact_match"] == 0)
    wrong["exact_match"] = 1  # a score the response does not earn
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = s1_eval("submit", str(run), "--output_path", str(tmp_path / "bundle"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "fails verify" in done.stderr
    assert not (tmp_path / "bundle").exists()


def test_the_recorded_rerun_command_parses_and_its_compare_runs(bundle, tmp_path):
    """The re-run is lm-eval's own `--samples` (parsed here by lm-eval's parser); its output,
    stood in for by the bundle's rows of those doc ids, compares with `s1-eval compare`."""
    from lm_eval._cli import HarnessCLI

    [command] = json.loads((bundle / "submission.json").read_text())["rerun"]
    run_part, compare_part = command.split(" && ")
    words = shlex.split(run_part)
    assert words[:2] == ["s1-eval", "run"]
    args = HarnessCLI()._parser.parse_args(words[1:])
    [(task, ids)] = args.samples.items()
    assert task == "s1_demo_counting" and len(ids) == 5
    out = tmp_path / args.output_path / "model"
    out.mkdir(parents=True)
    [results] = bundle.rglob("results_*.json")
    [samples] = bundle.rglob("samples_*.jsonl")
    data = json.loads(results.read_text())
    data["n-samples"][task]["effective"] = len(ids)  # as lm-eval records a --samples run
    (out / results.name).write_text(json.dumps(data))
    kept = [line for line in samples.read_text().splitlines() if json.loads(line)["doc_id"] in ids]
    (out / samples.name).write_text("\n".join(kept) + "\n")
    compare = shlex.split(compare_part)
    side_a = str(bundle / compare[2])
    done = s1_eval("compare", side_a, compare[3], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "won 0 / lost 0 / tied 5" in done.stdout
