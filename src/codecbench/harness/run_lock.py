"""One run per run directory at a time: an OS file lock on ``run.lock``.

:class:`RunLock` takes an exclusive, non-blocking ``flock`` on ``<run dir>/run.lock`` and
writes the holder's process id, host and command into it. A second ``codecbench run``
on the same directory is refused with a message naming that process. The operating
system drops the lock when the holding process ends, however it ends (SIGKILL
included), so a stale file never blocks a later run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

LOCK_FILE = "run.lock"


class RunDirectoryInUse(RuntimeError):
    """Another live process is running in this run directory."""


class RunLock:
    """Context manager holding the run directory's lock."""

    def __init__(self, run_dir: str | Path, command: list[str] | None = None):
        self.path = Path(run_dir) / LOCK_FILE
        self.command = list(command or [])
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunDirectoryInUse(
                f"{self.path.parent} is in use by {holder}; wait for it to finish, stop it, "
                "or use another --out directory") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command}
        os.write(fd, (json.dumps(record) + "\n").encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> str:
    """``process 1234 on host (codecbench run …)`` from the lock file, as far as readable."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except ValueError:
        record = {}
    if not isinstance(record, dict) or "pid" not in record:
        return "another process"
    command = " ".join(str(part) for part in record.get("command") or [])[:200]
    where = f" on {record['host']}" if record.get("host") else ""
    return f"process {record['pid']}{where}" + (f" ({command})" if command else "")
