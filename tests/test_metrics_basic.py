"""bpp and PSNR against direct formulas on real photos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecbench.api.metric import Measurement
from codecbench.metrics.basic import PSNR, BitsPerPixel, EstimatedBitsPerPixel

pytestmark = pytest.mark.no_frameworks


def test_psnr_matches_the_direct_formula_on_a_real_photo(photo):
    rng = np.random.default_rng(1)
    noisy = np.clip(photo.astype(int) + rng.integers(-9, 10, photo.shape), 0, 255).astype(np.uint8)
    mse = sum(int(d) ** 2 for d in (photo.astype(int) - noisy.astype(int)).ravel()) / photo.size
    assert PSNR().compute(Measurement(photo, noisy, 0)) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-12)
    assert PSNR().compute(Measurement(photo, photo, 0)) == math.inf


def test_bpp_counts_pixels_not_samples(photo):
    height, width = photo.shape[:2]
    assert BitsPerPixel().compute(Measurement(photo, photo, 1000)) == pytest.approx(8000 / (height * width))


def test_bpp_estimate_uses_the_codec_estimate_and_is_empty_without_one(photo):
    metric = EstimatedBitsPerPixel()
    height, width = photo.shape[:2]
    assert metric.compute(Measurement(photo, photo, 1000, 4000.0)) == pytest.approx(4000.0 / (height * width))
    assert math.isnan(metric.compute(Measurement(photo, photo, 1000, None)))


def test_the_harness_passes_the_bitstream_estimate_to_the_metric(photo):
    from codecbench.api.codec import Bitstream, Codec
    from codecbench.harness.task import Task, evaluate

    class Raw(Codec):
        name, qualities = "raw-estimate", (1,)
        version = "1"

        def encode(self, image, quality):
            return Bitstream(image.tobytes() + bytes(image.shape[:2]), estimated_bits=1234.0)

        def decode(self, data):
            height, width = data[-2], data[-1]
            return np.frombuffer(data[:-2], np.uint8).reshape(height, width, 3)

    image = photo[:50, :60]
    row = evaluate(Task(Raw(), "1", 1, "d", "i", image, (BitsPerPixel(), EstimatedBitsPerPixel())))
    assert row.error == ""
    assert row.metrics["bpp-estimate"] == pytest.approx(1234.0 / (50 * 60))
    assert row.metrics["bpp"] > row.metrics["bpp-estimate"]
