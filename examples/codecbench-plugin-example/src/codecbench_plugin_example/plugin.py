"""``example/quantize-zlib``: uniform per-channel quantisation to 2^k levels, then zlib.

Encoding maps each 8-bit sample ``v`` to the level index ``i = v >> (8 - k)``;
decoding returns the centre of the level's interval,
``v' = i · 2^(8-k) + 2^(7-k)``, so the error is at most ``2^(7-k)``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from codecbench import Codec, hookimpl

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
        k = int(quality)
        height, width = image.shape[:2]
        indices = (image >> (8 - k)).astype(np.uint8)
        return HEADER.pack(MAGIC, FORMAT_VERSION, k, height, width) + zlib.compress(
            indices.tobytes(), 9
        )

    def decode(self, data: bytes) -> np.ndarray:
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


@hookimpl
def register_codecs(register):
    register(QuantizeZlib())
