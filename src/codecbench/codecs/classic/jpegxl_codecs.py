"""Built-in classical codec plugin: JPEG XL through imagecodecs (libjxl)."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from codecbench.api.codec import Codec, Family
from codecbench.api.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy as np


class ImagecodecsJpegXL(Codec):
    """JPEG XL (ISO/IEC 18181) via libjxl, VarDCT, distance-based quality.

    ``quality`` is the Butteraugli **distance** (lower is better; 1.0 ≈ visually
    lossless); the points are listed from the highest distance (lowest rate) down. Effort 7
    (libjxl's default). The file is a bare JPEG XL codestream (no ISOBMFF container).
    """

    name = "jpegxl"
    family = Family.CLASSICAL.value
    framework = "imagecodecs"
    qualities = (15.0, 10.0, 7.0, 5.0, 3.5, 2.5, 1.8, 1.2, 0.8, 0.5)
    description = "JPEG XL (libjxl via imagecodecs), effort 7, quality = distance 15-0.5"
    effort = 7

    @property
    def version(self) -> str:
        versions = self.library_versions()
        return f"imagecodecs {versions['imagecodecs']}, {versions['libjxl']}, effort {self.effort}"

    def library_versions(self) -> dict[str, str]:
        import imagecodecs

        return {"imagecodecs": imagecodecs.__version__, "libjxl": imagecodecs.jpegxl_version()}

    def availability(self) -> tuple[bool, str]:
        if importlib.util.find_spec("imagecodecs") is None:
            return False, "imagecodecs is not installed (pip install 'codecbench[classic]')"
        return True, ""

    def encode(self, image: np.ndarray, quality) -> bytes:
        import imagecodecs
        import numpy as np

        return bytes(imagecodecs.jpegxl_encode(
            np.ascontiguousarray(image), distance=float(quality), effort=self.effort,
            usecontainer=False,
        ))

    def decode(self, data: bytes) -> np.ndarray:
        import imagecodecs
        import numpy as np

        if not imagecodecs.jpegxl_check(data):
            raise ValueError("not a JPEG XL file")
        image = imagecodecs.jpegxl_decode(data)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected 8-bit RGB, decoded {image.dtype} {image.shape}")
        return image


@hookimpl
def register_codecs(register):
    register(ImagecodecsJpegXL())
