"""Built-in classical codec plugin: JPEG through Pillow (libjpeg-turbo)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, features

from codecbench.core.codec import Codec, Family
from codecbench.core.hookspecs import hookimpl
from codecbench.core.images import to_rgb_array


def pillow_versions() -> dict[str, str]:
    """Pillow and the libraries it was built against that matter for codecs."""
    import PIL

    versions = {"Pillow": PIL.__version__}
    for feature in ("libjpeg_turbo", "jpg", "jpg_2000", "webp", "avif"):
        version = features.version(feature)
        if version:
            versions[feature] = version
    return versions


def decode_with_pillow(data: bytes, expected_format: str) -> np.ndarray:
    """Decode ``data`` with Pillow, refusing anything but ``expected_format``."""
    with Image.open(io.BytesIO(data)) as img:
        if img.format != expected_format:
            raise ValueError(f"expected a {expected_format} file, got {img.format}")
        img.load()
        return to_rgb_array(img)


class PillowJpeg(Codec):
    """Baseline JPEG (ITU-T T.81) through Pillow's libjpeg(-turbo).

    ``quality`` is the IJG quality factor 1–95 (quantisation tables scaled as
    in libjpeg); no optimised Huffman tables, no progressive mode, chroma
    subsampling fixed per variant: 4:2:0 (``jpeg``) or 4:4:4 (``jpeg-444``).
    The file is a complete JFIF stream.
    """

    family = Family.CLASSICAL.value
    framework = "pillow"
    qualities = (5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 95)

    _SUBSAMPLING = {"4:2:0": 2, "4:4:4": 0}

    def __init__(self, name: str = "jpeg", subsampling: str = "4:2:0"):
        if subsampling not in self._SUBSAMPLING:
            raise ValueError(f"subsampling must be one of {list(self._SUBSAMPLING)}")
        self.name = name
        self.subsampling = subsampling
        self.description = f"JPEG (libjpeg-turbo via Pillow), {subsampling}, IJG quality 5-95"

    @property
    def version(self) -> str:
        versions = pillow_versions()
        if "libjpeg_turbo" in versions:
            library = f"libjpeg-turbo {versions['libjpeg_turbo']}"
        else:
            library = f"libjpeg {versions.get('jpg', '?')}"
        return f"Pillow {versions['Pillow']}, {library}, {self.subsampling}"

    def library_versions(self) -> dict[str, str]:
        return pillow_versions()

    def encode(self, image: np.ndarray, quality) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image, "RGB").save(
            buffer,
            format="JPEG",
            quality=int(quality),
            subsampling=self._SUBSAMPLING[self.subsampling],
            optimize=False,
            progressive=False,
        )
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        return decode_with_pillow(data, "JPEG")


@hookimpl
def register_codecs(register):
    register(PillowJpeg("jpeg", "4:2:0"))
    register(PillowJpeg("jpeg-444", "4:4:4"))
