"""`s1-eval verify` on hostile archives built around a real bundle of the committed demo run.

Each archive is the real bundle plus one hostile member. Through the real CLI, each must be
refused in one line naming the member and the rule, with a non-zero exit status, and leave
nothing behind: not in the temporary folder (TMPDIR), not in the folder it ran in, not where
a member pointed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from s1_eval.report.archive import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMBERS
from tests.test_submit import one_cell_run

BASE = "base.tar.gz"
ROOT = "base"  # the bundle folder inside it, named after the archive


def run_cli(*args: str, tmp_path: Path, **popen) -> subprocess.CompletedProcess:
    """The real CLI, in an empty folder of its own, with an empty temporary folder."""
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmpdir")}
    command = [sys.executable, "-m", "s1_eval.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, cwd=tmp_path / "cwd", env=env
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A real bundle of one demo cell, as `s1-eval submit` writes it (.tar.gz)."""
    folder = tmp_path_factory.mktemp("base")
    (folder / "tmpdir").mkdir()
    (folder / "cwd").mkdir()
    done = run_cli("submit", str(one_cell_run(folder)), "--output", str(folder / BASE),
                   tmp_path=folder)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / BASE


def snapshot(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` with its size (folders as -1)."""
    return {
        p.relative_to(folder).as_posix(): -1 if p.is_dir() else p.lstat().st_size
        for p in folder.rglob("*")
    }


def hostile(base: Path, out: Path, *extra: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    """The base bundle's members, then the ``extra`` ones, as a new .tar.gz."""
    with tarfile.open(base) as source, tarfile.open(out, "w:gz") as tar:
        for member in source.getmembers():
            tar.addfile(member, source.extractfile(member) if member.isreg() else None)
        for info, data in extra:
            if data is not None and len(data) != info.size:  # a header that lies: no data
                header = info.tobuf(tar.format, tar.encoding, tar.errors)
                tar.fileobj.write(header)
                tar.offset += len(header)
                continue
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data if kind == tarfile.REGTYPE else None


@pytest.fixture
def place(tmp_path) -> Path:
    (tmp_path / "tmpdir").mkdir()
    (tmp_path / "cwd").mkdir()
    return tmp_path


def assert_refused(archive: Path, place: Path, line: str, *flags: str) -> None:
    before = snapshot(place)
    done = run_cli("verify", str(archive), *flags, tmp_path=place)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"error: {archive}: {line}\n")
    assert snapshot(place) == before, "something was written"


def test_the_base_bundle_verifies(base, place):
    done = run_cli("verify", str(base), tmp_path=place)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("verify: OK - 1 cells, 50 samples re-graded; 1 bundle")
    assert snapshot(place / "tmpdir") == {}, "the temporary folder is removed"


REFUSED = "nothing was unpacked (ask for the archive `s1-eval submit` writes)"


@pytest.mark.parametrize(
    "extra, line",
    [
        (
            member(f"{ROOT}/../../../../escaped", data=b"x"),
            f"member '{ROOT}/../../../../escaped' leaves the archive's folder ('..' in its "
            f"path); {REFUSED}",
        ),
        (
            member("/escaped-absolute", data=b"x"),
            f"member '/escaped-absolute' is an absolute path; {REFUSED}",
        ),
        (
            member(f"{ROOT}/passwd", tarfile.SYMTYPE, linkname="/etc/passwd"),
            f"member '{ROOT}/passwd' is a symbolic link (to '/etc/passwd'): a bundle holds "
            f"only files and folders; {REFUSED}",
        ),
        (
            member(f"{ROOT}/again.json", tarfile.LNKTYPE, linkname=f"{ROOT}/submission.json"),
            f"member '{ROOT}/again.json' is a hard link (to '{ROOT}/submission.json'): a bundle "
            f"holds only files and folders; {REFUSED}",
        ),
        (
            member(f"{ROOT}/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
            f"member '{ROOT}/null' is a device file: a bundle holds only files and folders; "
            f"{REFUSED}",
        ),
        (
            member(f"{ROOT}/pipe", tarfile.FIFOTYPE),
            f"member '{ROOT}/pipe' is a FIFO: a bundle holds only files and folders; {REFUSED}",
        ),
        (
            member(f"{ROOT}/submission.json", data=b"{}"),
            f"member '{ROOT}/submission.json' names a path another member already names; {REFUSED}",
        ),
        (
            member(f"{ROOT}/submission.json/inside", data=b"x"),
            f"member '{ROOT}/submission.json/inside' lies inside '{ROOT}/submission.json', a "
            f"file; {REFUSED}",
        ),
        (
            member(f"{ROOT}/huge", data=b"", size=5 * 1024**3),  # a header that claims 5 GiB
            f"member '{ROOT}/huge' (5,368,709,120 bytes) takes the archive past the limit of "
            f"{DEFAULT_MAX_BYTES:,} unpacked bytes; nothing was unpacked (if it is a real "
            "submission, raise --max_bytes)",
        ),
    ],
    ids=[
        "dotdot",
        "absolute",
        "symlink",
        "hardlink",
        "device",
        "fifo",
        "twice",
        "under-a-file",
        "header-5GiB",
    ],
)
def test_a_hostile_member_is_refused_in_one_line_and_nothing_is_written(base, place, extra, line):
    archive = hostile(base, place / "hostile.tar.gz", extra)
    assert_refused(archive, place, line)
    assert not (place.parent / "escaped").exists() and not Path("/escaped-absolute").exists()


def test_a_compression_bomb_stops_after_a_few_mib(base, place):
    """A GiB of zeros packs into about a MiB; its scan ends once the ratio passes 100."""
    archive = place / "bomb.tar.gz"
    with (
        tarfile.open(base) as source,
        open(archive, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as packed,
        tarfile.open(fileobj=packed, mode="w|") as tar,
    ):
        for info in source.getmembers():
            tar.addfile(info, source.extractfile(info) if info.isreg() else None)
        info = tarfile.TarInfo(f"{ROOT}/zeros")
        info.size = 1024**3
        tar.addfile(info, _Zeros(info.size))
    assert archive.stat().st_size < 16 * 1024**2
    assert_refused(
        archive,
        place,
        f"member '{ROOT}/zeros' unpacks to more than 100 times the compressed bytes read so "
        "far (a compression bomb?); nothing was unpacked (if it is a real submission, raise "
        "--max_ratio)",
    )


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read in pieces (never held in memory at once)."""

    def __init__(self, size: int):
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def test_too_many_members_stop_at_the_limit_and_the_flag_raises_it(base, place):
    """The default admits a real submission (see the weight test below); past it, the first
    member too many is named. 10,001 empty files beside the bundle stand for the 200,000."""
    extra = [member(f"{ROOT}-spam/{i}") for i in range(DEFAULT_MAX_MEMBERS + 1)]
    archive = hostile(base, place / "many.tar.gz", *extra)
    with tarfile.open(base) as source:
        first_past = f"{ROOT}-spam/{DEFAULT_MAX_MEMBERS - len(source.getmembers())}"
    assert_refused(
        archive,
        place,
        f"member '{first_past}' is past the limit of {DEFAULT_MAX_MEMBERS:,} members; nothing "
        "was unpacked (if it is a real submission, raise --max_members)",
    )
    # the base bundle itself, under a lower limit, and under a raised one
    assert_refused(
        base,
        place,
        f"member '{ROOT}/runs' is past the limit of 2 members; nothing was unpacked (if it is "
        "a real submission, raise --max_members)",
        "--max_members",
        "2",
    )


def test_bytes_past_a_lowered_limit_are_refused_before_they_are_read(base, place):
    archive = hostile(base, place / "big.tar.gz", member(f"{ROOT}/big", data=os.urandom(2**21)))
    assert_refused(
        archive,
        place,
        f"member '{ROOT}/big' (2,097,152 bytes) takes the archive past the limit of 1,048,576 "
        "unpacked bytes; nothing was unpacked (if it is a real submission, raise --max_bytes)",
        "--max_bytes",
        "1MiB",
    )


def test_a_zip_or_a_file_that_is_no_tar_is_one_line(place):
    (place / "bundle.zip").write_bytes(b"PK\x03\x04")
    (place / "bundle.tar.gz").write_bytes(b"not gzip at all")
    for name, line in (
        ("bundle.zip", "a zip archive is not read; give the .tar.gz that `s1-eval submit` writes"),
        ("bundle.tar.gz", "not a readable tar archive (truncated header)"),
    ):
        assert_refused(place / name, place, line)


def _hear_ctrl_c() -> None:
    """A test run in the background inherits Ctrl-C ignored; a terminal's command hears it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: the demo task with a grader that says when re-grading began, then takes its time: Ctrl-C then
#: lands inside re-grading on any machine, however loaded (not in imports, not after the end)
SLOW_GRADER = """
import time
from pathlib import Path

def process_results(doc, results):
    (Path(__file__).parent / "grading-began").touch()
    time.sleep(300)
"""


def slow_demo_task(folder: Path) -> Path:
    folder.mkdir()
    demo_yaml = Path(__file__).parents[1] / "tasks" / "demo" / "s1_demo_counting.yaml"
    (folder / "slow.py").write_text(SLOW_GRADER)
    (folder / "s1_demo_counting.yaml").write_text(
        f"include: {demo_yaml}\ntask: s1_demo_counting\n"
        "process_results: !function slow.process_results\n"
    )
    return folder


def test_ctrl_c_while_verifying_leaves_no_temporary_folder(base, place):
    """Interrupted once the archive is unpacked (while it is re-graded): one line, exit 130,
    and the temporary folder is gone."""
    tasks = slow_demo_task(place / "slow_tasks")
    env = {**os.environ, "TMPDIR": str(place / "tmpdir")}
    command = [
        sys.executable,
        "-m",
        "s1_eval.cli",
        "verify",
        str(base),
        "--include_path",
        str(tasks),
    ]
    running = subprocess.Popen(
        command, cwd=place / "cwd", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_hear_ctrl_c,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tasks / "grading-began").exists():
        assert running.poll() is None and time.monotonic() < deadline, running.communicate()
        time.sleep(0.05)
    assert list((place / "tmpdir").rglob("samples_*.jsonl")), "re-grading before unpacking"
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=120)
    # lm-eval's own line about the override aside
    lines = [line for line in err.splitlines() if "overrides existing task" not in line]
    assert (running.returncode, out, lines) == (
        130,
        "",
        ["verify: interrupted; nothing unpacked was kept"],
    )
    assert snapshot(place / "tmpdir") == {}


# 30 problems × 64 samples × 8 budgets: s1's kind of sweep; budgets doubling up to 32k tokens
PROBLEMS, SAMPLES, BUDGETS = 30, 64, tuple(256 * 2**i for i in range(8))
ANSWER_TOKENS = 1000  # after the thinking, generous: AIME answers take a few hundred


def test_the_default_limits_admit_a_real_submission_several_times_over(base):
    """The weight of a 30 × 64 × 8 run, scaled from the real bundle's bytes per row and per
    generated token, every sample filling its thinking cap; as many members as with the 64
    samples run as 64 seeded cells per budget."""
    with tarfile.open(base) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
    [samples] = [data for name, data in files.items() if "/samples_" in name]
    rows = [json.loads(line) for line in samples.splitlines()]
    tokens = sum(r["thinking_tokens"] + r["answer_tokens"] for r in rows)
    response_bytes = sum(len(json.dumps(r["resps"])) + len(json.dumps(r["filtered_resps"]))
                         for r in rows)  # fmt: skip
    per_token = response_bytes / tokens  # the response is stored twice per row
    per_row = (len(samples) - response_bytes) / len(rows)
    per_cell = sum(len(data) for data in files.values()) - len(samples)  # results, configs
    cells = len(BUDGETS) * SAMPLES
    run_tokens = PROBLEMS * SAMPLES * (sum(BUDGETS) + len(BUDGETS) * ANSWER_TOKENS)
    weight = run_tokens * per_token + PROBLEMS * SAMPLES * len(BUDGETS) * per_row
    weight += cells * per_cell
    assert 7 < per_token < 10 and 1.2e9 < weight < 1.4e9, (per_token, weight)
    assert 3 * weight < DEFAULT_MAX_BYTES
    members = cells * 5 + 10  # per cell: 3 files and 2 folders; the bundle's own
    assert 3 * members < DEFAULT_MAX_MEMBERS
