"""Provenance of a run: what ran, on what, with which versions (``run.json``).

Collecting it never imports torch or tensorflow: GPU names come from
``nvidia-smi`` when it exists, and library versions from package metadata (kept in the
versions index of :mod:`codecbench.api.entry_point_index`). Each of
those facts is looked up once per process (the commit, the versions and the machine a
process runs with do not change while it runs), so the runs of one process after the
first pay nothing for them.
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import codecbench
from codecbench.api import entry_point_index

CORE_LIBRARIES = ("numpy", "Pillow", "pandas", "pluggy", "click", "tqdm", "codecbench-models")
"""Recorded in every ``run.json``; ``codecbench-models`` (the shipped weights) is ``null``
when not installed (each learned codec's version names its weights' SHA-256 prefix too)."""


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


_IMPORT_NAMES = {"Pillow": "PIL"}
_METADATA_VERSIONED = ("click", "pluggy")
"""Packages whose ``__version__`` is computed on access from the package metadata
(importing ``importlib.metadata``, ≈ 15 ms) or deprecated: the versions index answers."""


@functools.cache
def distribution_version(name: str) -> str | None:
    """Version of distribution ``name``: from the imported module when it is loaded
    (cheap), else the installed package metadata's: for :data:`CORE_LIBRARIES`, recorded in
    every run, through the versions index (:func:`entry_point_index.distribution_versions`,
    no metadata read while the installation is unchanged)."""
    module = sys.modules.get(_IMPORT_NAMES.get(name, name))
    version = getattr(module, "__version__", None) if name not in _METADATA_VERSIONED else None
    if isinstance(version, str):
        return version
    if name in CORE_LIBRARIES:
        return _indexed_core_versions()[name]
    return entry_point_index.scan_versions([name])[name]


@functools.cache
def _indexed_core_versions() -> dict[str, str | None]:
    """The versions index's answer for every core library, read once per process (not
    once per library whose module is not loaded)."""
    return entry_point_index.distribution_versions(CORE_LIBRARIES)


@functools.cache
def git_commit() -> str | None:
    """The commit of the codecbench source tree, when it runs from a git checkout."""
    package_dir = Path(codecbench.__file__).resolve().parent
    for parent in package_dir.parents:
        if (parent / ".git").exists():
            break
    else:
        return None
    if shutil.which("git") is None:
        return None
    try:
        result = subprocess.run(
            ["git", "-C", str(package_dir), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[str]:
    """GPU names from ``nvidia-smi`` (empty when there is none)."""
    return list(_gpu_names())


@functools.cache
def _gpu_names() -> tuple[str, ...]:
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in result.stdout.splitlines() if line.strip())


def hardware() -> dict[str, object]:
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib,
        "gpus": gpus(),
        "platform": platform.platform(),
    }


def environment() -> dict[str, object]:
    """Software facts common to every run."""
    return {
        "codecbench": codecbench.__version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "libraries": {name: distribution_version(name) for name in CORE_LIBRARIES},
    }
