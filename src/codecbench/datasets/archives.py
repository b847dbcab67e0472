"""Safe extraction of zip and tar archives.

Every member must land inside the target directory: absolute paths, ``..`` components,
symbolic and hard links, and device or FIFO members are refused with
:class:`UnsafeArchiveError` naming the member, before anything is written.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target directory or is not a plain file/folder."""


def _check_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} escapes the target directory")


def extract(archive: Path, target: Path) -> list[Path]:
    """Extract ``archive`` (zip or tar, optionally compressed) into ``target``; return files."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for member in members:
                _check_name(archive, member.filename)
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise UnsafeArchiveError(f"{archive.name}: member {member.filename!r} is a link")
            for member in members:
                _check_inside(root, archive, member.filename)
            bundle.extractall(target)
            names = [m.filename for m in members if not m.is_dir()]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            members = bundle.getmembers()
            for member in members:
                _check_name(archive, member.name)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is a link")
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is not a "
                                             "regular file or directory")
                _check_inside(root, archive, member.name)
            bundle.extractall(target, filter="data")
            names = [m.name for m in members if m.isfile()]
    else:
        raise UnsafeArchiveError(f"{archive.name} is neither a zip nor a tar archive")
    return [target / name for name in names]


def _check_inside(root: Path, archive: Path, name: str) -> None:
    resolved = (root / name).resolve()
    if resolved != root and root not in resolved.parents:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} escapes the target directory")
