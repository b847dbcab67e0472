"""Datasets that need a licence or an account: the user points at a local copy.

Each one reads its root from an environment variable (``CODECBENCH_IMAGENET_VAL=/data/…``),
documents the layout it expects, validates it, and says exactly what is missing. Any
folder also works directly as ``codecbench run --dataset /path/to/images``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.dataset import Dataset
from codecbench.datasets.folder import FolderDataset

if TYPE_CHECKING:
    import numpy as np


class LayoutError(FileNotFoundError):
    """The local copy is missing or does not have the documented layout."""


@dataclass(frozen=True)
class Layout:
    name: str
    env: str
    pattern: str  # glob under the root that matches the evaluation images
    expected_count: int | None
    license: str
    source: str
    description: str


LAYOUTS: tuple[Layout, ...] = (
    Layout("imagenet-val", "CODECBENCH_IMAGENET_VAL", "*/*.JPEG", 50000,
           "ImageNet terms of access (non-commercial research)", "https://image-net.org/",
           "ILSVRC2012 validation: ROOT/<wnid>/<file>.JPEG (50000 images in 1000 folders)"),
    Layout("openimages-val", "CODECBENCH_OPENIMAGES_VAL", "*.jpg", None,
           "CC BY 2.0 (images, per file)", "https://storage.googleapis.com/openimages/web/",
           "Open Images validation images: ROOT/<image id>.jpg"),
    Layout("places365-val", "CODECBENCH_PLACES365_VAL", "*.jpg", 36500,
           "Places365 terms (non-commercial research)", "http://places2.csail.mit.edu/",
           "Places365-Standard validation (val_256 or val_large): ROOT/Places365_val_XXXXXXXX.jpg"),
    Layout("lsun", "CODECBENCH_LSUN", "**/*.webp", None,
           "LSUN terms (research)", "https://www.yf.io/p/lsun",
           "LSUN images exported from the LMDB to files: ROOT/**/<key>.webp"),
    Layout("cityscapes-val", "CODECBENCH_CITYSCAPES_VAL", "*/*_leftImg8bit.png", 500,
           "Cityscapes licence (account required)", "https://www.cityscapes-dataset.com/",
           "leftImg8bit/val: ROOT/<city>/<name>_leftImg8bit.png (500 images)"),
    Layout("flickr2k", "CODECBENCH_FLICKR2K", "*.png", 2650,
           "Flickr image terms (research)", "https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar",
           "Flickr2K HR images: ROOT/000001.png … ROOT/002650.png"),
)


class LocalLayoutDataset(Dataset):
    """One of :data:`LAYOUTS`, read from the folder named by its environment variable."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.name = layout.name
        self.version = "local copy"
        self.license = layout.license
        self.source = layout.source
        self.description = layout.description
        self._folder: FolderDataset | None = None

    def root(self) -> Path | None:
        value = os.environ.get(self.layout.env)
        return Path(value).expanduser() if value else None

    def problems(self) -> list[str]:
        """What is missing, in words; empty when the layout is complete."""
        root = self.root()
        if root is None:
            return [f"set {self.layout.env} to the folder holding your copy "
                    f"(expected layout: {self.layout.description})"]
        if not root.is_dir():
            return [f"{self.layout.env}={root} is not a directory"]
        found = sum(1 for p in root.glob(self.layout.pattern) if p.is_file())
        if found == 0:
            return [f"no files match {self.layout.pattern!r} under {root} "
                    f"(expected layout: {self.layout.description})"]
        if self.layout.expected_count and found != self.layout.expected_count:
            return [f"{found} files match {self.layout.pattern!r} under {root}, expected "
                    f"{self.layout.expected_count} (incomplete or different copy)"]
        return []

    verify = problems  # `codecbench datasets verify NAME` checks the layout

    def status(self) -> str:
        return "local copy found" if not self.problems() else "needs local copy"

    def _images(self) -> FolderDataset:
        problems = self.problems()
        if problems:
            raise LayoutError(f"dataset {self.name!r}: " + "; ".join(problems))
        if self._folder is None:
            root = self.root()
            assert root is not None  # no problems: the variable is set
            self._folder = FolderDataset(root / self.layout.pattern, name=self.name,
                                         recursive=True, license=self.license)
        return self._folder

    def image_ids(self) -> list[str]:
        return self._images().image_ids()

    def load(self, image_id: str) -> np.ndarray:
        return self._images().load(image_id)

    def content_hash(self) -> str:
        return self._images().content_hash()
