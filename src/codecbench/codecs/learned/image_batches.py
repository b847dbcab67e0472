"""Images in and out of a network: edge-padded float batches and back (numpy only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def padded_batch(image: np.ndarray, multiple: int) -> np.ndarray:
    """``1×H'×W'×3`` float32 in [0, 1] of an ``H×W×3`` uint8 image, edge-padded on the
    bottom and right to multiples of ``multiple``."""
    import numpy as np

    height, width = image.shape[:2]
    pad = ((0, -height % multiple), (0, -width % multiple), (0, 0))
    return (np.pad(image, pad, mode="edge").astype(np.float32) / 255.0)[None]


def to_image(batch: np.ndarray, height: int, width: int) -> np.ndarray:
    """The inverse of :func:`padded_batch`: ``round(255·x)`` clipped to uint8, cropped to
    ``height×width``."""
    import numpy as np

    return np.clip(np.round(batch[0, :height, :width] * 255.0), 0, 255).astype(np.uint8)
