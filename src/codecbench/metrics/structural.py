"""SSIM and MS-SSIM (Wang et al. 2003, 2004), vectorised numpy.

Conventions, shared by ``ssim``, ``ms-ssim`` and ``ms-ssim-db``:

* Inputs are the 8-bit RGB reference and reconstruction; data range ``L = 255``.
* Window: 11×11 Gaussian, σ = 1.5, normalised to sum 1, applied separably and only where
  it fits entirely inside the image ("valid" filtering, as in Wang's reference MATLAB code,
  ``tf.image.ssim`` and ``pytorch_msssim``): no padding enters the statistics.
* ``C1 = (K1·L)²``, ``C2 = (K2·L)²`` with ``K1 = 0.01``, ``K2 = 0.03``. Local statistics
  use the population (biased) variance ``σ² = E[x²] − μ²``.
* ``SSIM(x, y) = mean over the map of l·cs`` with
  ``l = (2μxμy + C1)/(μx² + μy² + C1)`` and ``cs = (2σxy + C2)/(σx² + σy² + C2)``,
  computed **per channel, then averaged over R, G, B**.
* MS-SSIM (Wang, Simoncelli & Bovik 2003): five scales, weights
  ``β = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``;
  ``MS-SSIM = Π_{j=1..4} cs_j^β_j · SSIM_5^β_5`` per channel, then averaged over channels.
  ``cs_j`` and ``SSIM_5`` are clamped at 0 first (as ``tf.image.ssim_multiscale`` and
  ``pytorch_msssim`` do) so the powers are defined.
* Downsampling between scales follows Wang's MATLAB code and ``tf.image.ssim_multiscale``:
  an odd dimension is extended by repeating its last row/column (symmetric padding at the
  end), then 2×2 blocks are averaged, so a side of ``n`` becomes ``ceil(n/2)``.
  ``pytorch_msssim`` instead zero-pads odd sides on both ends (``avg_pool2d`` with
  ``count_include_pad``): the two agree exactly when every scale has even sides (sides
  divisible by 16) and differ slightly at the borders otherwise (tests bound it).
* Five scales need the coarsest scale to hold one window: ``ceil(n/16) ≥ 11``, i.e. the
  shorter side must be at least **161 px**. Smaller images raise :class:`ImageTooSmallError`
  naming the size; there is no silent fallback to fewer scales.
* ``ms-ssim-db = −10·log10(1 − MS-SSIM)`` (``inf`` for identical images), the
  logarithmic form used in learned-compression papers.

Numerics: filtering runs in float32 on channels shifted by the reference channel's mean
(variance and covariance are shift-invariant), which keeps ``E[x²] − μ²`` well conditioned;
tests check the results against float64 references to 1e-5. Speed: the separable filter
uses the window's symmetry, and images of 256×256 px or more are split into row bands
computed on up to 4 threads (numpy releases the GIL), as torch does with its thread pool.
"""

from __future__ import annotations

import functools
import math
import os
from typing import TYPE_CHECKING

from codecbench.api.hookspecs import hookimpl
from codecbench.api.metric import Measurement, Metric

if TYPE_CHECKING:
    import numpy as np

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2 = 0.01, 0.03
DATA_RANGE = 255.0
C1 = (K1 * DATA_RANGE) ** 2
C2 = (K2 * DATA_RANGE) ** 2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = (WINDOW_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1  # 161


class ImageTooSmallError(ValueError):
    """The image is smaller than the metric's window (or its five MS-SSIM scales)."""


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """The 1-D normalised Gaussian; the 2-D window is its outer product."""
    import numpy as np

    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    window = np.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


@functools.cache
def _window32() -> np.ndarray:
    """The float32 window the filter multiplies by (computed once)."""
    import numpy as np

    return gaussian_window().astype(np.float32)


_HALF = WINDOW_SIZE // 2


def _filter_axis(data: np.ndarray, axis: int) -> np.ndarray:
    """Valid 1-D Gaussian filtering along ``axis``, using the window's symmetry
    (``w[k] = w[10−k]``: six multiplies per output sample instead of eleven)."""
    length = data.shape[axis] - WINDOW_SIZE + 1

    def tap(k):
        index = [slice(None)] * data.ndim
        index[axis] = slice(k, k + length)
        return data[tuple(index)]

    window = _window32()
    out = window[_HALF] * tap(_HALF)
    for k in range(_HALF):
        pair = tap(k) + tap(WINDOW_SIZE - 1 - k)
        pair *= window[k]
        out += pair
    return out


def _filter_valid(stack: np.ndarray) -> np.ndarray:
    """Separable Gaussian filtering of ``stack[..., H, W]``, valid region only."""
    return _filter_axis(_filter_axis(stack, stack.ndim - 2), stack.ndim - 1)


def _band_sums(xs: np.ndarray, ys: np.ndarray, shift: np.ndarray, rows: slice):
    """Sums of the SSIM and cs maps over output rows ``rows`` (input rows + window)."""
    import numpy as np

    band = slice(rows.start, rows.stop + WINDOW_SIZE - 1)
    x, y = xs[:, band], ys[:, band]
    maps = np.empty((5, *x.shape), dtype=np.float32)
    maps[0], maps[1] = x, y
    np.multiply(x, x, out=maps[2])
    np.multiply(y, y, out=maps[3])
    np.multiply(x, y, out=maps[4])
    mu_x, mu_y, xx, yy, xy = _filter_valid(maps)
    # σx² + σy² + C2 and 2σxy + C2, computed in place
    xx += yy
    xx -= mu_x * mu_x
    xx -= mu_y * mu_y
    xx += C2
    xy -= mu_x * mu_y
    xy *= 2
    xy += C2
    cs_map = np.divide(xy, xx, out=xy)
    mu_x += shift
    mu_y += shift
    numerator = mu_x * mu_y
    numerator *= 2
    numerator += C1
    mu_x *= mu_x
    mu_y *= mu_y
    mu_x += mu_y
    mu_x += C1
    luminance = np.divide(numerator, mu_x, out=numerator)
    cs_sum = cs_map.sum(axis=(-2, -1), dtype=np.float64)
    luminance *= cs_map
    return luminance.sum(axis=(-2, -1), dtype=np.float64), cs_sum


_POOL: list = []
_PARALLEL_MIN_PIXELS = 256 * 256


def _thread_pool():
    """Threads for row bands (numpy releases the GIL in its loops); at most 4."""
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)))
    return _POOL[0]


def _ssim_and_cs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean SSIM and mean contrast-structure term of ``(C, H, W)`` float arrays.

    The valid output rows are split into bands computed on threads; the map means are the
    sums over bands divided by the map size, so the split does not change the result
    beyond float summation order.
    """
    import numpy as np

    if min(x.shape[-2:]) < WINDOW_SIZE:
        raise ImageTooSmallError(
            f"SSIM needs at least {WINDOW_SIZE}×{WINDOW_SIZE} pixels, got {x.shape[-1]}×{x.shape[-2]}"
        )
    # An integer shift keeps x − shift exact in float32 (inputs are multiples of 1/4^scale).
    shift = np.rint(x.mean(axis=(-2, -1), keepdims=True, dtype=np.float64)).astype(np.float32)
    xs = x - shift
    ys = y - shift
    shift32 = shift
    out_rows = x.shape[-2] - WINDOW_SIZE + 1
    out_size = out_rows * (x.shape[-1] - WINDOW_SIZE + 1)
    workers = min(4, os.cpu_count() or 1) if x.shape[-2] * x.shape[-1] >= _PARALLEL_MIN_PIXELS else 1
    bounds = np.linspace(0, out_rows, workers + 1).astype(int)
    bands = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    if len(bands) == 1:
        parts = [_band_sums(xs, ys, shift32, bands[0])]
    else:
        parts = list(_thread_pool().map(lambda rows: _band_sums(xs, ys, shift32, rows), bands))
    ssim = sum(p[0] for p in parts) / out_size
    cs = sum(p[1] for p in parts) / out_size
    return ssim, cs


def _channels_first(image: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` float32: exact for 8-bit samples and their 2×2 averages down five scales."""
    import numpy as np

    return np.ascontiguousarray(np.moveaxis(image, -1, 0), dtype=np.float32)


def _downsample(image: np.ndarray) -> np.ndarray:
    """Halve ``(C, H, W)``: repeat the last row/column of odd sides, average 2×2 blocks."""
    import numpy as np

    height, width = image.shape[-2:]
    if height % 2 or width % 2:
        image = np.pad(image, ((0, 0), (0, height % 2), (0, width % 2)), mode="edge")
    return 0.25 * (image[:, 0::2, 0::2] + image[:, 1::2, 0::2] + image[:, 0::2, 1::2]
                   + image[:, 1::2, 1::2])


class _LastPair:
    """Values computed for the most recent (reference, reconstruction) pair of objects.

    ``ms-ssim``, ``ms-ssim-db`` and ``ssim`` of one task share the work: MS-SSIM's first
    scale is exactly the SSIM computation. The cache holds the array objects themselves, so
    the identity check cannot be fooled by a reused ``id``.
    """

    reference = None
    reconstruction = None
    values: dict[str, float] = {}

    @classmethod
    def get(cls, reference, reconstruction, key):
        if cls.reference is reference and cls.reconstruction is reconstruction:
            return cls.values.get(key)
        return None

    @classmethod
    def put(cls, reference, reconstruction, **values):
        if not (cls.reference is reference and cls.reconstruction is reconstruction):
            cls.reference, cls.reconstruction, cls.values = reference, reconstruction, {}
        cls.values.update(values)


def ssim(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean SSIM over R, G, B of two ``H×W×3`` uint8 images (conventions: module docstring)."""
    cached = _LastPair.get(reference, reconstruction, "ssim")
    if cached is not None:
        return cached
    values, _ = _ssim_and_cs(_channels_first(reference), _channels_first(reconstruction))
    value = min(float(values.mean()), 1.0)  # float32 rounding can exceed the bound
    _LastPair.put(reference, reconstruction, ssim=value)
    return value


def ms_ssim(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Five-scale MS-SSIM averaged over R, G, B (conventions: module docstring)."""
    cached = _LastPair.get(reference, reconstruction, "ms-ssim")
    if cached is not None:
        return cached
    value, first_scale_ssim = _ms_ssim(reference, reconstruction)
    # SSIM ≤ 1 and MS-SSIM ≤ 1 by definition; float32 rounding can exceed that on
    # identical images
    value, first_scale_ssim = min(value, 1.0), min(first_scale_ssim, 1.0)
    _LastPair.put(reference, reconstruction, ssim=first_scale_ssim, **{"ms-ssim": value})
    return value


def _ms_ssim(reference: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float]:
    """``(MS-SSIM, SSIM at full scale)``, uncached."""
    import numpy as np

    height, width = reference.shape[:2]
    if min(height, width) < MS_SSIM_MIN_SIDE:
        raise ImageTooSmallError(
            f"MS-SSIM with {len(MS_SSIM_WEIGHTS)} scales needs the shorter side to be at least "
            f"{MS_SSIM_MIN_SIDE} px (an {WINDOW_SIZE}-tap window at the coarsest scale); "
            f"got {width}×{height}"
        )
    x, y = _channels_first(reference), _channels_first(reconstruction)
    product = np.ones(x.shape[0])
    last = len(MS_SSIM_WEIGHTS) - 1
    for scale, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim_c, cs_c = _ssim_and_cs(x, y)
        if scale == 0:
            first_scale_ssim = float(ssim_c.mean())
        term = ssim_c if scale == last else cs_c
        product *= np.maximum(term, 0.0) ** weight
        if scale != last:
            x, y = _downsample(x), _downsample(y)
    return float(product.mean()), first_scale_ssim


def to_decibels(similarity: float) -> float:
    """``−10·log10(1 − s)``; ``inf`` when ``s == 1``."""
    if similarity >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - similarity)


class SSIM(Metric):
    """Structural similarity (Wang et al. 2004), mean over R, G, B; see module docstring."""

    name = "ssim"
    unit = ""
    higher_is_better = True
    valid_range = (-1.0, 1.0)
    description = "SSIM, 11x11 Gaussian σ=1.5, K1=0.01, K2=0.03, per RGB channel then mean"

    def compute(self, measurement: Measurement) -> float:
        return ssim(measurement.reference, measurement.reconstruction)


class MSSSIM(Metric):
    """Multi-scale SSIM (Wang et al. 2003), 5 scales; see module docstring."""

    name = "ms-ssim"
    unit = ""
    higher_is_better = True
    valid_range = (0.0, 1.0)
    description = "MS-SSIM, 5 scales (0.0448,0.2856,0.3001,0.2363,0.1333), per RGB channel then mean"

    def compute(self, measurement: Measurement) -> float:
        return ms_ssim(measurement.reference, measurement.reconstruction)


class MSSSIMDecibels(Metric):
    """MS-SSIM on a log scale: ``−10·log10(1 − MS-SSIM)``.

    Derived from ``ms-ssim``: when that metric ran on the same image its value is reused
    (:attr:`Measurement.values`), otherwise MS-SSIM is computed here.
    """

    name = "ms-ssim-db"
    unit = "dB"
    higher_is_better = True
    valid_range = (0.0, math.inf)
    allows_infinity = True
    rd_axis = True
    derived_from = "ms-ssim"
    description = "-10·log10(1 - MS-SSIM)"

    def compute(self, measurement: Measurement) -> float:
        base = measurement.values.get("ms-ssim")
        if base is None or math.isnan(base):
            base = ms_ssim(measurement.reference, measurement.reconstruction)
        return to_decibels(base)


@hookimpl
def register_metrics(register):
    register(SSIM())
    register(MSSSIM())
    register(MSSSIMDecibels())
