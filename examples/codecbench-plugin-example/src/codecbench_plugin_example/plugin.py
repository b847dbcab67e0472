"""An example codecbench plugin: one codec and one metric.

``example/quantize-zlib`` quantises each RGB channel uniformly to 2^k levels, then
compresses the level indices with zlib. Encoding maps each 8-bit sample ``v`` to the level
index ``i = v >> (8 - k)``; decoding returns the centre of the level's interval,
``v' = i · 2^(8-k) + 2^(7-k)``, so the error is at most ``2^(7-k)``.

``example/mae`` is the mean absolute error over all RGB samples, in 8-bit levels.

numpy is imported where the arrays are handled, not at module level: ``codecbench list``
runs every plugin's hooks, and a plugin that imports its heavy libraries only when it codes
or measures keeps listing fast.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

from codecbench import Codec, Metric, hookimpl
from codecbench.api.metric import Measurement

if TYPE_CHECKING:
    import numpy as np

MAGIC = b"CBQZ"
FORMAT_VERSION = 1
HEADER = struct.Struct(">4sBBHI")  # magic, format version, k, height, width


class QuantizeZlib(Codec):
    name = "example/quantize-zlib"
    family = "classical"
    framework = "numpy+zlib"
    qualities = (2, 3, 4, 5, 6, 7)
    description = "uniform colour quantisation to 2^k levels per channel + zlib (example plugin)"

    @property
    def version(self) -> str:
        return f"{FORMAT_VERSION} (zlib {zlib.ZLIB_RUNTIME_VERSION})"

    def encode(self, image: np.ndarray, quality) -> bytes:
        import numpy as np

        k = int(quality)
        height, width = image.shape[:2]
        indices = (image >> (8 - k)).astype(np.uint8)
        return HEADER.pack(MAGIC, FORMAT_VERSION, k, height, width) + zlib.compress(
            indices.tobytes(), 9
        )

    def decode(self, data: bytes) -> np.ndarray:
        import numpy as np

        if len(data) < HEADER.size:
            raise ValueError(f"file too short for a quantize-zlib header ({len(data)} bytes)")
        magic, version, k, height, width = HEADER.unpack_from(data)
        if magic != MAGIC or version != FORMAT_VERSION or not 1 <= k <= 8:
            raise ValueError("not a quantize-zlib file (bad magic, version or k)")
        raw = zlib.decompress(data[HEADER.size :])
        if len(raw) != height * width * 3:
            raise ValueError(f"payload has {len(raw)} samples, header says {height}x{width}x3")
        indices = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        step = 1 << (8 - k)
        return (indices.astype(np.uint16) * step + step // 2).astype(np.uint8)


class MeanAbsoluteError(Metric):
    """``mean |reference − reconstruction|`` over all ``H · W · 3`` samples, 8-bit levels.

    0 for a lossless reconstruction, at most 255. Not an RD axis: reports list it in the
    leaderboard without BD-rates or an RD plot.
    """

    name = "example/mae"
    unit = "levels"
    higher_is_better = False
    valid_range = (0.0, 255.0)
    rd_axis = False
    version = "1"  # change it whenever the values would change
    description = "mean |x − y| over all RGB samples, in 8-bit levels (example plugin)"

    def compute(self, measurement: Measurement) -> float:
        import numpy as np

        # the images are read-only and shared with the other metrics: compute on a copy
        difference = measurement.reference.astype(np.int16) - measurement.reconstruction
        return float(np.abs(difference).mean())


@hookimpl
def register_codecs(register):
    register(QuantizeZlib())


@hookimpl
def register_metrics(register):
    register(MeanAbsoluteError())
