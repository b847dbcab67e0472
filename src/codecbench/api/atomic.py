"""Atomic file replacement: write a temporary file next to the target, then rename it.

Every file codecbench rewrites in place (results CSVs, ``run.json``, ``checksums.json``,
training checkpoints, weights files) goes through one of three forms:

* :func:`atomic_write` — the whole content at once (``bytes`` or ``str``);
* :func:`atomic_output` — a context manager yielding an open file, for writers that
  stream into a file object (``np.savez(handle, ...)``, ``pickle.dump``);
* :func:`atomic_path` — a context manager yielding a temporary *path*, for writers that
  insist on a file name (``safetensors``' ``save_file``, ``torch.save``).

**Guarantee.** A reader opening ``path`` sees either the old file (or none) or the complete
new one — never a partially written file — whatever happens to the writer (an exception,
``KeyboardInterrupt``, a kill). On success the temporary file has been renamed over
``path`` with :func:`os.replace`, which is atomic on POSIX and on Windows (same volume);
on any exception the temporary file is removed and ``path`` is left untouched.

**Temporary files.** Each write gets its own temporary file, made with
:func:`tempfile.mkstemp` in the target's directory (a rename across file systems would
not be atomic), named ``<name>.tmp<random>``, so concurrent writers — threads or
processes — never share one: the last rename wins and the target is always one whole
version. The name keeps ``<name>`` as everything before its last dot, which matters to
``torch.save``: it names the records inside its zip archive after the file it writes
(``checkpoint.pt/data.pkl``), so the checkpoint's contents do not depend on the temporary
name. Only a writer killed outright (``SIGKILL``, power loss) can leave one behind. The
file gets the permissions a plain ``open(path, "w")`` would give it (``0o666`` less the
umask), not :func:`~tempfile.mkstemp`'s ``0o600``.

**Durability (fsync).** By default the data is *not* fsynced: the guarantee above holds
for readers and for a writer process that dies, which is what codecbench needs (a
re-run rewrites any result), and skipping the flush keeps frequent checkpoints and CSV
exports cheap. After an operating-system crash or power loss a just-renamed file may be
empty or stale on some file systems. Pass ``fsync=True`` to flush the file to disk before
the rename and the directory after it, when surviving that matters.

This module uses the standard library only (no framework is imported).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_output", "atomic_path", "atomic_write"]

_UMASK_LOCK = threading.Lock()
_TEXT_MODES = ("w", "wt")
_BINARY_MODES = ("wb",)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, encoding: str = "utf-8",
                 newline: str | None = None, fsync: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically (module docstring: readers see the old or
    the new file, never a partial one; on failure ``path`` is untouched and no temporary
    file remains).

    ``bytes`` are written as they are. A ``str`` is written like :meth:`Path.write_text`:
    encoded with ``encoding``, with ``newline`` translation (``None``: ``"\\n"`` becomes
    :data:`os.linesep`; ``""``: no translation).
    """
    if isinstance(data, bytes | bytearray | memoryview):
        with atomic_output(path, "wb", fsync=fsync) as handle:
            handle.write(data)
    elif isinstance(data, str):
        with atomic_output(path, "w", encoding=encoding, newline=newline,
                           fsync=fsync) as handle:
            handle.write(data)
    else:
        raise TypeError(f"atomic_write needs bytes or str, not {type(data).__name__}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "wb", *,
                  encoding: str | None = None, newline: str | None = None,
                  fsync: bool = False) -> Iterator[IO[Any]]:
    """Yield a file open on a fresh temporary file next to ``path``; when the ``with`` block
    ends normally the file is closed and renamed over ``path``, when it raises the file is
    closed and removed and ``path`` is untouched (module docstring).

    ``mode`` is ``"wb"`` (binary) or ``"w"``/``"wt"`` (text: ``encoding`` defaults to
    UTF-8, ``newline`` as in :func:`open`).
    """
    if mode in _TEXT_MODES:
        options: dict[str, Any] = {"encoding": encoding or "utf-8", "newline": newline}
    elif mode in _BINARY_MODES:
        if encoding is not None or newline is not None:
            raise ValueError("encoding and newline apply to text modes only")
        options = {}
    else:
        raise ValueError(f"mode must be one of {_TEXT_MODES + _BINARY_MODES}, not {mode!r}")
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, mode, **options) as handle:
        yield handle


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[Path]:
    """Yield the path of a fresh (empty, closed) temporary file next to ``path`` for a
    writer that takes a file name; when the ``with`` block ends normally that file is
    renamed over ``path``, when it raises the file is removed and ``path`` is untouched
    (module docstring).

    The writer may overwrite the temporary file or replace it, but must write exactly that
    name: ``np.save``/``np.savez`` append ``.npy``/``.npz`` to a name without it, so give
    them :func:`atomic_output`'s file object instead.
    """
    target = Path(path)
    fd, tmp = _temporary(target)
    try:
        os.close(fd)
        yield tmp
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_directory(target.parent)


def _temporary(target: Path) -> tuple[int, Path]:
    """A new file ``<dir>/<name>.tmp<random>`` (open descriptor, path), with the
    permissions ``open(target, "w")`` would give a new file."""
    import tempfile  # (3 ms of imports: deferred until a file is written)

    fd, name = tempfile.mkstemp(prefix=f"{target.name}.tmp", dir=target.parent)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return fd, tmp


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore (briefly visible to other threads)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Flush a rename in ``directory`` to disk (POSIX; a no-op where directories cannot be
    opened, e.g. on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
