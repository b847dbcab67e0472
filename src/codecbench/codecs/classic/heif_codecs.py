"""Built-in classical codec plugin: HEVC intra (x265) in HEIF, through pillow-heif.

This is the stand-in for BPG, the usual "HEVC intra" anchor of learned-compression papers:
the same x265 encoder and HEVC Main/RExt intra coding, stored in a HEIF file instead of
BPG's smaller header.
"""

from __future__ import annotations

import importlib.util
import io
from typing import TYPE_CHECKING

from codecbench.api.codec import Codec, Family
from codecbench.api.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy as np

X265_PSNR_TUNING = {"x265:psy-rd": "0", "x265:psy-rdoq": "0", "x265:aq-mode": "0"}
"""x265's psycho-visual tools off (what ``--tune psnr`` does): they trade PSNR for
perceived detail, and this anchor is compared on PSNR/MS-SSIM. On the sample photos it is
worth ≈ 1.3 dB at 0.5 bpp over libheif's defaults."""


class HeifHevcIntra(Codec):
    """HEVC intra via libheif + x265 (encode) and libde265 (decode).

    ``quality`` is libheif's 0–100 quality (mapped by libheif to x265's CRF), 8-bit, with
    points 5–65 (≈ 0.08–2.7 bpp on photos with PSNR tuning; higher points reach 8 bpp),
    4:4:4 (``hevc-intra``, like BPG's default in published baselines) or 4:2:0
    (``hevc-intra-420``) chroma, x265 tuned for PSNR (:data:`X265_PSNR_TUNING`), libheif's
    default preset. The file is a complete HEIF file: its container header
    (≈ 300–400 bytes of boxes) counts in bpp, unlike BPG's ≈ 10-byte header, which costs
    HEVC intra some rate on small images at low bpp.
    """

    family = Family.CLASSICAL.value
    framework = "pillow-heif"
    in_default_run = False  # about a second per encode
    qualities = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65)

    def __init__(self, name: str = "hevc-intra", chroma: str = "444"):
        self.name = name
        self.chroma = chroma
        self.description = f"HEVC intra (x265 via pillow-heif/libheif), {chroma}, quality 5-65"

    @property
    def version(self) -> str:
        versions = self.library_versions()
        return (f"pillow-heif {versions['pillow-heif']}, libheif {versions['libheif']}, "
                f"{versions['x265']}, chroma {self.chroma}, psy-rd/psy-rdoq/aq off")

    def library_versions(self) -> dict[str, str]:
        import pillow_heif

        info = pillow_heif.libheif_info()
        return {
            "pillow-heif": pillow_heif.__version__,
            "libheif": info.get("libheif", "?"),
            "x265": info.get("encoders", {}).get("x265", info.get("HEIF", "?")),
            "libde265": info.get("decoders", {}).get("libde265", "?"),
        }

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("pillow_heif") is None:
            return False, "pillow-heif is not installed (pip install 'codecbench[classic]')"
        return True, ""

    def encode(self, image: np.ndarray, quality) -> bytes:
        import numpy as np
        import pillow_heif

        height, width = image.shape[:2]
        heif = pillow_heif.from_bytes("RGB", (width, height), np.ascontiguousarray(image).tobytes())
        buffer = io.BytesIO()
        heif.save(buffer, quality=int(quality), chroma=int(self.chroma),
                  enc_params=dict(X265_PSNR_TUNING))
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        import numpy as np
        import pillow_heif

        if not pillow_heif.is_supported(data):
            raise ValueError("not a HEIF file")
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        if heif.mode != "RGB":
            raise ValueError(f"expected an RGB HEIF image, got mode {heif.mode}")
        return np.array(heif, dtype=np.uint8)


@hookimpl
def register_codecs(register):
    register(HeifHevcIntra("hevc-intra", "444"))
    register(HeifHevcIntra("hevc-intra-420", "420"))
