"""Codecs with known faults, used by the harness tests (importable by spawned workers)."""

from __future__ import annotations

import io
import os
import time
import zlib

import numpy as np
from PIL import Image

from codecbench import Codec, hookimpl


class LosslessZlib(Codec):
    """Raw pixels + zlib, with a tiny header; qualities are zlib levels."""

    name = "test/zlib"
    family = "other"
    framework = "zlib"
    qualities = (1, 9)

    @property
    def version(self):
        return "1"

    def encode(self, image, quality):
        height, width = image.shape[:2]
        header = height.to_bytes(4, "big") + width.to_bytes(4, "big")
        return header + zlib.compress(image.tobytes(), int(quality))

    def decode(self, data):
        height, width = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        raw = zlib.decompress(data[8:])
        return np.frombuffer(raw, np.uint8).reshape(height, width, 3).copy()


class FailsOnImage(LosslessZlib):
    """Raises in encode for images whose top-left pixel is odd-sum (data-dependent failure)."""

    name = "test/fails-sometimes"

    def encode(self, image, quality):
        if image.shape[1] % 2 == 1:
            raise RuntimeError(f"cannot encode odd width {image.shape[1]}")
        return super().encode(image, quality)


class WrongShape(LosslessZlib):
    name = "test/wrong-shape"

    def decode(self, data):
        return super().decode(data)[:-1]


class WrongDtype(LosslessZlib):
    name = "test/wrong-dtype"

    def decode(self, data):
        return super().decode(data).astype(np.float32)


class Sleepy(LosslessZlib):
    """Sleeps ``CODECBENCH_TEST_SLEEP`` seconds per encode (default 0.3)."""

    name = "test/sleepy"

    def encode(self, image, quality):
        time.sleep(float(os.environ.get("CODECBENCH_TEST_SLEEP", "0.3")))
        return super().encode(image, quality)


class Hangs(LosslessZlib):
    """Hangs at quality 9: a busy loop in Python."""

    name = "test/hangs"

    def encode(self, image, quality):
        if int(quality) == 9:
            while True:
                time.sleep(0.01)
        return super().encode(image, quality)


class Crashes(LosslessZlib):
    """Kills its own process at quality 9 (like a segfault in a native library)."""

    name = "test/crashes"

    def encode(self, image, quality):
        if int(quality) == 9:
            os._exit(139)
        return super().encode(image, quality)


class Stateful(LosslessZlib):
    """Broken: decode needs state left by encode."""

    name = "test/stateful"

    def encode(self, image, quality):
        self._last_shape = image.shape
        return zlib.compress(image.tobytes(), int(quality))

    def decode(self, data):
        return np.frombuffer(zlib.decompress(data), np.uint8).reshape(self._last_shape).copy()


class NonDeterministic(LosslessZlib):
    name = "test/nondeterministic"

    def decode(self, data):
        image = super().decode(data)
        image[0, 0, 0] ^= np.random.randint(1, 255)
        return image


class ShrinksWithQuality(LosslessZlib):
    """Broken: higher quality gives a smaller file (JPEG with the quality order reversed)."""

    name = "test/shrinks"
    qualities = (90, 30)

    def encode(self, image, quality):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
        return buffer.getvalue()

    def decode(self, data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class Injection(LosslessZlib):
    name = '=HYPERLINK("http://example.invalid","x")'


class VersionBump(LosslessZlib):
    """Version taken from the environment, to test mixed-version detection."""

    name = "test/versioned"

    @property
    def version(self):
        return os.environ.get("CODECBENCH_TEST_VERSION", "1")


ALL = [LosslessZlib, FailsOnImage, WrongShape, WrongDtype, Sleepy, Hangs, Crashes, Injection,
       VersionBump]


@hookimpl
def register_codecs(register):
    for cls in ALL:
        register(cls())
