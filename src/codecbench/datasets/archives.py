"""Safe, bounded extraction of zip and tar archives.

* Every member must land inside the target directory: absolute paths, ``..`` components,
  symbolic and hard links, and device or FIFO members are refused with
  :class:`UnsafeArchiveError` naming the member.
* What an archive expands to is capped: :data:`MAX_EXTRACT_BYTES` in all
  (``$CODECBENCH_MAX_EXTRACT_BYTES``) and :data:`MAX_COMPRESSION_RATIO` times the
  compressed size (``$CODECBENCH_MAX_COMPRESSION_RATIO``), for each zip member and for the
  archive as a whole (a compressed tar is one compressed stream: its ratio is checked
  continuously while it is read, and the cap counts the decompressed tar stream). Ratios are
  only judged beyond :data:`RATIO_MIN_BYTES`. Exceeding a cap raises
  :class:`ArchiveLimitError`.
* A damaged archive (bad CRC, truncated stream) raises :class:`UnsafeArchiveError`.
* Members are extracted into a hidden staging folder next to the target and moved into
  the target only once the whole archive was accepted; a refused archive leaves nothing in
  the target (and no staging folder).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from codecbench.datasets.download import positive_setting

CHUNK = 1 << 20

#: Most bytes one archive may extract to.
MAX_EXTRACT_BYTES = 64 << 30
#: Largest accepted ratio of extracted to compressed size.
MAX_COMPRESSION_RATIO = 200.0
#: Ratios of members (and archives) smaller than this are not judged (bytes).
RATIO_MIN_BYTES = 1 << 20

MAX_EXTRACT_BYTES_ENV = "CODECBENCH_MAX_EXTRACT_BYTES"
MAX_COMPRESSION_RATIO_ENV = "CODECBENCH_MAX_COMPRESSION_RATIO"


class UnsafeArchiveError(ValueError):
    """An archive was refused: a member would escape the target directory or is not a
    plain file/folder, the archive is damaged, or it exceeds a cap."""


class ArchiveLimitError(UnsafeArchiveError):
    """An archive expands to more than the size cap or by more than the ratio cap."""


def max_extract_bytes() -> int:
    """The cap on what one archive extracts to: ``$CODECBENCH_MAX_EXTRACT_BYTES``."""
    return positive_setting(MAX_EXTRACT_BYTES_ENV, MAX_EXTRACT_BYTES, integer=True)


def max_compression_ratio() -> float:
    """The cap on extracted / compressed size: ``$CODECBENCH_MAX_COMPRESSION_RATIO``."""
    return positive_setting(MAX_COMPRESSION_RATIO_ENV, MAX_COMPRESSION_RATIO)


class _Limits:
    def __init__(self, archive: Path):
        self.archive = archive
        self.cap = max_extract_bytes()
        self.ratio = max_compression_ratio()

    def check_total(self, amount: int) -> None:
        if amount > self.cap:
            raise ArchiveLimitError(
                f"{self.archive.name} extracts to more than {self.cap} bytes (set "
                f"{MAX_EXTRACT_BYTES_ENV} to change the cap); the archive was refused")

    def check_ratio(self, what: str, expanded: int, compressed: int) -> None:
        if expanded > RATIO_MIN_BYTES and expanded > self.ratio * max(compressed, 1):
            raise ArchiveLimitError(
                f"{self.archive.name}: {what} expands {expanded} bytes from {compressed}, more "
                f"than {self.ratio:g} times (set {MAX_COMPRESSION_RATIO_ENV} to change the "
                "cap); the archive was refused")


def _check_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} escapes the target directory")


def _check_inside(root: Path, archive: Path, name: str) -> None:
    resolved = (root / name).resolve()
    if resolved != root and root not in resolved.parents:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} escapes the target directory")


def extract(archive: Path, target: Path) -> list[Path]:
    """Extract ``archive`` (zip or tar, optionally compressed) into ``target``; return files.

    Raises :class:`UnsafeArchiveError` (or its :class:`ArchiveLimitError`) with nothing
    added to ``target`` when the archive is refused.
    """
    archive, target = Path(archive), Path(target)
    if zipfile.is_zipfile(archive):
        extract_members = _extract_zip
    elif tarfile.is_tarfile(archive):
        extract_members = _extract_tar
    else:
        raise UnsafeArchiveError(f"{archive.name} is neither a zip nor a tar archive")
    target.parent.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting",
                                    dir=target.parent))
    try:
        try:
            names = extract_members(archive, root, staging, _Limits(archive))
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError,
                gzip.BadGzipFile) as exc:
            raise UnsafeArchiveError(f"{archive.name} is damaged ({exc}); the archive was "
                                     "refused") from exc
        _merge(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / name for name in names]


def _merge(staging: Path, target: Path) -> None:
    """Move everything under ``staging`` into ``target`` (merging existing folders)."""
    target.mkdir(parents=True, exist_ok=True)
    for folder, subfolders, files in os.walk(staging):
        relative = Path(folder).relative_to(staging)
        for name in subfolders:
            (target / relative / name).mkdir(exist_ok=True)
        for name in files:
            os.replace(Path(folder) / name, target / relative / name)


def _extract_zip(archive: Path, root: Path, staging: Path, limits: _Limits) -> list[str]:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        declared = 0
        for member in members:
            _check_name(archive, member.filename)
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnsafeArchiveError(f"{archive.name}: member {member.filename!r} is a link")
            _check_inside(root, archive, member.filename)
            limits.check_ratio(f"member {member.filename!r}", member.file_size,
                               member.compress_size)
            declared += member.file_size
        limits.check_total(declared)
        limits.check_ratio("the archive", declared, archive.stat().st_size)
        written = 0
        for member in members:
            destination = staging.joinpath(*_parts(member.filename))
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, open(destination, "wb") as out:
                while block := source.read(CHUNK):
                    written += len(block)
                    limits.check_total(written)
                    out.write(block)
        return [m.filename for m in members if not m.is_dir()]


def _parts(name: str) -> list[str]:
    """The path components of an archive name as ``zipfile`` would write it here."""
    name = name.replace("/", os.sep)
    if os.altsep:
        name = name.replace(os.altsep, os.sep)
    name = os.path.splitdrive(name)[1]
    return [part for part in name.split(os.sep) if part not in ("", os.curdir, os.pardir)]


class _CountedStream:
    """The decompressed stream of a tar archive, checked against the caps as it is read."""

    def __init__(self, archive: Path, limits: _Limits):
        self.limits = limits
        self.raw = open(archive, "rb")
        magic = self.raw.read(6)
        self.raw.seek(0)
        self.stream: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | None
        if magic[:2] == b"\x1f\x8b":
            self.stream = gzip.GzipFile(fileobj=self.raw, mode="rb")
        elif magic[:3] == b"BZh":
            self.stream = bz2.BZ2File(self.raw)
        elif magic == b"\xfd7zXZ\x00":
            self.stream = lzma.LZMAFile(self.raw)
        else:
            self.stream = None
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = (self.stream or self.raw).read(size)
        self.count += len(data)
        self.limits.check_total(self.count)
        if self.stream is not None:
            self.limits.check_ratio("the archive", self.count, self.raw.tell())
        return data

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self.raw.close()


def _extract_tar(archive: Path, root: Path, staging: Path, limits: _Limits) -> list[str]:
    stream = _CountedStream(archive, limits)
    names = []
    declared = 0
    try:
        # stream mode only reads: typeshed's _Fileobj also demands write/seek/tell
        with tarfile.open(fileobj=stream, mode="r|") as bundle:  # type: ignore[call-overload]
            for member in bundle:
                _check_name(archive, member.name)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is a link")
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is not a "
                                             "regular file or directory")
                _check_inside(root, archive, member.name)
                declared += member.size
                limits.check_total(declared)
                # folders keep default permissions so that later members can be written
                bundle.extract(member, staging, set_attrs=not member.isdir(), filter="data")
                if member.isfile():
                    names.append(member.name)
    finally:
        stream.close()
    return names
