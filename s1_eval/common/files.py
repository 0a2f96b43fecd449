"""Files, in one place: atomic writes, JSON / JSONL reading with located errors, the cache folder.

    write_atomic(Path("runs/x/leaderboard.md"), text); rows = read_jsonl(Path("data.jsonl"))

Every file the package writes goes through ``write_atomic`` / ``write_all_atomic`` (a reader
sees the old file or the whole new one), every folder it builds through ``replacing_dir`` (a
cached one through ``build_once``), and an append-only log through ``append_jsonl``. Every
JSON / JSONL file it reads goes through ``read_json`` / ``read_jsonl``, whose ``UnreadableFile``
names the file, the line and what is wrong, so a bad row is one line of error, not a decoder
traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from s1_eval.common.errors import UnreadableFile

#: names of files and folders being written; readers skip them, run_folder.clean_stale removes
TMP_PREFIX = ".tmp-"

# --------------------------------------------------------------------------- atomic writes


def _staged(path: Path, content: str | bytes) -> Path:
    """``content`` written in full and flushed to disk in a temporary file beside ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_all_atomic(contents: Mapping[Path, str | bytes]) -> list[Path]:
    """Write several files together: every one is staged in full before the first replaces its
    old version, so a failure while writing leaves all old files as they were."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in contents.items():
            staged.append((_staged(Path(path), content), Path(path)))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    return list(contents)


def write_atomic(path: Path, content: str | bytes) -> None:
    """Replace ``path`` in one rename: readers see the old file or the whole new one."""
    write_all_atomic({Path(path): content})


def write_json_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that needs a file name (a library's
    ``save``); when the block succeeds it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def replacing_dir(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside ``target`` to build in; when the block succeeds it is renamed
    to ``target``, so a killed build (a model conversion, a training) never leaves a folder
    that looks finished. The staging folder is removed whatever happens."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}.", dir=target.parent))
    try:
        yield staging
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_once(target: Path, build: Callable[[Path], None], done_file: str) -> bool:
    """Build the cached folder ``target`` unless ``target / done_file`` exists: ``build`` fills a
    staging folder that becomes ``target`` only when it returns (``replacing_dir``). A lock beside
    ``target`` makes two processes asking at once (parallel test workers, two demos) build it
    once: the second waits, then finds it. True when this call built it."""
    from filelock import FileLock

    target = Path(target)
    if (target / done_file).is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f".{target.name}.lock", thread_local=False):
        if (target / done_file).is_file():
            return False
        with replacing_dir(target) as staging:
            build(staging)
    return True


def append_jsonl(path: Path, row: Any) -> None:
    """Append one JSON line and flush it to disk, so a killed run loses at most that line.

    A line torn by an earlier kill is ended first: the new row must not be glued onto it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        line = json.dumps(row).encode("utf-8") + b"\n"
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = b"\n" + line
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


# --------------------------------------------------------------------------- reading


def _decode(path: Path, data: bytes, first_line: int = 1, offset: int = 0) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        at = offset + error.start
        raise UnreadableFile(
            path,
            line,
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {at})",
            "encoding",
        ) from None


def _parse(path: Path, text: str, first_line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        line = first_line + error.lineno - 1
        raise UnreadableFile(
            path, line, f"invalid JSON ({error.msg})", "syntax", error.colno
        ) from None


def json_kind(value: Any) -> str:
    """How a message names a JSON value's type: object, list, string, int, ..."""
    return {dict: "object", list: "list", str: "string"}.get(type(value), type(value).__name__)


def read_text(path: Path) -> str:
    """A UTF-8 file's text; a bad byte raises UnreadableFile naming its line."""
    return _decode(Path(path), Path(path).read_bytes())


def read_json(path: Path) -> Any:
    """A JSON file's value; bad text or JSON raises UnreadableFile naming line and column."""
    return _parse(Path(path), read_text(path), 1)


def read_jsonl(path: Path, *, skip_bad: bool = False) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSONL file.

    A line that is not UTF-8, not JSON or not a JSON object raises UnreadableFile naming the
    file and line; with ``skip_bad`` such lines are left out instead (an append-only log whose
    writer may have been killed mid-line). Lines end at "\\n" only: JSON text may hold a raw
    U+2028, which ``str.splitlines`` would wrongly break on.
    """
    path = Path(path)
    rows: list[tuple[int, dict]] = []
    offset = 0
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        try:
            value = _parse(path, _decode(path, raw, number, start), number)
            if not isinstance(value, dict):
                raise UnreadableFile(
                    path,
                    number,
                    f'expected a JSON object ({{"key": value, ...}}), got a JSON {json_kind(value)}',
                    "shape",
                )
        except UnreadableFile:
            if skip_bad:
                continue
            raise
        rows.append((number, value))
    return rows


# --------------------------------------------------------------------------- the cache folder

#: the demo's cache, relative to the folder it runs in: its model folders are named in the
#: committed results (results/demo, ``pretrained=.cache/s1-eval/mini-s1-<hash>``), and a fresh
#: clone's ``make demo`` builds them there, beside the checkout, not in the user's home
PROJECT_CACHE = Path(".cache") / "s1-eval"
CACHE_ENV = "S1_EVAL_CACHE"


def cache_dir(project: bool = False) -> Path:
    """Where converted and trained models are kept.

    ``project=True`` (the demo): ``PROJECT_CACHE``. Otherwise ``$S1_EVAL_CACHE``, else
    ``$XDG_CACHE_HOME/s1-eval``, else ``~/.cache/s1-eval``: one copy per user, shared by
    every checkout and the tests.
    """
    if project:
        return PROJECT_CACHE
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    # an empty XDG_CACHE_HOME means unset (XDG spec), not the current folder
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "s1-eval"
