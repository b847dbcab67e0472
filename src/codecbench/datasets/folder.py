"""A dataset made of the image files in a folder (or matched by a glob pattern)."""

from __future__ import annotations

import glob
import hashlib
import random
import zlib
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
    :meth:`content_hash` covers the ids, the bytes of the files and the options below.

    Options (training needs crops and subsets; evaluation uses full images):

    * ``recursive``: search sub-folders too.
    * ``max_images``: keep at most this many images — the first ones in path order, or,
      with ``subset_seed``, a deterministic random subset (same seed, same images).
    * ``crop``: ``(height, width)``; with ``crop_mode="center"`` the centred window, with
      ``"random"`` a window drawn from a generator seeded by ``subset_seed`` (default 0)
      and the image id, so the crop of an image is the same on every run. An image smaller
      than the crop raises ``ValueError`` naming it.
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
        max_images: int | None = None,
        subset_seed: int | None = None,
        crop: tuple[int, int] | None = None,
        crop_mode: str = "center",
        availability: str = "available",
    ):
        if max_images is not None and max_images < 1:
            raise ValueError(f"max_images must be >= 1, got {max_images}")
        if crop_mode not in ("center", "random"):
            raise ValueError(f"crop_mode must be 'center' or 'random', got {crop_mode!r}")
        self.root = str(root)
        self.recursive = recursive
        self.max_images = max_images
        self.subset_seed = subset_seed
        self.crop = tuple(crop) if crop is not None else None
        self.crop_mode = crop_mode
        self.availability = availability
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
            ordered = sorted(images.items())
            if self.max_images is not None and self.max_images < len(ordered):
                if self.subset_seed is None:
                    ordered = ordered[: self.max_images]
                else:
                    chosen = random.Random(self.subset_seed).sample(range(len(ordered)),
                                                                    self.max_images)
                    ordered = [ordered[i] for i in sorted(chosen)]
            self._files = dict(ordered)
        return self._files

    def status(self) -> str:
        return self.availability

    def image_ids(self) -> list[str]:
        return list(self.files())

    def load(self, image_id: str) -> np.ndarray:
        try:
            path = self.files()[image_id]
        except KeyError:
            raise KeyError(f"dataset {self.name!r} has no image {image_id!r}") from None
        image = load_rgb(path)
        return image if self.crop is None else self._cropped(image_id, image)

    def _cropped(self, image_id: str, image: np.ndarray) -> np.ndarray:
        height, width = self.crop
        full_h, full_w = image.shape[:2]
        if full_h < height or full_w < width:
            raise ValueError(f"image {image_id!r} is {full_w}×{full_h}, smaller than the "
                             f"{width}×{height} crop")
        if self.crop_mode == "center":
            top, left = (full_h - height) // 2, (full_w - width) // 2
        else:
            seed = zlib.crc32(f"{self.subset_seed or 0}:{image_id}".encode())
            rng = np.random.default_rng(seed)
            top = int(rng.integers(0, full_h - height + 1))
            left = int(rng.integers(0, full_w - width + 1))
        return np.ascontiguousarray(image[top : top + height, left : left + width])

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        digest.update(repr((self.crop, self.crop_mode, self.subset_seed if self.crop else None))
                      .encode())
        for image_id, path in self.files().items():
            digest.update(image_id.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return "sha256:" + digest.hexdigest()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_files"] = None
        return state
