"""A dataset made of the image files in a folder (or matched by a glob pattern)."""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import random
import stat
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.api.dataset import Dataset
from codecbench.api.images import IMAGE_SUFFIXES, load_rgb
from codecbench.datasets.split import check_split, in_split

if TYPE_CHECKING:
    import numpy as np


class DatasetNotFoundError(FileNotFoundError):
    """The folder or pattern of a folder dataset matches no image file."""


class FolderDataset(Dataset):
    """Every image file under ``root`` (a directory or a glob pattern), sorted by path.

    Image ids are the files' paths relative to the folder, with ``/`` as the
    separator (for a glob pattern: relative to the pattern's fixed prefix).
    Images load with the policy of :mod:`codecbench.api.images`.
    :meth:`content_hash` covers the ids, the bytes of the files and the options below.

    An entry with an image suffix that is not a readable regular file — a symbolic
    link loop or a broken link, a FIFO, a device, a socket, a file without read
    permission — is skipped with a warning on stderr naming it (a FIFO is never
    opened), as is a sub-folder that cannot be listed. Recursive listing follows
    links to folders, except a link back to a folder it is inside of (a loop, reported).

    Options (training needs crops and subsets; evaluation uses full images):

    * ``recursive``: search sub-folders too.
    * ``split``: ``all`` (default), ``train`` or ``held-out``: the fixed split of
      :mod:`codecbench.datasets.split` (by file name), applied before ``max_images``; the
      dataset's name then ends in ``[<split>]``.
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
        split: str = "all",
    ):
        check_split(split)
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
        self.split = split
        self.name = name or f"folder:{self.root}"
        if split != "all":
            self.name += f"[{split}]"
        self.version = version
        self.license = license
        self.source = source if source is not None else str(Path(self.root).resolve())
        self.description = description or f"images in {self.root}"
        self._files: dict[str, Path] | None = None
        self._skipped_reported = False

    def _base_and_paths(self, skipped: list[tuple[Path, str]]) -> tuple[Path, list[Path]]:
        if glob.has_magic(self.root):
            prefix = self.root.split("*")[0].split("?")[0].split("[")[0]
            base = Path(prefix if prefix.endswith(("/", "\\")) else Path(prefix).parent)
            paths = _without_loops(base, glob.glob(self.root, recursive=self.recursive),
                                   skipped)
        else:
            base = Path(self.root)
            if not base.exists():
                raise DatasetNotFoundError(f"dataset folder {self.root!r} does not exist")
            if not base.is_dir():
                raise DatasetNotFoundError(f"dataset path {self.root!r} is not a directory")
            try:
                os.scandir(base).close()
            except OSError as exc:
                raise DatasetNotFoundError(f"cannot list dataset folder {self.root!r}: "
                                           f"{exc.strerror}") from None
            paths = _walk(base, skipped) if self.recursive else list(base.iterdir())
        return base, paths

    def files(self) -> dict[str, Path]:
        """``image_id -> path`` for every image file, sorted by id (see the class docstring
        for the entries skipped with a warning)."""
        if self._files is None:
            skipped: list[tuple[Path, str]] = []
            base, paths = self._base_and_paths(skipped)
            images = {}
            for p in paths:
                if p.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                problem = _not_a_readable_file(p)
                if problem is None:
                    images[p.relative_to(base).as_posix()] = p
                elif problem:
                    skipped.append((p, problem))
            if not self._skipped_reported:
                for path, problem in sorted(skipped, key=lambda item: str(item[0])):
                    print(f"codecbench: warning: dataset {self.name!r}: skipping {str(path)!r}: "
                          f"{problem}", file=sys.stderr)
                self._skipped_reported = True
            if not images:
                suffixes = " ".join(IMAGE_SUFFIXES)
                raise DatasetNotFoundError(
                    f"no image files in {self.root!r} (looked for {suffixes}"
                    f"{', recursively' if self.recursive else ''})"
                )
            ordered = sorted(images.items())
            if self.split != "all":
                kept = set(in_split([image_id for image_id, _ in ordered], self.split))
                if not kept:
                    raise DatasetNotFoundError(
                        f"no image of {self.root!r} is in the {self.split!r} split "
                        f"({len(ordered)} images, split by file name: "
                        "codecbench.datasets.split)")
                ordered = [item for item in ordered if item[0] in kept]
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
        import numpy as np

        assert self.crop is not None  # only called when a crop is set
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
        options: tuple = (self.crop, self.crop_mode, self.subset_seed if self.crop else None)
        if self.split != "all":  # the ids below already differ; named so the hash says why
            options += (self.split,)
        digest.update(repr(options).encode())
        for image_id, path in self.files().items():
            digest.update(image_id.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return "sha256:" + digest.hexdigest()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_files"] = None
        return state

    def __setstate__(self, state):
        state.setdefault("_skipped_reported", False)
        self.__dict__.update(state)


def _not_a_readable_file(path: Path) -> str | None:
    """``None`` for a readable regular file, ``""`` for a folder (not an image, said
    nothing about), else why the entry is skipped. Only regular files are opened."""
    try:
        mode = os.stat(path).st_mode  # follows links
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if os.path.islink(path):
            return f"broken symbolic link (to {os.readlink(path)!r})"
        return f"cannot read its status ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return ""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    try:  # O_NONBLOCK: never waits, even if the entry became a FIFO meanwhile
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
    finally:
        os.close(fd)
    return None


def _walk(base: Path, skipped: list[tuple[Path, str]]) -> list[Path]:
    """Every entry under ``base`` (links to folders followed, loops reported in ``skipped``)."""
    paths: list[Path] = []
    inside: dict[str, set[tuple[int, int]]] = {}  # folder -> identities of it and its parents

    def unlistable(exc: OSError) -> None:
        skipped.append((Path(exc.filename), f"cannot list the folder ({exc.strerror})"))

    for folder, dirnames, filenames in os.walk(base, onerror=unlistable, followlinks=True):
        info = os.stat(folder)
        chain = inside.pop(folder, set()) | {(info.st_dev, info.st_ino)}
        kept = []
        for name in sorted(dirnames):
            child = os.path.join(folder, name)
            if os.path.islink(child):
                try:
                    target = os.stat(child)
                except OSError as exc:
                    skipped.append((Path(child), f"cannot follow the link ({exc.strerror})"))
                    continue
                if (target.st_dev, target.st_ino) in chain:
                    skipped.append((Path(child), "symbolic link loop (to a folder it is "
                                    f"inside of, {os.path.realpath(child)!r})"))
                    continue
            inside[child] = chain
            kept.append(name)
            paths.append(Path(child))
        dirnames[:] = kept
        paths.extend(Path(folder, name) for name in filenames)
    return paths


def _without_loops(base: Path, matches: list[str], skipped: list[tuple[Path, str]]) -> list[Path]:
    """Glob ``matches`` minus those reached through a link to a folder above the link
    (``**`` follows such loops until the system stops it); each loop is reported once."""
    looping: dict[str, bool] = {}

    def loops(link: str) -> bool:
        if link not in looping:
            looping[link] = False
            if os.path.islink(link):
                target = os.path.realpath(link)
                parent = os.path.realpath(os.path.dirname(link))
                looping[link] = parent == target or parent.startswith(target.rstrip(os.sep)
                                                                       + os.sep)
                if looping[link]:
                    skipped.append((Path(link), "symbolic link loop (to a folder it is inside "
                                    f"of, {target!r})"))
        return looping[link]

    kept = []
    for match in matches:
        path = Path(match)
        try:
            parts = path.relative_to(base).parts
        except ValueError:
            parts = path.parts
            ancestors = []
        else:
            ancestors = [base.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if not any(loops(str(a)) for a in ancestors):
            kept.append(path)
    return kept
