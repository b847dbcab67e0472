"""Downloads that are resumable, atomic and verified.

* The body is written to ``<file>.part``; an interrupted download leaves only that file,
  and the next call resumes it with an HTTP ``Range`` request (falling back to a fresh
  download when the server ignores ranges).
* Only a complete body whose SHA-256 matches is renamed to the final name (``os.replace``
  is atomic), so a file under its final name is always complete and verified.
* A checksum mismatch deletes the partial file and raises :class:`ChecksumError`.
* Any network failure raises :class:`DownloadError` naming the URL.
"""

from __future__ import annotations

import hashlib
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 20
TIMEOUT_S = 30


class DownloadError(OSError):
    """A URL could not be fetched; the message names it."""


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the expected SHA-256."""


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


def download(url: str, destination: Path, checksum: str | None = None,
             progress: bool = True) -> str:
    """Fetch ``url`` into ``destination``; return its ``"sha256:<hex>"``.

    With ``checksum`` (``"md5:…"``, ``"sha1:…"`` or ``"sha256:…"``) the file is verified
    before it gets its final name.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "codecbench"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            if offset and response.status != 206:
                offset = 0  # the server ignored the range: start over
            total = response.length
            if total is not None:
                total += offset
            mode = "ab" if offset else "wb"
            with open(partial, mode) as handle, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, file=sys.stderr,
                desc=destination.name, disable=not progress,
            ) as bar:
                received = offset
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received < total:
                raise DownloadError(
                    f"cannot download {url}: connection closed after {received} of {total} "
                    f"bytes (run again to resume from {partial})"
                )
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range not satisfiable: the part is already complete
            pass
        else:
            raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {url}: {reason}") from exc
    if checksum is not None and not matches(partial, checksum):
        actual = file_checksum(partial, checksum.split(":", 1)[0])
        partial.unlink()
        raise ChecksumError(f"{url} has {actual}, expected {checksum}; the download was deleted")
    sha256 = file_checksum(partial)
    partial.replace(destination)
    return sha256
