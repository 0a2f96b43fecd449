"""`s1-eval submit RUN_DIR... --output_path BUNDLE`: a leaderboard submission that can be re-checked.

    bundle = make_bundle(["runs/s1"], "submission")   # or "submission.tar.gz"

A bundle holds a copy of every run folder (results, samples, sweep and cell configs) under
``runs/``, ``submission.json`` (the environment it was bundled in, the hardware the runs
recorded, the verify verdict at bundling time and, per sweep cell, the command that re-generates
a random subset of its samples) and ``manifest.json`` (the SHA-256 of every other file).
``s1-eval verify BUNDLE`` checks the manifest first (``bundle_problems``), then re-grades the
copied runs as it does any run folder. The bundle shows that the numbers follow from the
samples; only re-running some of them shows that the samples came from the named model.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import random
import shlex
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from s1_eval.common.files import TMP_PREFIX, UnreadableFile, read_json, replacing, replacing_dir
from s1_eval.report.archive import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    ScannedArchive,
    is_archive,
    scan_archive,
    unpack,
)
from s1_eval.runs.folder import CELL_FILE, is_sweep
from s1_eval.runs.lock import HOLDER_FILE, LOCK_FILE
from s1_eval.runs.seeds import seed_option

MANIFEST = "manifest.json"
SUBMISSION = "submission.json"
FORMAT = "s1-eval submission"
#: samples per cell in the suggested re-run: enough to catch another model, cheap to generate
RERUN_SAMPLES = 5


def _is_targz(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def _files(root: Path) -> Iterator[Path]:
    """Every file under ``root`` a bundle carries: not a lock, not a half-written temporary."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(TMP_PREFIX) for part in rel.parts):
            continue
        if path.is_file() and path.name not in (LOCK_FILE, HOLDER_FILE):
            yield path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str | None:
    # the installed distribution's metadata: never imports the package (vllm would start CUDA)
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    return {
        "s1-eval": _version("s1-eval"),
        "lm-eval": _version("lm_eval"),
        "vllm": _version("vllm"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _recorded(run: Path, name: str) -> dict:
    """What a run itself recorded: hardware and versions, per cell."""
    from s1_eval.runs.samples import load_cells

    cells, _ = load_cells([run])
    recorded = {}
    for cell in cells:
        recorded[f"runs/{name}:{cell.task}:{cell.setting.name}"] = {
            "hardware": cell.hardware or None,
            "lm-eval": cell.lm_eval_version or None,
            "s1-eval": cell.s1_eval_version or None,
        }
    return recorded


def rerun_commands(run: Path, name: str, seed: int = 0) -> list[str]:
    """Per sweep cell: `s1-eval run` on a random subset of its doc ids, then `s1-eval compare`."""
    if not is_sweep(run):
        return []
    from s1_eval.common.files import read_jsonl

    fixed = read_json(run / "sweep.json").get("fixed") or {}
    draw = random.Random(seed)
    commands = []
    for marker_path in sorted(run.glob(f"cells/*/{CELL_FILE}")):
        marker = read_json(marker_path)
        task = marker["task"]
        ids = sorted(
            row.get("doc_id")
            for file in marker.get("samples_files") or []
            for _, row in read_jsonl(marker_path.parent / file)
        )
        subset = sorted(draw.sample(ids, min(RERUN_SAMPLES, len(ids))))
        out = f"rerun/{marker_path.parent.name}"
        # JSON, which lm-eval's --gen_kwargs reads as is: as key=value, a comma inside a value
        # (the demo's ignore string "\\nWait,") splits it, and "1"/"true" change type
        gen = json.dumps(marker.get("gen_kwargs") or {}, ensure_ascii=False)
        words = ["s1-eval", "run", "--model", marker["model"], "--model_args"]
        words += [marker.get("model_args") or "", "--tasks", task, "--gen_kwargs", gen]
        if fixed.get("apply_chat_template"):
            words.append("--apply_chat_template")
        if fixed.get("fewshot_as_multiturn"):
            words.append("--fewshot_as_multiturn")
        if fixed.get("num_fewshot") is not None:
            words += ["--num_fewshot", str(fixed["num_fewshot"])]
        if fixed.get("system_instruction"):
            words += ["--system_instruction", fixed["system_instruction"]]
        if fixed.get("seed") is not None:
            words += ["--seed", seed_option(fixed["seed"])]
        words += ["--samples", json.dumps({task: subset}), "--log_samples", "--output_path", out]
        compare = ["s1-eval", "compare", f"runs/{name}:{marker['setting_name']}", out]
        commands.append(" ".join(map(shlex.quote, words)) + " && " + shlex.join(compare))
    return commands


def make_bundle(runs: Sequence[str | Path], output: str | Path, include_path=()) -> Path:
    """Verify ``runs``, then write the bundle (a folder, or a .tar.gz) in one rename."""
    from s1_eval.report.verify import verify_runs

    runs = [Path(r) for r in runs]
    for run in runs:
        if not run.is_dir():
            raise ValueError(f"{run}: not a run folder")
    problems, summary = verify_runs(runs, include_path=include_path)
    if problems:
        raise ValueError(
            f"{', '.join(map(str, runs))} fails verify ({len(problems)} mismatch(es), first: "
            f"{problems[0]}); run `s1-eval verify` and fix the run before submitting"
        )
    output = Path(output)
    names = [f"{i}-{run.resolve().name}" for i, run in enumerate(runs, 1)]
    submission = {
        "format": FORMAT,
        "version": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs": [f"runs/{name}" for name in names],
        "environment": environment(),
        "recorded": {
            k: v for r, n in zip(runs, names, strict=True) for k, v in _recorded(r, n).items()
        },
        "verify": {"ok": True, "summary": summary},
        "rerun": [
            c for run, name in zip(runs, names, strict=True) for c in rerun_commands(run, name)
        ],
    }
    if _is_targz(output):
        with tempfile.TemporaryDirectory() as scratch, replacing(output) as tmp:
            folder = Path(scratch) / "bundle"
            _fill(folder, runs, names, submission)
            with tarfile.open(tmp, "w:gz") as tar:
                tar.add(folder, arcname=output.name.removesuffix(".tar.gz").removesuffix(".tgz"))
        return output
    if output.exists():
        raise ValueError(f"--output_path {output}: already exists; give a new folder")
    with replacing_dir(output) as staging:
        _fill(staging, runs, names, submission)
    return output


def _fill(folder: Path, runs: Sequence[Path], names: Sequence[str], submission: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for run, name in zip(runs, names, strict=True):
        for path in _files(run):
            target = folder / "runs" / name / path.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    (folder / SUBMISSION).write_text(json.dumps(submission, indent=2, ensure_ascii=False) + "\n")
    hashes = {p.relative_to(folder).as_posix(): sha256(p) for p in _files(folder)}
    manifest = {"algorithm": "sha256", "files": hashes}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


# --------------------------------------------------------------------------- verify side


def is_bundle(path: Path) -> bool:
    # either file makes a folder a bundle, so deleting one cannot turn it into a plain run folder
    return is_archive(path) or (path / MANIFEST).is_file() or (path / SUBMISSION).is_file()


def open_bundle(
    path: Path, scratch: Path, scanned: ScannedArchive | None = None
) -> tuple[Path, list[str], dict[str, str] | None]:
    """The bundle's folder: ``path`` itself, or an archive's bundle folder unpacked into
    ``scratch`` once every member passed ``scan_archive`` (``scanned``: its result, when the
    caller scanned it already); the archive's entries beside that folder (a bundle has none);
    and the archive's file hashes, taken as it streamed by."""
    if not is_archive(path):
        return path, [], None
    scanned = scanned or scan_archive(path)
    folders, files = scanned.top_level()
    bundles = [
        f for f in folders if {MANIFEST, SUBMISSION} & set(scanned.files_under(f))
    ] or folders
    if len(bundles) != 1:
        raise ValueError(f"{path}: not one bundle folder inside")
    [root] = bundles
    hashes = unpack(scanned, scratch, under=root)
    return scratch / root, sorted({*folders, *files} - {root}), hashes


def _read(folder: Path, name: str) -> tuple[dict | None, str | None]:
    """A bundle's JSON file, or the line that says why it cannot be read."""
    if not (folder / name).is_file():
        return None, f"{name}: missing"
    try:
        data = read_json(folder / name)
    except UnreadableFile as error:  # its line and column; the path may be a scratch folder's
        return None, f"{name}: unreadable ({error.where}: {error.problem})"
    except OSError as error:
        return None, f"{name}: unreadable ({error.strerror})"
    return (data, None) if isinstance(data, dict) else (None, f"{name}: not a JSON object")


def bundle_problems(
    folder: Path, hashes: dict[str, str] | None = None
) -> tuple[list[str], list[Path]]:
    """One line per edited, missing or added file; and the run folders to re-grade.

    ``hashes``: every file's SHA-256 by relative path, when already known (an archive's, from
    its scan); else each file under ``folder`` is hashed."""
    # every copied run, whatever submission.json lists: a run left off that list is re-graded too
    runs = [p for p in sorted((folder / "runs").glob("*")) if p.is_dir()]
    manifest, problem = _read(folder, MANIFEST)
    expected = (manifest or {}).get("files")
    if not isinstance(expected, dict):  # with no hashes nothing can be compared: say so once
        return [f"{problem or MANIFEST + ': lists no files'} (no file can be checked)"], runs
    # every file, locks and temporary folders too: make_bundle copies none, so any is added
    if hashes is None:
        hashes = {
            p.relative_to(folder).as_posix(): sha256(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
    found = {rel: digest for rel, digest in hashes.items() if rel != MANIFEST}
    problems = []
    for rel in sorted(set(expected) | set(found)):
        if rel not in found:
            problems.append(f"{rel}: missing (listed in the manifest)")
        elif rel not in expected:
            problems.append(f"{rel}: added (not in the manifest)")
        elif found[rel] != expected[rel]:
            problems.append(f"{rel}: edited (SHA-256 differs from the manifest)")
    return problems, runs


def _unpacked_from(where: str, unpacked: dict[Path, Path]) -> tuple[Path, Path]:
    for folder, archive in unpacked.items():
        if where.startswith(str(folder)):
            return folder, archive
    return Path(where), Path(where)


def verify_with_bundles(
    paths: Sequence[str | Path], include_path=(), limits: ArchiveLimits = DEFAULT_LIMITS
) -> tuple[list, str]:
    """`s1-eval verify`: a bundle's manifest is checked first, then its runs are re-graded with
    the plain run folders given beside it. An archive is unpacked into a temporary folder,
    removed whatever happens, only once all its members passed ``scan_archive``'s rules."""
    from s1_eval.report.verify import Problem, verify_runs

    problems: list = []
    runs: list[Path] = []
    bundles = 0
    unpacked: dict[Path, Path] = {}
    paths = [Path(p) for p in paths]
    for path in paths:
        if path.suffix == ".zip":
            raise ValueError(
                f"{path}: a zip archive is not read; give the .tar.gz that `s1-eval submit` writes"
            )
    # every archive passes its scan before anything is written, the temporary folder included
    scans = {path: scan_archive(path, limits) for path in paths if is_archive(path)}
    with tempfile.TemporaryDirectory() as scratch:
        for index, path in enumerate(paths):
            if not is_bundle(path):
                runs.append(path)
                continue
            folder, beside, hashes = open_bundle(path, Path(scratch) / str(index), scans.get(path))
            if folder != path:
                unpacked[folder] = path
            lines, bundle_runs = bundle_problems(folder, hashes)
            lines += [f"{name}: added (beside the bundle folder in the archive)" for name in beside]
            problems += [Problem(str(path), line) for line in lines]
            runs += bundle_runs
            bundles += 1
        if not runs:
            return problems, f"{bundles} bundle(s) with no run folder left to re-grade"
        found, summary = verify_runs(runs, include_path=include_path)
        # a problem in an unpacked archive names the archive, not the scratch folder that goes
        found = [
            replace(f, where=f.where.replace(str(folder), str(archive)))
            for f in found
            for folder, archive in [_unpacked_from(f.where, unpacked)]
        ]
    if bundles:
        summary += f"; {bundles} bundle manifest(s) checked"
    return problems + found, summary
