"""Built-in metric plugin: rate (``bpp``) and fidelity (``psnr``)."""

from __future__ import annotations

import math

import numpy as np

from codecbench.core.hookspecs import hookimpl
from codecbench.core.metric import Metric


class BitsPerPixel(Metric):
    """Rate of the whole compressed file: ``bpp = 8 · bytes / (H · W)``.

    ``bytes`` is the length of what ``Codec.encode`` returned, headers and
    container included; ``H · W`` counts pixels, not samples (an RGB pixel is
    one pixel).
    """

    name = "bpp"
    unit = "bpp"
    higher_is_better = False
    description = "8 × file bytes / (H × W), header included"

    def compute(self, reference, reconstruction, compressed_size):
        height, width = reference.shape[:2]
        return 8.0 * compressed_size / (height * width)


class PSNR(Metric):
    """Peak signal-to-noise ratio on 8-bit RGB, per image.

    ``PSNR = 10 · log10(255² / MSE)`` with ``MSE`` the mean of the squared
    differences over all ``H · W · 3`` samples (one MSE over the three
    channels, not a mean of per-channel PSNRs), computed in float64 on the
    8-bit reference and reconstruction. A lossless reconstruction (MSE = 0)
    gives ``inf``; the leaderboard reports it as such.
    """

    name = "psnr"
    unit = "dB"
    higher_is_better = True
    description = "10·log10(255²/MSE), MSE over all RGB samples, 8-bit"

    def compute(self, reference, reconstruction, compressed_size):
        diff = reference.astype(np.float64) - reconstruction.astype(np.float64)
        mse = float(np.mean(diff * diff))
        if mse == 0.0:
            return math.inf
        return 10.0 * math.log10(255.0**2 / mse)


@hookimpl
def register_metrics(register):
    register(BitsPerPixel())
    register(PSNR())
