"""A fixed train / held-out split of any folder of images.

Learned codecs are trained on one part of a folder and evaluated on photos they never saw.
The split depends on each image's *file name* only, so it is the same on every machine,
whatever the folder is called, whether it is listed recursively, and whatever other files
are added or removed::

    held out  ⇔  int(SHA-256(file name)[:8]) mod 6 = 0

(about one image in six; on the 41 training photos of the shipped weights: 7 held out,
34 for training). ``all`` keeps every image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath

SPLITS = ("all", "train", "held-out")
HELD_OUT_MODULUS = 6


def is_held_out(image_id: str) -> bool:
    """Whether the image ``image_id`` (a relative path with ``/``) is in the held-out part."""
    name = PurePosixPath(image_id).name.encode("utf-8")
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "big") % HELD_OUT_MODULUS == 0


def check_split(split: str) -> str:
    """``split``, or a ``ValueError`` naming the valid ones."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return split


def in_split(image_ids: Iterable[str], split: str) -> list[str]:
    """The ids of ``image_ids`` in ``split`` (order kept)."""
    check_split(split)
    if split == "all":
        return list(image_ids)
    held_out = split == "held-out"
    return [image_id for image_id in image_ids if is_held_out(image_id) == held_out]
