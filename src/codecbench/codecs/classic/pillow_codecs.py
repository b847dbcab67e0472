"""Built-in classical codec plugin: the codecs Pillow ships.

``jpeg``/``jpeg-444`` (libjpeg-turbo), ``jpeg2000`` (OpenJPEG), ``webp`` (libwebp, lossy)
and ``avif`` (libavif with the AV1 encoder Pillow was built with).
"""

from __future__ import annotations

import abc
import io
from typing import TYPE_CHECKING

from codecbench.api.codec import Codec, Family
from codecbench.api.hookspecs import hookimpl
from codecbench.api.images import to_rgb_array

if TYPE_CHECKING:
    import numpy as np


def pillow_versions() -> dict[str, str]:
    """Pillow and the libraries it was built against that matter for codecs."""
    import PIL
    from PIL import features

    versions = {"Pillow": PIL.__version__}
    for feature in ("libjpeg_turbo", "jpg", "jpg_2000", "webp", "avif"):
        version = features.version(feature)
        if version:
            versions[feature] = version
    return versions


class PillowCodec(Codec):
    """A codec that is one Pillow image format: the file Pillow writes, decoded by Pillow.

    Subclasses set ``pillow_format`` (Pillow's format name), ``pillow_feature`` and
    ``library`` (the codec library, for availability and versions; a subclass whose library
    depends on the Pillow build overrides :meth:`pillow_library`), implement
    :meth:`save_options` and :meth:`settings` (the encoder settings, part of the version).
    """

    family = Family.CLASSICAL.value
    framework = "pillow"
    pillow_format = ""
    pillow_feature = ""
    library = ""

    @abc.abstractmethod
    def save_options(self, quality) -> dict:
        """Pillow's ``save`` keyword arguments at ``quality``."""

    @abc.abstractmethod
    def settings(self) -> str:
        """The encoder settings (part of the version)."""

    def pillow_library(self) -> tuple[str, str]:
        """``(pillow_feature, library)`` of the library this Pillow build codes with."""
        return self.pillow_feature, self.library

    @property
    def version(self) -> str:
        versions = pillow_versions()
        feature, library = self.pillow_library()
        library_version = versions.get(feature, "?")
        return f"Pillow {versions['Pillow']}, {library} {library_version}, {self.settings()}"

    def library_versions(self) -> dict[str, str]:
        return pillow_versions()

    def availability(self) -> tuple[bool, str]:
        from PIL import features

        feature, library = self.pillow_library()
        if features.check(feature):
            return True, ""
        return False, f"this Pillow build has no {library} support"

    def encode(self, image: np.ndarray, quality) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image, "RGB").save(buffer, format=self.pillow_format,
                                           **self.save_options(quality))
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            if img.format != self.pillow_format:
                raise ValueError(f"expected a {self.pillow_format} file, got {img.format}")
            img.load()
            return to_rgb_array(img)


class PillowJpeg(PillowCodec):
    """Baseline JPEG (ITU-T T.81) through Pillow's libjpeg(-turbo).

    ``quality`` is the IJG quality factor 1–95 (quantisation tables scaled as
    in libjpeg); no optimised Huffman tables, no progressive mode, chroma
    subsampling fixed per variant: 4:2:0 (``jpeg``) or 4:4:4 (``jpeg-444``).
    The file is a complete JFIF stream.
    """

    qualities = (5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 95)
    pillow_format = "JPEG"
    pillow_feature = "jpg"
    library = "libjpeg"

    _SUBSAMPLING = {"4:2:0": 2, "4:4:4": 0}

    def __init__(self, name: str = "jpeg", subsampling: str = "4:2:0"):
        if subsampling not in self._SUBSAMPLING:
            raise ValueError(f"subsampling must be one of {list(self._SUBSAMPLING)}")
        self.name = name
        self.subsampling = subsampling
        self.description = f"JPEG (libjpeg-turbo via Pillow), {subsampling}, IJG quality 5-95"

    def pillow_library(self) -> tuple[str, str]:
        """libjpeg-turbo where Pillow was built with it, else libjpeg."""
        from PIL import features

        if features.check_feature("libjpeg_turbo"):
            return "libjpeg_turbo", "libjpeg-turbo"
        return super().pillow_library()

    def settings(self) -> str:
        return self.subsampling

    def save_options(self, quality) -> dict:
        return {"quality": int(quality), "subsampling": self._SUBSAMPLING[self.subsampling],
                "optimize": False, "progressive": False}


class PillowJpeg2000(PillowCodec):
    """JPEG 2000 (ISO/IEC 15444-1) through Pillow's OpenJPEG, rate-controlled.

    ``quality`` is the **target rate in bits per pixel**; OpenJPEG receives the compression
    ratio ``24 / bpp`` (``quality_mode="rates"``, one quality layer), with the irreversible
    9/7 wavelet and the RGB→YCbCr multi-component transform. The file is a raw J2K
    codestream (no JP2 boxes), as in the published OpenJPEG baselines. OpenJPEG's rate
    control targets the codestream body, so the real bpp (header included) lands close to,
    not exactly on, the target.
    """

    name = "jpeg2000"
    qualities = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
    description = "JPEG 2000 (OpenJPEG via Pillow), 9/7 + MCT, quality = target bpp 0.1-2"
    pillow_format = "JPEG2000"
    pillow_feature = "jpg_2000"
    library = "OpenJPEG"

    def settings(self) -> str:
        return "9/7+MCT, J2K codestream"

    def save_options(self, quality) -> dict:
        return {"quality_mode": "rates", "quality_layers": [24.0 / float(quality)],
                "irreversible": True, "mct": 1, "no_jp2": True}


class PillowWebp(PillowCodec):
    """Lossy WebP (VP8 intra, 4:2:0) through Pillow's libwebp.

    ``quality`` is libwebp's 0–100 quality factor, ``method=6`` (slowest, best). Trap
    guarded: :meth:`encode` checks that the RIFF payload is a lossy ``VP8 `` chunk and
    refuses a lossless ``VP8L`` stream, which some Pillow/libwebp options produce silently.
    """

    name = "webp"
    qualities = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    description = "WebP lossy (libwebp via Pillow), method 6, quality 0-95"
    pillow_format = "WEBP"
    pillow_feature = "webp"
    library = "libwebp"

    def settings(self) -> str:
        return "lossy, method 6"

    def save_options(self, quality) -> dict:
        return {"quality": int(quality), "method": 6, "lossless": False, "exact": False}

    def encode(self, image: np.ndarray, quality) -> bytes:
        data = super().encode(image, quality)
        chunk = data[12:16]
        if chunk != b"VP8 ":
            raise ValueError(f"libwebp wrote a {chunk!r} chunk, expected lossy b'VP8 '")
        return data


class PillowAvif(PillowCodec):
    """AVIF (AV1 intra in HEIF) through Pillow's libavif.

    ``quality`` is libavif's 0–100 quality; 4:4:4 chroma, full range, encoder speed 6
    (recorded in :attr:`version` with the AV1 encoder and its version). The file is a
    complete AVIF (ISOBMFF) file; its container header (≈ 300 bytes) counts in bpp.
    """

    name = "avif"
    qualities = (5, 15, 25, 35, 45, 55, 65, 75, 85, 90)
    description = "AVIF (AV1 intra, libavif via Pillow), 4:4:4, speed 6, quality 5-90"
    in_default_run = False  # about a second per encode
    pillow_format = "AVIF"
    pillow_feature = "avif"
    library = "libavif"
    speed = 6

    def settings(self) -> str:
        from PIL import AvifImagePlugin

        return f"{AvifImagePlugin._avif.codec_versions()}, 4:4:4, speed {self.speed}"

    def save_options(self, quality) -> dict:
        return {"quality": int(quality), "speed": self.speed, "subsampling": "4:4:4",
                "range": "full"}


@hookimpl
def register_codecs(register):
    register(PillowJpeg("jpeg", "4:2:0"))
    register(PillowJpeg("jpeg-444", "4:4:4"))
    register(PillowJpeg2000())
    register(PillowWebp())
    register(PillowAvif())
