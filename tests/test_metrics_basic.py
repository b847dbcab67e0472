"""bpp and PSNR against direct formulas on real photos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecbench.evaluators.metrics.basic import PSNR, BitsPerPixel


def test_psnr_matches_the_direct_formula_on_a_real_photo(photo):
    rng = np.random.default_rng(1)
    noisy = np.clip(photo.astype(int) + rng.integers(-9, 10, photo.shape), 0, 255).astype(np.uint8)
    mse = sum(int(d) ** 2 for d in (photo.astype(int) - noisy.astype(int)).ravel()) / photo.size
    assert PSNR().compute(photo, noisy, 0) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-12)
    assert PSNR().compute(photo, photo, 0) == math.inf


def test_bpp_counts_pixels_not_samples(photo):
    height, width = photo.shape[:2]
    assert BitsPerPixel().compute(photo, photo, 1000) == pytest.approx(8000 / (height * width))
