"""A dataset made of the image files in a folder (or matched by a glob pattern)."""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path

import numpy as np

from codecbench.core.dataset import Dataset
from codecbench.core.images import IMAGE_SUFFIXES, load_rgb


class DatasetNotFoundError(FileNotFoundError):
    """The folder or pattern of a folder dataset matches no image file."""


class FolderDataset(Dataset):
    """Every image file under ``root`` (a directory or a glob pattern), sorted by path.

    Image ids are the files' paths relative to the folder, with ``/`` as the
    separator (for a glob pattern: relative to the pattern's fixed prefix).
    Images load with the policy of :mod:`codecbench.core.images`.
    :meth:`content_hash` covers the ids and the bytes of the files.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        name: str | None = None,
        recursive: bool = False,
        version: str = "local",
        license: str = "unknown (local files)",
        source: str | None = None,
        description: str = "",
    ):
        self.root = str(root)
        self.recursive = recursive
        self.name = name or f"folder:{self.root}"
        self.version = version
        self.license = license
        self.source = source if source is not None else str(Path(self.root).resolve())
        self.description = description or f"images in {self.root}"
        self._files: dict[str, Path] | None = None

    def _base_and_paths(self) -> tuple[Path, list[Path]]:
        if glob.has_magic(self.root):
            prefix = self.root.split("*")[0].split("?")[0].split("[")[0]
            base = Path(prefix if prefix.endswith(("/", "\\")) else Path(prefix).parent)
            paths = [Path(p) for p in glob.glob(self.root, recursive=self.recursive)]
        else:
            base = Path(self.root)
            if not base.exists():
                raise DatasetNotFoundError(f"dataset folder {self.root!r} does not exist")
            if not base.is_dir():
                raise DatasetNotFoundError(f"dataset path {self.root!r} is not a directory")
            paths = list(base.rglob("*") if self.recursive else base.iterdir())
        return base, paths

    def files(self) -> dict[str, Path]:
        """``image_id -> path`` for every image file, sorted by id."""
        if self._files is None:
            base, paths = self._base_and_paths()
            images = {
                p.relative_to(base).as_posix(): p
                for p in paths
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            }
            if not images:
                suffixes = " ".join(IMAGE_SUFFIXES)
                raise DatasetNotFoundError(
                    f"no image files in {self.root!r} (looked for {suffixes}"
                    f"{', recursively' if self.recursive else ''})"
                )
            self._files = dict(sorted(images.items()))
        return self._files

    def image_ids(self) -> list[str]:
        return list(self.files())

    def load(self, image_id: str) -> np.ndarray:
        try:
            path = self.files()[image_id]
        except KeyError:
            raise KeyError(f"dataset {self.name!r} has no image {image_id!r}") from None
        return load_rgb(path)

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for image_id, path in self.files().items():
            digest.update(image_id.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return "sha256:" + digest.hexdigest()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_files"] = None
        return state
