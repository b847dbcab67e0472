"""Downloads that are bounded, resumable, atomic and verified.

* The body is written to ``<file>.part``; an interrupted download leaves only that file,
  and the next call resumes it with an HTTP ``Range`` request. A resumed body is appended
  only when the server answers ``206 Partial Content`` with a ``Content-Range`` that starts
  exactly at the partial file's size (and whose total, when given, matches the expected
  size); any other answer discards the partial file and the download starts from zero.
* Only a complete body whose checksum matches is renamed to the final name (``os.replace``
  is atomic), so a file under its final name is always complete and verified.
* Every download is capped in size: by the expected size where it is known, otherwise by
  :data:`MAX_DOWNLOAD_BYTES` (``$CODECBENCH_MAX_DOWNLOAD_BYTES``). A ``Content-Length``
  over the cap is refused before the body is read; a body that grows past it is aborted.
  Either way the partial file is deleted and :class:`DownloadTooLargeError` is raised.
* Every download is bounded in time: no byte for :data:`STALL_TIMEOUT_S` seconds
  (``$CODECBENCH_DOWNLOAD_STALL_S``), or more than :data:`DEADLINE_S` seconds in all
  (``$CODECBENCH_DOWNLOAD_DEADLINE_S``, headers included), raises
  :class:`DownloadTimeoutError`. The partial file is kept, so the next call resumes it
  (a file too large for one deadline completes over several calls).
* A checksum mismatch deletes the partial file and raises :class:`ChecksumError`.
* Any network failure raises :class:`DownloadError` naming the URL.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import cast

from tqdm import tqdm

CHUNK = 1 << 20

#: Largest download accepted when the expected size is not known (bytes).
MAX_DOWNLOAD_BYTES = 16 << 30
#: A download that receives no byte for this long fails (seconds).
STALL_TIMEOUT_S = 30.0
#: A download that takes longer than this in all fails (seconds).
DEADLINE_S = 3600.0

MAX_DOWNLOAD_BYTES_ENV = "CODECBENCH_MAX_DOWNLOAD_BYTES"
STALL_TIMEOUT_ENV = "CODECBENCH_DOWNLOAD_STALL_S"
DEADLINE_ENV = "CODECBENCH_DOWNLOAD_DEADLINE_S"


class DownloadError(OSError):
    """A URL could not be fetched; the message names it."""


class DownloadTooLargeError(DownloadError):
    """A download exceeded its size cap; the partial file was deleted."""


class DownloadTimeoutError(DownloadError):
    """A download stalled or ran past its deadline; the partial file is kept for resuming."""


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the expected checksum."""


def positive_setting(env: str, default, integer: bool = False):
    """``$env`` as a positive finite number (whole with ``integer``) where set, else ``default``.

    Raises :class:`ValueError` naming the variable when it is set to anything else.
    """
    value = os.environ.get(env, "").strip()
    if not value:
        return default
    try:
        parsed = float(value)
    except ValueError:
        parsed = 0.0
    if not math.isfinite(parsed):
        parsed = 0.0
    if integer:
        parsed = int(parsed)
    if not parsed > 0:
        raise ValueError(f"{env} must be a positive number, not {value!r}")
    return parsed


def max_download_bytes() -> int:
    """The size cap for downloads of unknown size: ``$CODECBENCH_MAX_DOWNLOAD_BYTES``."""
    return positive_setting(MAX_DOWNLOAD_BYTES_ENV, MAX_DOWNLOAD_BYTES, integer=True)


def stall_timeout_s() -> float:
    """Seconds without a byte before a download fails: ``$CODECBENCH_DOWNLOAD_STALL_S``."""
    return positive_setting(STALL_TIMEOUT_ENV, STALL_TIMEOUT_S)


def deadline_s() -> float:
    """Seconds one download may take in all: ``$CODECBENCH_DOWNLOAD_DEADLINE_S``."""
    return positive_setting(DEADLINE_ENV, DEADLINE_S)


def file_checksum(path: Path, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex>"`` of the file at ``path``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"


def matches(path: Path, checksum: str) -> bool:
    """Whether ``path`` has ``checksum`` (``"md5:…"``, ``"sha1:…"`` or ``"sha256:…"``)."""
    algorithm = checksum.split(":", 1)[0]
    return file_checksum(path, algorithm) == checksum.lower()


# -- the deadline -------------------------------------------------------------------------


class _Deadline:
    """A monotonic deadline that also shuts down the sockets it watches when it passes.

    Shutting the socket down wakes a read blocked inside ``http.client`` (a server that
    drips its headers one byte at a time never trips the per-read socket timeout).
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def passed(self) -> bool:
        return self._fired or time.monotonic() >= self.end

    def watch(self, sock) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self._fired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self._fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def open(self, request: urllib.request.Request, timeout: float):
        opener = urllib.request.build_opener(_HTTPHandler(self), _HTTPSHandler(self))
        return opener.open(request, timeout=timeout)


def _shutdown(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _watched(base: type, deadline: _Deadline) -> type[http.client.HTTPConnection]:
    class Connection(base):
        def connect(self):
            super().connect()
            deadline.watch(self.sock)

    return cast("type[http.client.HTTPConnection]", Connection)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def http_open(self, req):
        return self.do_open(_watched(http.client.HTTPConnection, self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def https_open(self, req):
        # _context is set by HTTPSHandler.__init__ but is absent from typeshed's stub
        return self.do_open(_watched(http.client.HTTPSConnection, self._deadline), req,
                            context=self._context)  # type: ignore[attr-defined]


# -- one request --------------------------------------------------------------------------

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)

_DONE, _RESTART = "done", "restart"


class _Context:
    """What one :func:`download` call knows: where, how much, until when."""

    def __init__(self, url: str, partial: Path, size: int | None, limit: int, stall: float,
                 deadline: _Deadline, progress: bool, label: str):
        self.url, self.partial, self.size, self.limit = url, partial, size, limit
        self.stall, self.deadline, self.progress, self.label = stall, deadline, progress, label

    def too_large(self, amount: int, what: str) -> DownloadTooLargeError:
        self.partial.unlink(missing_ok=True)
        if self.size is not None:
            cap = f"the expected size of {self.size} bytes"
        else:
            cap = f"the cap of {self.limit} bytes (set {MAX_DOWNLOAD_BYTES_ENV} to change it)"
        return DownloadTooLargeError(f"cannot download {self.url}: {what} {amount} bytes, more "
                                     f"than {cap}; the download was deleted")

    def timed_out(self) -> DownloadTimeoutError:
        if self.deadline.passed:
            why = (f"not finished after {self.deadline.seconds:g} s (set {DEADLINE_ENV} to "
                   "change the deadline)")
        else:
            why = f"no data for {self.stall:g} s (set {STALL_TIMEOUT_ENV} to change the timeout)"
        return DownloadTimeoutError(f"cannot download {self.url}: {why}; run again to resume "
                                    f"from {self.partial}")


def _is_timeout(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", None)
    return isinstance(exc, (TimeoutError, socket.timeout)) or isinstance(
        reason, (TimeoutError, socket.timeout))


def _fetch(ctx: _Context, offset: int) -> str:
    """One request; ``_DONE`` when ``ctx.partial`` holds the whole body, else ``_RESTART``."""
    request = urllib.request.Request(ctx.url, headers={"User-Agent": "codecbench"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        with ctx.deadline.open(request, timeout=ctx.stall) as response:
            length = response.length
            if response.status == 206:
                if not offset:
                    raise DownloadError(f"cannot download {ctx.url}: the server answered "
                                        "206 Partial Content to a request for the whole file")
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
                if match is None:
                    return _RESTART
                start, end = int(match[1]), int(match[2])
                total = None if match[3] == "*" else int(match[3])
                if (start != offset or end < start
                        or (length is not None and length != end - start + 1)
                        or (total is not None and end != total - 1)
                        or (total is not None and ctx.size is not None and total != ctx.size)):
                    return _RESTART
                expected = total if total is not None else (
                    offset + length if length is not None else None)
                mode = "ab"
            else:  # a whole body, also when the server ignored the range
                offset, mode = 0, "wb"
                expected = length
            if expected is not None:
                if expected > ctx.limit:
                    raise ctx.too_large(expected, "the server announces")
                if ctx.size is not None and expected != ctx.size:
                    ctx.partial.unlink(missing_ok=True)
                    raise DownloadError(f"cannot download {ctx.url}: the server announces "
                                        f"{expected} bytes, expected {ctx.size}")
            _receive(ctx, response, offset, mode, expected)
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range not satisfiable: complete only if it says so
            match = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range") or "")
            if match and int(match[1]) == offset and ctx.size in (None, offset):
                return _DONE
            return _RESTART
        raise DownloadError(f"cannot download {ctx.url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        if ctx.deadline.passed or _is_timeout(exc):
            raise ctx.timed_out() from exc
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"cannot download {ctx.url}: {reason}") from exc
    return _DONE


def _receive(ctx: _Context, response, offset: int, mode: str, expected: int | None) -> None:
    """Write the body to ``ctx.partial`` (appending in mode ``"ab"``) within the caps."""
    read = getattr(response, "read1", response.read)
    with open(ctx.partial, mode) as handle, tqdm(
        total=expected, initial=offset, unit="B", unit_scale=True, file=sys.stderr,
        desc=ctx.label, disable=not ctx.progress,
    ) as bar:
        received = offset
        while True:
            if ctx.deadline.passed:
                raise ctx.timed_out()
            block = read(CHUNK)
            if not block:
                break
            received += len(block)
            if received > ctx.limit:
                handle.close()
                raise ctx.too_large(received, "received at least")
            handle.write(block)
            bar.update(len(block))
    if ctx.deadline.passed:  # the deadline shut the connection down
        raise ctx.timed_out()
    wanted = expected if expected is not None else ctx.size
    if wanted is not None and received < wanted:
        raise DownloadError(
            f"cannot download {ctx.url}: connection closed after {received} of {wanted} "
            f"bytes (run again to resume from {ctx.partial})"
        )


def download(url: str, destination: Path, checksum: str | None = None,
             progress: bool = True, size: int | None = None) -> str:
    """Fetch ``url`` into ``destination``; return its ``"sha256:<hex>"``.

    With ``checksum`` (``"md5:…"``, ``"sha1:…"`` or ``"sha256:…"``) the file is verified
    before it gets its final name; with ``size`` (bytes) the body must have exactly that
    size, which is then also the cap. Raises :class:`DownloadTooLargeError`,
    :class:`DownloadTimeoutError` or :class:`DownloadError` (network), or
    :class:`ChecksumError`; in no case does ``destination`` exist afterwards unless the
    whole body arrived and matched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    limit = size if size is not None else max_download_bytes()
    stall, seconds = stall_timeout_s(), deadline_s()
    deadline = _Deadline(seconds)
    ctx = _Context(url, partial, size, limit, stall, deadline, progress, destination.name)
    try:
        for _attempt in range(3):
            offset = partial.stat().st_size if partial.exists() else 0
            if offset > limit:
                partial.unlink()
                offset = 0
            if _fetch(ctx, offset) == _DONE:
                break
            partial.unlink(missing_ok=True)  # not a matching range: start from zero
        else:
            raise DownloadError(f"cannot download {url}: the server keeps answering the range "
                                "request with a body that does not match")
    finally:
        deadline.cancel()
    received = partial.stat().st_size
    if received > limit:
        raise ctx.too_large(received, "received")
    if size is not None and received != size:
        partial.unlink()
        raise DownloadError(f"cannot download {url}: received {received} bytes, expected {size}; "
                            "the download was deleted")
    if checksum is not None and not matches(partial, checksum):
        actual = file_checksum(partial, checksum.split(":", 1)[0])
        partial.unlink()
        raise ChecksumError(f"{url} has {actual}, expected {checksum}; the download was deleted")
    sha256 = file_checksum(partial)
    partial.replace(destination)
    return sha256
