"""How an image becomes the input of a recurrent codec, and back (numpy only).

Both frameworks share this so that torch and TF codecs see identical tensors:

* full-image models (Toderici 2017, Johnston 2018): the image is padded to a multiple of
  16 pixels by repeating its edge pixels, one batch element;
* patch models (Toderici 2016): padded to a multiple of 32 and cut into independent
  32×32 patches (the batch), each coded into a 2×2 grid of codes.

Pixels are scaled to ``[−0.5, 0.5]``; arrays are NHWC float32. The codes of one
iteration are stored as one ``C×h×w`` grid covering the padded image (patches in raster
order), whatever the tiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

CODE_STRIDE = 16
"""Pixels per code position along each axis (four stride-2 layers)."""


@dataclass(frozen=True)
class Tiling:
    """The padded size and the patch grid of one image."""

    height: int
    width: int
    patch: int  # 0: whole image

    @property
    def padded(self) -> tuple[int, int]:
        multiple = self.patch or CODE_STRIDE
        return (-(-self.height // multiple) * multiple, -(-self.width // multiple) * multiple)

    @property
    def patches(self) -> tuple[int, int]:
        if not self.patch:
            return (1, 1)
        height, width = self.padded
        return (height // self.patch, width // self.patch)

    @property
    def code_grid(self) -> tuple[int, int]:
        height, width = self.padded
        return (height // CODE_STRIDE, width // CODE_STRIDE)


def network_input(image: np.ndarray, patch: int) -> tuple[np.ndarray, Tiling]:
    """``(batch, tiling)``: the NHWC float32 batch in [−0.5, 0.5] of an ``H×W×3`` uint8 image."""
    import numpy as np

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got {image.dtype} {image.shape}")
    tiling = Tiling(image.shape[0], image.shape[1], patch)
    height, width = tiling.padded
    padded = np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)),
                    mode="edge").astype(np.float32) / 255.0 - 0.5
    if not patch:
        return padded[None], tiling
    rows, cols = tiling.patches
    batch = padded.reshape(rows, patch, cols, patch, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(batch.reshape(rows * cols, patch, patch, 3)), tiling


def network_output_to_image(batch: np.ndarray, tiling: Tiling) -> np.ndarray:
    """The ``H×W×3`` uint8 image of an NHWC reconstruction batch in [−0.5, 0.5]."""
    import numpy as np

    rows, cols = tiling.patches
    _, patch_height, patch_width, _ = batch.shape
    image = batch.reshape(rows, cols, patch_height, patch_width, 3).transpose(0, 2, 1, 3, 4)
    image = image.reshape(rows * patch_height, cols * patch_width, 3)
    pixels = np.clip(np.round((image[:tiling.height, :tiling.width] + 0.5) * 255.0), 0, 255)
    return pixels.astype(np.uint8)


def codes_to_grid(codes: np.ndarray, tiling: Tiling) -> np.ndarray:
    """NHWC codes of one iteration (``B×h×w×C``) → the ``C×H'×W'`` grid of the padded image."""
    import numpy as np

    rows, cols = tiling.patches
    _, height, width, channels = codes.shape
    grid = codes.reshape(rows, cols, height, width, channels).transpose(4, 0, 2, 1, 3)
    return np.ascontiguousarray(grid.reshape(channels, rows * height, cols * width))


def grid_to_codes(grid: np.ndarray, tiling: Tiling) -> np.ndarray:
    """The inverse of :func:`codes_to_grid`."""
    import numpy as np

    rows, cols = tiling.patches
    channels, height, width = grid.shape
    codes = grid.reshape(channels, rows, height // rows, cols, width // cols)
    codes = codes.transpose(1, 3, 2, 4, 0)
    return np.ascontiguousarray(codes.reshape(rows * cols, height // rows, width // cols, channels))
