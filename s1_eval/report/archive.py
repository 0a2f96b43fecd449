"""Untrusted archives: every member checked and hashed as a stream before anything is written.

    scanned = scan_archive(Path("submission.tar.gz"), ArchiveLimits())   # or RefusedArchive
    unpack(scanned, scratch, under="bundle")                             # after the scan passed

A leaderboard maintainer verifies archives that strangers send. ``scan_archive`` reads a .tar
(gzip-, bzip2- or xz-compressed or not) once and writes nothing: each member must be a plain
file or folder whose path stays inside the archive (not absolute, no ``..``), with no link of
any kind, no device or FIFO, no path twice (nor a file that another member treats as a folder);
the members must stay under a count and an unpacked size (read from each header, before its
data), and the archive must not unpack to more than a bound times the compressed bytes read
so far (judged while reading, so a bomb stops after a few MiB). The first member that breaks a
rule ends the scan with ``RefusedArchive``, one line naming the member and the rule. The scan
hashes every file (SHA-256) as it streams by; ``unpack`` writes the members into a scratch
folder only afterwards, each checked against its scanned size and hash.

The default limits admit a real submission several times over: a 30-problem × 64-sample ×
8-budget run (thinking budgets 256 to 32,768 tokens, every sample filling its cap, the
response stored twice per row as lm-eval does) weighs about 1.3 GB, scaled from the bytes per
row and per generated token of the committed demo bundle (tests/test_archive.py computes it),
in at most about 2,600 members (64 seeds as separate cells: 512 cells of 3 files and their
folders). ``--max_members``, ``--max_bytes`` and ``--max_ratio`` raise them.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: members an archive may hold (files and folders)
DEFAULT_MAX_MEMBERS = 10_000
#: bytes its files may unpack to, together
DEFAULT_MAX_BYTES = 4 * 1024**3
#: unpacked bytes per compressed byte read (real bundles compress about 10:1)
DEFAULT_MAX_RATIO = 100.0
#: unpacked bytes below which the ratio is not judged (headers and tiny files compress far
#: better than real samples do)
RATIO_FLOOR = 8 * 1024**2
CHUNK = 1 << 20
#: tar compression suffixes this module reads
SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def is_archive(path: Path) -> bool:
    return Path(path).name.endswith(SUFFIXES)


@dataclass(frozen=True)
class ArchiveLimits:
    members: int = DEFAULT_MAX_MEMBERS
    bytes: int = DEFAULT_MAX_BYTES
    ratio: float = DEFAULT_MAX_RATIO


DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class Member:
    """A scanned member: its path parts (``.`` and empty parts dropped), and for a file its
    size and SHA-256."""

    parts: tuple[str, ...]
    is_dir: bool
    size: int = 0
    sha256: str = ""

    @property
    def path(self) -> str:
        return "/".join(self.parts)


@dataclass(frozen=True)
class ScannedArchive:
    path: Path
    members: tuple[Member, ...]

    def top_level(self) -> tuple[list[str], list[str]]:
        """(folders, files) at the archive's top level, sorted."""
        folders = {m.parts[0] for m in self.members if m.is_dir or len(m.parts) > 1}
        files = {m.parts[0] for m in self.members if not m.is_dir and len(m.parts) == 1}
        return sorted(folders), sorted(files)

    def files_under(self, folder: str) -> dict[str, Member]:
        """The files inside top-level ``folder``, by their path relative to it."""
        return {
            "/".join(m.parts[1:]): m
            for m in self.members
            if not m.is_dir and len(m.parts) > 1 and m.parts[0] == folder
        }


class RefusedArchive(ValueError):
    """A member broke a rule: ``<archive>: member '<name>' <rule>; nothing was unpacked``."""

    def __init__(self, archive: Path, member: str, rule: str, fix: str = "", done: str = ""):
        self.archive, self.member, self.rule = Path(archive), member, rule
        fix = fix or "ask for the archive `s1-eval submit` writes"
        done = done or "nothing was unpacked"
        super().__init__(f"{archive}: member {member!r} {rule}; {done} ({fix})")


class _CountingReader:
    """The raw archive file, counting the (compressed) bytes read from it."""

    def __init__(self, handle):
        self.handle, self.count = handle, 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.count += len(data)
        return data


def _parts(name: str) -> tuple[tuple[str, ...], str]:
    """A member name's path parts, or the rule it breaks."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return (), "is an absolute path"
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        return (), "leaves the archive's folder ('..' in its path)"
    if not parts:
        return (), "has an empty path"
    return parts, ""


def _type_rule(info: tarfile.TarInfo) -> str:
    """Why a member's type is refused ('' for a plain file or folder)."""
    if info.issym():
        return f"is a symbolic link (to {info.linkname!r}): a bundle holds only files and folders"
    if info.islnk():
        return f"is a hard link (to {info.linkname!r}): a bundle holds only files and folders"
    if info.ischr() or info.isblk():
        return "is a device file: a bundle holds only files and folders"
    if info.isfifo():
        return "is a FIFO: a bundle holds only files and folders"
    if info.issparse():
        return "is a sparse file: a bundle holds only plain files and folders"
    if not (info.isreg() or info.isdir()):
        return f"has tar type {info.type!r}: a bundle holds only files and folders"
    return ""


class _Scan:
    """The rules that look at one member at a time, and the running totals."""

    def __init__(self, path: Path, limits: ArchiveLimits, raw: _CountingReader):
        self.path, self.limits, self.raw = path, limits, raw
        self.members: list[Member] = []
        self.kinds: dict[tuple[str, ...], bool] = {}  # path parts -> is a folder
        self.unpacked = 0

    def refuse(self, name: str, rule: str, fix: str = "") -> RefusedArchive:
        return RefusedArchive(self.path, name, rule, fix)

    def check(self, info: tarfile.TarInfo) -> tuple[str, ...]:
        parts, rule = _parts(info.name)
        rule = rule or _type_rule(info)
        if rule:
            raise self.refuse(info.name, rule)
        if len(self.members) >= self.limits.members:
            raise self.refuse(
                info.name,
                f"is past the limit of {self.limits.members:,} members",
                "if it is a real submission, raise --max_members",
            )
        if self.unpacked + info.size > self.limits.bytes:
            raise self.refuse(
                info.name,
                f"({info.size:,} bytes) takes the archive past the limit of "
                f"{self.limits.bytes:,} unpacked bytes",
                "if it is a real submission, raise --max_bytes",
            )
        self._place(info.name, parts, info.isdir())
        return parts

    def _place(self, name: str, parts: tuple[str, ...], is_dir: bool) -> None:
        """Refuse a path given twice, or a member inside one that is a file."""
        for depth in range(1, len(parts)):
            if self.kinds.setdefault(parts[:depth], True) is False:
                raise self.refuse(name, f"lies inside {'/'.join(parts[:depth])!r}, a file")
        if parts in self.kinds and not (is_dir and self.kinds[parts]):
            raise self.refuse(name, "names a path another member already names")
        self.kinds[parts] = is_dir

    def hash(self, info: tarfile.TarInfo, data) -> str:
        digest = hashlib.sha256()
        for block in iter(lambda: data.read(CHUNK), b""):
            digest.update(block)
            self.unpacked += len(block)
            if self.unpacked > RATIO_FLOOR and self.unpacked > self.limits.ratio * max(
                1, self.raw.count
            ):
                raise self.refuse(
                    info.name,
                    f"unpacks to more than {self.limits.ratio:g} times the compressed bytes "
                    "read so far (a compression bomb?)",
                    "if it is a real submission, raise --max_ratio",
                )
        return digest.hexdigest()


def _tar_stream(path: Path, raw: _CountingReader) -> Iterator[tuple[tarfile.TarInfo, object]]:
    """(header, data reader or None) per member, read as one forward stream."""
    try:
        with tarfile.open(fileobj=raw, mode="r|*") as tar:
            for info in tar:
                yield info, tar.extractfile(info) if info.isreg() else None
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: not a readable tar archive ({error})") from None


def scan_archive(path: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> ScannedArchive:
    """Every member checked and every file hashed, writing nothing; raises RefusedArchive."""
    path = Path(path)
    with open(path, "rb") as handle:
        raw = _CountingReader(handle)
        scan = _Scan(path, limits, raw)
        for info, data in _tar_stream(path, raw):
            parts = scan.check(info)
            if info.isdir():
                scan.members.append(Member(parts, True))
                continue
            digest = scan.hash(info, data)
            scan.members.append(Member(parts, False, info.size, digest))
    return ScannedArchive(path, tuple(scan.members))


def unpack(scanned: ScannedArchive, scratch: Path, under: str) -> dict[str, str]:
    """Write the files of top-level folder ``under`` into ``scratch/under``; each must match
    its scan (an archive rewritten since is refused). Returns their hashes by relative path."""
    wanted = scanned.files_under(under)
    needed = sum(m.size for m in wanted.values())
    scratch.mkdir(parents=True, exist_ok=True)
    free = _free_bytes(scratch)
    if needed > free:
        raise ValueError(
            f"{scanned.path}: unpacking needs {needed:,} bytes, the temporary folder "
            f"{scratch.parent} has {free:,} free; nothing was unpacked (set TMPDIR to a larger disk)"
        )
    with open(scanned.path, "rb") as handle:
        raw = _CountingReader(handle)
        for index, (info, data) in enumerate(_tar_stream(scanned.path, raw)):
            parts, _ = _parts(info.name)
            seen = scanned.members[index] if index < len(scanned.members) else None
            if seen is None or (seen.parts, seen.is_dir, seen.size) != (
                parts,
                info.isdir(),
                0 if info.isdir() else info.size,
            ):
                raise _changed(scanned.path, info.name)
            if seen.is_dir or parts[0] != under or len(parts) < 2:
                continue
            _write(scratch, seen, data, scanned.path)
    return {rel: member.sha256 for rel, member in wanted.items()}


def _free_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def _write(scratch: Path, member: Member, data, archive: Path) -> None:
    target = scratch.joinpath(*member.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(target, flags, 0o644), "wb") as out:
        for block in iter(lambda: data.read(CHUNK), b""):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != member.sha256:
        raise _changed(archive, member.path)


def _changed(archive: Path, name: str) -> RefusedArchive:
    return RefusedArchive(
        archive,
        name,
        "changed since it was scanned",
        fix="leave the archive alone while it is verified",
        done="what was unpacked is removed",
    )
