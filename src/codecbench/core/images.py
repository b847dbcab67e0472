"""Loading images as RGB uint8 arrays: one policy for every dataset.

Policy (applied by :func:`load_rgb`, used by all built-in datasets):

* The result is a C-contiguous ``numpy.uint8`` array of shape ``H×W×3``, RGB,
  pixels exactly as stored (no EXIF rotation, no colour management).
* Grayscale (``L``, ``1``) is replicated into three equal channels.
* Palette (``P``) images are expanded through their palette.
* Alpha (``RGBA``, ``LA``, ``PA``) is discarded, not composited: the colour
  channels are kept as stored.
* 16-bit samples (``I;16`` and friends) are rounded to 8 bits:
  ``v8 = round(v16 / 257)``, which maps 0→0 and 65535→255 exactly.
* CMYK and YCbCr are converted to RGB by Pillow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")


class ImageLoadError(ValueError):
    """An image file could not be read; the message names the file and the cause."""


def check_rgb_image(image: object, what: str = "image") -> None:
    """Raise ``ValueError`` naming the problem unless ``image`` is ``H×W×3`` uint8."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what} must have dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{what} must have shape H×W×3 with H, W > 0, got {image.shape}")


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert a Pillow image to ``H×W×3`` uint8 RGB following the module's policy."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        wide = np.asarray(img, dtype=np.float64)
        if img.mode == "I" and wide.max(initial=0) <= 255:
            gray = wide
        else:
            gray = wide / 257.0
        gray8 = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray8[:, :, None], 3, axis=2))
    if img.mode != "RGB":
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        img = img.convert("RGB")
    return np.array(img, dtype=np.uint8, order="C")  # a writable copy


def load_rgb(path: str | Path) -> np.ndarray:
    """Read ``path`` as ``H×W×3`` uint8 RGB; :class:`ImageLoadError` names the file on failure."""
    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb_array(img)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"cannot read image {str(path)!r}: {exc}") from exc
