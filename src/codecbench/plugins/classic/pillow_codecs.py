"""Built-in classical codec plugin: the codecs Pillow ships.

``jpeg``/``jpeg-444`` (libjpeg-turbo), ``jpeg2000`` (OpenJPEG), ``webp`` (libwebp, lossy)
and ``avif`` (libavif with the AV1 encoder Pillow was built with).
"""

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


def encode_with_pillow(image: np.ndarray, image_format: str, **options) -> bytes:
    """The whole file Pillow writes for ``image`` in ``image_format`` with ``options``."""
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format=image_format, **options)
    return buffer.getvalue()


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
        return encode_with_pillow(
            image,
            "JPEG",
            quality=int(quality),
            subsampling=self._SUBSAMPLING[self.subsampling],
            optimize=False,
            progressive=False,
        )

    def decode(self, data: bytes) -> np.ndarray:
        return decode_with_pillow(data, "JPEG")


class PillowJpeg2000(Codec):
    """JPEG 2000 (ISO/IEC 15444-1) through Pillow's OpenJPEG, rate-controlled.

    ``quality`` is the **target rate in bits per pixel**; OpenJPEG receives the compression
    ratio ``24 / bpp`` (``quality_mode="rates"``, one quality layer), with the irreversible
    9/7 wavelet and the RGB→YCbCr multi-component transform. The file is a raw J2K
    codestream (no JP2 boxes), as in the published OpenJPEG baselines. OpenJPEG's rate
    control targets the codestream body, so the real bpp (header included) lands close to,
    not exactly on, the target.
    """

    name = "jpeg2000"
    family = Family.CLASSICAL.value
    framework = "pillow"
    qualities = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
    description = "JPEG 2000 (OpenJPEG via Pillow), 9/7 + MCT, quality = target bpp 0.1-2"

    @property
    def version(self) -> str:
        versions = pillow_versions()
        return f"Pillow {versions['Pillow']}, OpenJPEG {versions.get('jpg_2000', '?')}, 9/7+MCT"

    def library_versions(self) -> dict[str, str]:
        return pillow_versions()

    def availability(self) -> tuple[bool, str]:
        return _feature_available("jpg_2000", "OpenJPEG")

    def encode(self, image: np.ndarray, quality) -> bytes:
        ratio = 24.0 / float(quality)
        return encode_with_pillow(
            image,
            "JPEG2000",
            quality_mode="rates",
            quality_layers=[ratio],
            irreversible=True,
            mct=1,
            no_jp2=True,
        )

    def decode(self, data: bytes) -> np.ndarray:
        return decode_with_pillow(data, "JPEG2000")


class PillowWebp(Codec):
    """Lossy WebP (VP8 intra, 4:2:0) through Pillow's libwebp.

    ``quality`` is libwebp's 0–100 quality factor, ``method=6`` (slowest, best). Trap
    guarded: :meth:`encode` checks that the RIFF payload is a lossy ``VP8 `` chunk and
    refuses a lossless ``VP8L`` stream, which some Pillow/libwebp options produce silently.
    """

    name = "webp"
    family = Family.CLASSICAL.value
    framework = "pillow"
    qualities = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    description = "WebP lossy (libwebp via Pillow), method 6, quality 0-95"

    @property
    def version(self) -> str:
        versions = pillow_versions()
        return f"Pillow {versions['Pillow']}, libwebp {versions.get('webp', '?')}, method 6"

    def library_versions(self) -> dict[str, str]:
        return pillow_versions()

    def availability(self) -> tuple[bool, str]:
        return _feature_available("webp", "libwebp")

    def encode(self, image: np.ndarray, quality) -> bytes:
        data = encode_with_pillow(
            image, "WEBP", quality=int(quality), method=6, lossless=False, exact=False
        )
        chunk = data[12:16]
        if chunk != b"VP8 ":
            raise ValueError(f"libwebp wrote a {chunk!r} chunk, expected lossy b'VP8 '")
        return data

    def decode(self, data: bytes) -> np.ndarray:
        return decode_with_pillow(data, "WEBP")


class PillowAvif(Codec):
    """AVIF (AV1 intra in HEIF) through Pillow's libavif.

    ``quality`` is libavif's 0–100 quality; 4:4:4 chroma, full range, encoder speed 6
    (recorded in :attr:`version` with the AV1 encoder and its version). The file is a
    complete AVIF (ISOBMFF) file; its container header (≈ 300 bytes) counts in bpp.
    """

    name = "avif"
    family = Family.CLASSICAL.value
    framework = "pillow"
    qualities = (5, 15, 25, 35, 45, 55, 65, 75, 85, 90)
    description = "AVIF (AV1 intra, libavif via Pillow), 4:4:4, speed 6, quality 5-90"
    in_default_run = False  # about a second per encode
    speed = 6

    @property
    def version(self) -> str:
        from PIL import AvifImagePlugin

        versions = pillow_versions()
        codecs = AvifImagePlugin._avif.codec_versions()
        return (f"Pillow {versions['Pillow']}, libavif {versions.get('avif', '?')} "
                f"({codecs}), 4:4:4, speed {self.speed}")

    def library_versions(self) -> dict[str, str]:
        return pillow_versions()

    def availability(self) -> tuple[bool, str]:
        return _feature_available("avif", "libavif")

    def encode(self, image: np.ndarray, quality) -> bytes:
        return encode_with_pillow(
            image, "AVIF", quality=int(quality), speed=self.speed, subsampling="4:4:4",
            range="full",
        )

    def decode(self, data: bytes) -> np.ndarray:
        return decode_with_pillow(data, "AVIF")


def _feature_available(feature: str, library: str) -> tuple[bool, str]:
    if features.check(feature):
        return True, ""
    return False, f"this Pillow build has no {library} support"


@hookimpl
def register_codecs(register):
    register(PillowJpeg("jpeg", "4:2:0"))
    register(PillowJpeg("jpeg-444", "4:4:4"))
    register(PillowJpeg2000())
    register(PillowWebp())
    register(PillowAvif())
