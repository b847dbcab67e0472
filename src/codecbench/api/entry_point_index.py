"""The installed entry points of group ``codecbench``, found once and remembered.

``importlib.metadata.entry_points()`` reads the metadata of every installed distribution
(about 170 in an environment with both frameworks) and importing it pulls in ``email``,
``zipfile`` and ``csv``: ≈ 30 ms of every command's start-up, a seventh of
``codecbench list``. This module keeps what that scan found — for each entry point its
name, value, distribution and version — in a small JSON index, and answers from the index
while the places distributions live are unchanged.

The index is trusted only while its **fingerprint** holds:

* the interpreter (``sys.executable``, ``sys.version``) and the ``sys.path`` it was built
  for (one index file per interpreter and path, :func:`index_path`; the entries are
  compared in order);
* for every ``sys.path`` entry, its modification time and size (installing or removing a
  distribution adds or removes its ``*.dist-info`` directory there, which changes the
  directory's modification time; a ``.pth`` file adding a directory changes ``sys.path``);
  except the first entry, the script's folder or the working directory of ``python -m``,
  which changes whenever a file is made there: for it, the names and modification times of
  the distribution metadata folders (``*.dist-info``, ``*.egg-info``) it holds;
* for every distribution that provides an entry point of the group, the modification time
  and size of its ``entry_points.txt`` (an editable reinstall rewrites it in place).

A fingerprint taken within :data:`RACY_S` seconds of a change is not stored (a second
change in the same clock tick would leave the times equal), nor is one taken while an entry
point's distribution has no readable ``entry_points.txt``. Anything unreadable, malformed
or from another index version is ignored and rebuilt; an index that cannot be written
(a read-only cache) costs only the saving. ``CODECBENCH_ENTRY_POINT_INDEX=0`` turns the
index off (every process scans, as ``importlib.metadata`` alone would).

The same fingerprint guards a second, smaller index: the installed **versions** of the
distributions ``run.json`` records (:func:`distribution_versions`; ≈ 30 ms of
``importlib.metadata`` per run otherwise). A distribution's version is in the name of its
metadata folder (``numpy-1.26.4.dist-info``), so an upgrade or downgrade changes the
folder's parent directory, a fingerprinted ``sys.path`` entry.

The directory is ``CODECBENCH_CACHE_DIR`` when set, else the user cache directory
(:func:`codecbench.api.user_cache.user_cache_dir`: ``~/.cache/codecbench`` on Linux).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codecbench.api.atomic import atomic_write
from codecbench.api.user_cache import user_cache_dir

INDEX_VERSION = 1
RACY_S = 2.0
"""Changes younger than this (seconds) make a fingerprint untrustworthy: not stored."""


@dataclass(frozen=True)
class IndexedEntryPoint:
    """One entry point as the index remembers it; :meth:`load` imports its module."""

    name: str
    value: str
    distribution: str
    version: str
    metadata_file: str
    """The distribution's ``entry_points.txt`` ("" when unknown)."""

    def load(self):
        """The module or attribute the entry point names (``module[:attr] [extras]``), as
        ``importlib.metadata.EntryPoint.load`` resolves it."""
        import importlib

        module_name, _, attribute = self.value.split("[", 1)[0].partition(":")
        target = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            target = getattr(target, part)
        return target


def enabled() -> bool:
    return os.environ.get("CODECBENCH_ENTRY_POINT_INDEX", "1").strip().lower() not in (
        "0", "false", "no", "off")


def cache_dir() -> Path:
    override = os.environ.get("CODECBENCH_CACHE_DIR")
    return Path(override).expanduser() if override else user_cache_dir()


def index_path(group: str) -> Path:
    """The index file of this interpreter, ``sys.path`` and entry-point group.

    The first ``sys.path`` entry, the script's folder or the working directory, is left out
    of the name (it is in the fingerprint): ``python -m codecbench`` run from many folders
    shares one file rather than leaving one per folder."""
    return _index_file("entry-points", group)


def _index_file(kind: str, subject: object) -> Path:
    paths = sys.path if sys.flags.safe_path else sys.path[1:]
    key = json.dumps([INDEX_VERSION, subject, sys.executable, sys.version, paths])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"{kind}-{digest}.json"


def _stamp(path: str) -> list[int] | None:
    try:
        stat = os.stat(path or ".")
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size]


METADATA_SUFFIXES = (".dist-info", ".egg-info")


def _metadata_folders(path: str) -> list[list] | None:
    """``[name, modification time]`` of each distribution metadata folder in ``path``."""
    try:
        with os.scandir(path or ".") as listing:
            return sorted([item.name, item.stat().st_mtime_ns] for item in listing
                          if item.name.endswith(METADATA_SUFFIXES))
    except OSError:
        return None


def fingerprint(entries: list[IndexedEntryPoint]) -> dict:
    files = sorted({e.metadata_file for e in entries if e.metadata_file})
    first = 0 if sys.flags.safe_path else 1  # sys.path[0]: the script's folder or the cwd
    return {"start": [[entry, _metadata_folders(entry)] for entry in sys.path[:first]],
            "path": [[entry, _stamp(entry)] for entry in sys.path[first:]],
            "files": {path: _stamp(path) for path in files}}


def _stamps_are_settled(print_: dict, now_ns: int) -> bool:
    if any(stamp is None for stamp in print_["files"].values()):
        return False
    times = [stamp[0] for _, stamp in print_["path"] if stamp is not None]
    times += [stamp[0] for stamp in print_["files"].values()]
    times += [mtime for _, folders in print_["start"] for _, mtime in folders or []]
    return all(now_ns - t > RACY_S * 1e9 for t in times)


def scan(group: str) -> list[IndexedEntryPoint]:
    """The group's entry points, read from every distribution's metadata."""
    import importlib.metadata

    found = []
    distributions: dict[str, tuple[str, str, str]] = {}
    for entry_point in importlib.metadata.entry_points(group=group):
        dist = entry_point.dist
        key = str(getattr(dist, "_path", id(dist)))
        if key not in distributions:
            if dist is None:
                distributions[key] = ("", "", "")
            else:
                metadata = dist.metadata
                located = getattr(dist, "_path", None)
                metadata_file = (str(Path(located) / "entry_points.txt")
                                 if located is not None else "")
                distributions[key] = (metadata["Name"] or "", metadata["Version"] or "",
                                      metadata_file)
        name, version, metadata_file = distributions[key]
        found.append(IndexedEntryPoint(entry_point.name, entry_point.value, name, version,
                                       metadata_file))
    return found


def _read(path: Path) -> list[IndexedEntryPoint] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("version") != INDEX_VERSION:
            return None
        entries = [IndexedEntryPoint(*(str(e[k]) for k in (
            "name", "value", "distribution", "version", "metadata_file")))
            for e in record["entry_points"]]
        if record["fingerprint"] != fingerprint(entries):
            return None
        return entries
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _write(path: Path, entries: list[IndexedEntryPoint]) -> None:
    _save(path, fingerprint(entries), {"entry_points": [e.__dict__ for e in entries]})


def _save(path: Path, print_: dict, payload: dict) -> None:
    """Store ``payload`` under ``print_``, unless a change is too recent to trust."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # first: it may be on sys.path
        if not _stamps_are_settled(print_, time.time_ns()):
            return
        atomic_write(path, json.dumps({"version": INDEX_VERSION, "fingerprint": print_,
                                       **payload}))
    except OSError:
        pass


def entry_points(group: str) -> list[IndexedEntryPoint]:
    """The installed entry points of ``group``: from the index while its fingerprint holds,
    else scanned (and the index rewritten)."""
    if not enabled():
        return scan(group)
    try:
        path = index_path(group)
    except (RuntimeError, KeyError, OSError):  # no home directory to find a cache in
        return scan(group)
    entries = _read(path)
    if entries is None:
        entries = scan(group)
        _write(path, entries)
    return entries


def scan_versions(names: Sequence[str]) -> dict[str, str | None]:
    """The installed version of each distribution of ``names`` (``None``: not installed),
    read from its metadata."""
    import importlib.metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def distribution_versions(names: Sequence[str]) -> dict[str, str | None]:
    """:func:`scan_versions` of ``names``, from the versions index while its fingerprint
    (``sys.path``, as for the entry points) holds, else scanned and the index rewritten."""
    names = list(names)
    if not enabled():
        return scan_versions(names)
    try:
        path = _index_file("versions", names)
    except (RuntimeError, KeyError, OSError):  # no home directory to find a cache in
        return scan_versions(names)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if (record.get("version") == INDEX_VERSION and record["names"] == names
                and record["fingerprint"] == fingerprint([])):
            return {name: None if version is None else str(version)
                    for name, version in zip(names, record["versions"], strict=True)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    versions = scan_versions(names)
    _save(path, fingerprint([]), {"names": names, "versions": [versions[n] for n in names]})
    return versions
