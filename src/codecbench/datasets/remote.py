"""Datasets downloaded on first use into the cache, verified, extracted safely.

Layout under ``data_dir()/<name>/``::

    downloads/        the files as fetched (archives, or the images themselves)
    files/            what the images are read from (archives extracted here; plain
                      images copied here)
    checksums.json    SHA-256 of every download, recorded once the first download
                      was checked and extracted in full (trust on first use where no
                      checksum is published); a failed or refused file is never recorded

Placing the files by hand works too: put the downloads (or the extracted images) where
``codecbench datasets path NAME`` says, then ``codecbench datasets verify NAME``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.atomic import atomic_write
from codecbench.api.dataset import Dataset
from codecbench.datasets.cache import data_dir
from codecbench.datasets.catalog import RemoteSpec
from codecbench.datasets.folder import FolderDataset

if TYPE_CHECKING:
    import numpy as np

# Downloading and archive handling (urllib, ssl, tarfile, zipfile, lzma) are imported where
# a dataset is fetched or verified, not when the catalog is registered: 'codecbench list'
# lists every dataset without them.


class DatasetUnavailableError(RuntimeError):
    """The dataset is not cached and cannot be downloaded; the message says what to do."""


class RemoteDataset(Dataset):
    """A dataset of :mod:`codecbench.datasets.catalog`, fetched on first use."""

    def __init__(self, spec: RemoteSpec, base: Path | None = None, url_prefix: str | None = None):
        self.spec = spec
        self.name = spec.name
        self.version = spec.version
        self.license = spec.license
        self.source = spec.source
        self.description = spec.description
        self._base = base
        self._url_prefix = url_prefix  # tests: serve the same file names from another host
        self._folder: FolderDataset | None = None
        self._cifar: np.ndarray | None = None

    # -- where things are ----------------------------------------------------------------

    @property
    def root(self) -> Path:
        return (self._base or data_dir()) / self.name

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def downloads_dir(self) -> Path:
        return self.root / "downloads"

    def url(self, remote) -> str:
        """The URL to fetch: the catalog's, or the same file name under a mirror.

        ``CODECBENCH_MIRROR=https://host/path`` fetches ``<mirror>/<dataset>/<file name>``
        instead (an institute mirror, or a local server in tests); checksums still apply.
        """
        if self._url_prefix:
            return f"{self._url_prefix.rstrip('/')}/{remote.filename}"
        mirror = os.environ.get("CODECBENCH_MIRROR")
        if mirror:
            return f"{mirror.rstrip('/')}/{self.name}/{remote.filename}"
        return remote.url

    def _image_paths(self) -> list[Path]:
        return sorted(p for p in self.files_dir.glob(self.spec.image_glob) if p.is_file())

    @property
    def files_needed(self) -> int:
        """Files matching ``image_glob`` that make the set complete (CIFAR: one batch file)."""
        return 1 if self.spec.kind == "cifar10" else self.spec.expected_count

    def status(self) -> str:
        """``cached`` (images in place) or ``downloadable``."""
        found = self._image_paths() if self.files_dir.is_dir() else []
        return "cached" if len(found) >= self.files_needed else "downloadable"

    def provenance(self) -> dict:
        recorded = self._recorded()
        return {
            "checksums": "published: " + self.spec.checksum_source
            if all(f.checksum for f in self.spec.files) else self.spec.checksum_source,
            "downloads": recorded,
            "root": str(self.root),
        }

    # -- fetching ------------------------------------------------------------------------

    def _recorded(self) -> dict[str, str]:
        path = self.root / "checksums.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _record(self, values: dict[str, str]) -> None:
        path = self.root / "checksums.json"
        atomic_write(path, json.dumps(values, indent=2, sort_keys=True) + "\n")

    def how_to_place(self) -> str:
        names = ", ".join(f.filename for f in self.spec.files[:3])
        more = f" (+{len(self.spec.files) - 3} more)" if len(self.spec.files) > 3 else ""
        return (f"place the downloads ({names}{more}) in {self.downloads_dir}, or the images "
                f"(matching {self.spec.image_glob!r}) in {self.files_dir}, then run "
                f"'codecbench datasets verify {self.name}'")

    def ensure(self, progress: bool = True) -> None:
        """Download, verify and extract whatever is missing.

        A file that fails its checksum, is refused as unsafe (see
        :mod:`codecbench.datasets.archives`) or exceeds a download cap is deleted from
        ``downloads/``. Checksums first seen here (trust on first use) are written to
        ``checksums.json`` only once every file was downloaded, checked and extracted and the
        expected number of images was found; nothing that failed is ever recorded.
        """
        if self.status() == "cached":
            return
        from codecbench.datasets.archives import UnsafeArchiveError, extract
        from codecbench.datasets.download import ChecksumError, DownloadError, download

        recorded = self._recorded()
        for remote in self.spec.files:
            target = self.downloads_dir / remote.filename
            if not target.exists():
                try:
                    download(self.url(remote), target, remote.checksum, progress,
                             size=remote.size)
                except DownloadError as exc:
                    raise DatasetUnavailableError(
                        f"dataset {self.name!r} is not cached and {exc}; to use it offline, "
                        + self.how_to_place()
                    ) from exc
            try:
                self._check(remote, target, recorded)
                if remote.archive:
                    extract(target, self.files_dir)
                else:
                    self.files_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(target, self.files_dir / remote.filename)
            except (ChecksumError, UnsafeArchiveError):
                target.unlink(missing_ok=True)  # refused: never kept, never trusted
                raise
        problem = self._count_problem()
        if problem:
            raise DatasetUnavailableError(problem)
        self._record(recorded)

    def _count_problem(self) -> str | None:
        """Why the files in ``files/`` do not make the set complete; ``None`` when they do."""
        count = len(self._image_paths()) if self.files_dir.is_dir() else 0
        needed = self.files_needed
        if count == 0 or (needed and count != needed):
            expected = f", expected {needed}" if needed else ""
            return (f"dataset {self.name!r}: found {count} files matching "
                    f"{self.spec.image_glob!r} in {self.files_dir}{expected}")
        return None

    def _check(self, remote, target: Path, recorded: dict[str, str]) -> None:
        from codecbench.datasets.download import ChecksumError, file_checksum, matches

        if remote.checksum and not matches(target, remote.checksum):
            raise ChecksumError(f"{target} does not match the published {remote.checksum}")
        known = recorded.get(remote.filename)
        if known is None:
            recorded[remote.filename] = file_checksum(target)  # placed by hand: first use
        elif file_checksum(target) != known:
            raise ChecksumError(f"{target} changed since it was first recorded ({known})")

    def verify(self) -> list[str]:
        """Every problem with the cached copy; an empty list means it is complete and intact.

        Checks each download against its published or recorded checksum, that the images
        are in ``files/`` (each plain-file download by name) and that their number equals
        the expected count; no images at all is always a problem. Images placed by hand in
        ``files/`` stand in for plain-file downloads (their checksum is recorded when
        verification finds no problem); an archive that is gone is fine as long as its
        images are in place.
        """
        from codecbench.datasets.download import ChecksumError

        problems = []
        recorded = self._recorded()
        for remote in self.spec.files:
            target = self.downloads_dir / remote.filename
            if not target.exists() and not remote.archive:
                target = self.files_dir / remote.filename
            if not target.exists():
                if not (remote.archive and self.status() == "cached"):
                    problems.append(f"missing {target}")
                continue
            if not remote.archive and not (self.files_dir / remote.filename).is_file():
                problems.append(f"missing {self.files_dir / remote.filename}")
            try:
                self._check(remote, target, recorded)
            except ChecksumError as exc:
                problems.append(str(exc))
        problem = self._count_problem()
        if problem:
            problems.append(problem)
        if not problems:
            self._record(recorded)
        return problems

    # -- the Dataset contract ------------------------------------------------------------

    def _images(self) -> FolderDataset:
        if self._folder is None:
            self.ensure()
            self._folder = FolderDataset(self.files_dir / self.spec.image_glob, name=self.name,
                                         recursive=True)
        return self._folder

    def _cifar_images(self) -> np.ndarray:
        if self._cifar is None:
            self.ensure()
            from codecbench.datasets import cifar

            self._cifar = cifar.load_batch(self._image_paths()[0])
        return self._cifar

    def image_ids(self) -> list[str]:
        if self.spec.kind == "cifar10":
            return [f"test_batch/{i:05d}" for i in range(len(self._cifar_images()))]
        return self._images().image_ids()

    def load(self, image_id: str) -> np.ndarray:
        if self.spec.kind == "cifar10":
            return self._cifar_images()[int(image_id.rsplit("/", 1)[1])].copy()
        return self._images().load(image_id)

    def content_hash(self) -> str:
        if self.spec.kind == "cifar10":
            return Dataset.content_hash(self)
        return self._images().content_hash()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cifar"] = None
        return state
