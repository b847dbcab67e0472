"""Built-in metric plugin: rate (``bpp``) and fidelity (``psnr``, ``psnr-y``)."""

from __future__ import annotations

import math

from codecbench.api.codec import bits_per_pixel
from codecbench.api.hookspecs import hookimpl
from codecbench.api.metric import Measurement, Metric


class BitsPerPixel(Metric):
    """Rate of the whole compressed file: ``bpp = 8 · bytes / (H · W)``.

    ``bytes`` is the length of what ``Codec.encode`` returned, headers and
    container included; ``H · W`` counts pixels, not samples (an RGB pixel is
    one pixel).
    """

    name = "bpp"
    unit = "bpp"
    higher_is_better = False
    valid_range = (0.0, math.inf)
    description = "8 × file bytes / (H × W), header included"

    def compute(self, measurement: Measurement) -> float:
        return bits_per_pixel(measurement.compressed_size, measurement.width,
                              measurement.height)


class EstimatedBitsPerPixel(Metric):
    """The entropy model's rate estimate: ``bpp-estimate = Σ −log2 p(ŷ) / (H · W)``.

    ``Σ −log2 p(ŷ)`` is what a learned codec's likelihoods predict for its coded
    latents (``y`` and, with a hyperprior, ``z``) — the rate term of the training loss
    (Ballé et al. 2017, 2018). The real ``bpp`` is higher by the entropy coder's
    overhead (rANS/range-coder tables quantised to 16 bits, the scale table's
    discretisation, stream termination) and the container header. Empty (``nan``) for
    codecs without an entropy model.
    """

    name = "bpp-estimate"
    unit = "bpp"
    higher_is_better = False
    valid_range = (0.0, math.inf)
    description = "entropy-model estimate Σ −log2 p(ŷ) / (H × W); empty for classical codecs"

    def compute(self, measurement: Measurement) -> float:
        if measurement.estimated_bits is None:
            return math.nan
        return float(measurement.estimated_bits) / measurement.pixels


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
    valid_range = (0.0, math.inf)
    allows_infinity = True
    rd_axis = True
    description = "10·log10(255²/MSE), MSE over all RGB samples, 8-bit"

    def compute(self, measurement: Measurement) -> float:
        import numpy as np

        reference, reconstruction = measurement.reference, measurement.reconstruction
        # Exact integer sum of squared errors (int32 differences, int64 sum): no float
        # rounding, and far fewer bytes touched than float64 temporaries.
        difference = reference.astype(np.int32)
        difference -= reconstruction
        np.multiply(difference, difference, out=difference)
        mse = int(difference.sum(dtype=np.int64)) / difference.size
        return psnr_from_mse(mse)


BT601_LUMA = (0.299, 0.587, 0.114)


class PSNRY(Metric):
    """PSNR of the BT.601 luma: ``Y = 0.299 R + 0.587 G + 0.114 B``.

    Full-range (JFIF) luma computed in float64 from the 8-bit RGB images, without rounding
    and without the studio-range offset (16–235), peak 255:
    ``PSNR-Y = 10 · log10(255² / mean((Y_ref − Y_rec)²))``.
    """

    name = "psnr-y"
    unit = "dB"
    higher_is_better = True
    valid_range = (0.0, math.inf)
    allows_infinity = True
    rd_axis = True
    description = "PSNR of BT.601 full-range luma 0.299R+0.587G+0.114B, float, peak 255"

    def compute(self, measurement: Measurement) -> float:
        import numpy as np

        reference, reconstruction = measurement.reference, measurement.reconstruction
        difference = (reference @ BT601_LUMA - reconstruction @ BT601_LUMA).ravel()
        return psnr_from_mse(float(np.dot(difference, difference)) / difference.size)


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """``10·log10(peak² / MSE)``; ``inf`` when ``MSE == 0`` (identical images)."""
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak**2 / mse)


@hookimpl
def register_metrics(register):
    register(BitsPerPixel())
    register(EstimatedBitsPerPixel())
    register(PSNR())
    register(PSNRY())
