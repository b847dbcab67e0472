"""The dataset contract.

A dataset is an ordered, finite collection of RGB images with an identity:

* ``name``, ``version``, ``license``, ``source`` (URL or description): provenance.
* iteration yields ``(image_id, image)`` pairs, ``image`` an ``H×W×3`` uint8
  RGB array; ``image_id`` is unique within the dataset and stable across runs.
* :meth:`Dataset.content_hash` identifies the exact images: two datasets with
  the same hash gave the harness the same pixels. Results from runs whose
  dataset hashes differ are never merged silently.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class Dataset(abc.ABC):
    """Base class of every dataset.

    Subclasses set ``name``, ``version``, ``license``, ``source`` and
    ``description`` and implement :meth:`image_ids` and :meth:`load`.
    Construction must not read images.
    """

    name: str
    version: str = "1"
    license: str = "unknown"
    source: str = ""
    description: str = ""

    @abc.abstractmethod
    def image_ids(self) -> list[str]:
        """The ids of the images, in evaluation order."""

    @abc.abstractmethod
    def load(self, image_id: str) -> np.ndarray:
        """The image ``image_id`` as ``H×W×3`` uint8 RGB."""

    def status(self) -> str:
        """Availability in words for ``codecbench datasets list`` (``available`` by default;
        downloadable sets say ``cached``/``downloadable``, licensed ones whether a local copy
        was found)."""
        return "available"

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        for image_id in self.image_ids():
            yield image_id, self.load(image_id)

    def __len__(self) -> int:
        return len(self.image_ids())

    def content_hash(self) -> str:
        """``sha256:<hex>`` over every image id, shape and pixel buffer, in order.

        Subclasses backed by files may hash the files instead (cheaper); they
        must document what the hash covers.
        """
        import numpy as np

        digest = hashlib.sha256()
        for image_id, image in self:
            digest.update(image_id.encode("utf-8") + b"\0")
            digest.update(repr(image.shape).encode("ascii"))
            digest.update(np.ascontiguousarray(image).tobytes())
        return "sha256:" + digest.hexdigest()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
