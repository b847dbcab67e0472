"""Loading images as RGB uint8 arrays: one policy for every dataset.

Policy (applied by :func:`load_rgb`, used by all built-in datasets):

* The result is a C-contiguous ``numpy.uint8`` array of shape ``H×W×3``, RGB,
  pixels exactly as stored (no EXIF rotation, no colour management).
* Grayscale (``L``, ``1``) is replicated into three equal channels.
* Palette (``P``) images are expanded through their palette.
* Alpha (``RGBA``, ``LA``, ``PA``) is discarded, not composited: the colour
  channels are kept as stored.
* 16-bit samples are rounded to 8 bits: ``v8 = round(v16 / 257)``, which maps
  0→0 and 65535→255 exactly. That holds for 16-bit grayscale (``I;16`` and
  friends) and for 16-bit RGB, RGBA and gray+alpha PNGs, which Pillow would
  truncate to their high byte: :func:`load_rgb` reads those samples exactly with
  ``imagecodecs`` (the ``classic`` extra) and refuses such a file, saying so,
  when it is not installed.
* CMYK and YCbCr are converted to RGB by Pillow.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")


class ImageLoadError(ValueError):
    """An image file could not be read; the message names the file and the cause."""


def check_rgb_image(image: object, what: str = "image") -> None:
    """Raise ``ValueError`` naming the problem unless ``image`` is ``H×W×3`` uint8."""
    import numpy as np

    if not isinstance(image, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what} must have dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{what} must have shape H×W×3 with H, W > 0, got {image.shape}")


def _round_16_to_8(wide: np.ndarray) -> np.ndarray:
    """``round(v / 257)`` as uint8 (``v / 257`` is never halfway between integers)."""
    import numpy as np

    return np.clip(np.rint(np.asarray(wide, dtype=np.float64) / 257.0), 0, 255).astype(np.uint8)


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert a Pillow image to ``H×W×3`` uint8 RGB following the module's policy.

    Pillow has already reduced 16-bit RGB(A) PNG samples to their high byte when
    it opened them; :func:`load_rgb` reads such files exactly.
    """
    import numpy as np

    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        wide = np.asarray(img, dtype=np.float64)
        if img.mode == "I" and wide.max(initial=0) <= 255:
            gray8 = np.clip(np.rint(wide), 0, 255).astype(np.uint8)
        else:
            gray8 = _round_16_to_8(wide)
        return np.ascontiguousarray(np.repeat(gray8[:, :, None], 3, axis=2))
    if img.mode != "RGB":
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        img = img.convert("RGB")
    return np.array(img, dtype=np.uint8, order="C")  # a writable copy


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_16_BIT_COLOUR = {2: "RGB", 4: "gray+alpha", 6: "RGBA"}
"""PNG colour types whose 16-bit samples Pillow truncates (16-bit gray it keeps)."""


def _png_16_bit_colour(header: bytes) -> str | None:
    """``"RGB"``, ``"RGBA"`` or ``"gray+alpha"`` for a 16-bit PNG of those types, else ``None``."""
    if len(header) < 26 or header[:8] != _PNG_SIGNATURE or header[12:16] != b"IHDR":
        return None
    bit_depth, colour_type = struct.unpack(">BB", header[24:26])
    return _PNG_16_BIT_COLOUR.get(colour_type) if bit_depth == 16 else None


def _decode_png_16(data: bytes, kind: str) -> np.ndarray:
    """A 16-bit RGB(A) or gray+alpha PNG as ``H×W×3`` uint8, by ``round(v / 257)``."""
    import numpy as np

    try:
        import imagecodecs
    except ImportError:
        raise ImageLoadError(
            f"16-bit {kind} PNG: reading its samples exactly needs the imagecodecs package "
            "(pip install 'codecbench[classic]')"
        ) from None
    try:
        wide = imagecodecs.png_decode(data)
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error classes
        raise ImageLoadError(f"{type(exc).__name__}: {exc}") from exc
    if wide.dtype != np.uint16 or wide.ndim != 3:
        raise ImageLoadError(f"16-bit {kind} PNG decoded as {wide.dtype} {wide.shape}")
    colour = wide[:, :, :3] if kind != "gray+alpha" else np.repeat(wide[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(_round_16_to_8(colour))


def load_rgb(path: str | Path) -> np.ndarray:
    """Read ``path`` as ``H×W×3`` uint8 RGB; :class:`ImageLoadError` names the file on failure."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.format == "PNG":  # Pillow has checked the size (decompression bombs)
                with open(path, "rb") as handle:
                    kind = _png_16_bit_colour(handle.read(26))
                    if kind is not None:
                        handle.seek(0)
                        return _decode_png_16(handle.read(), kind)
            img.load()
            return to_rgb_array(img)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"cannot read image {str(path)!r}: {exc}") from exc
