"""The coding order and residual tables of the code-space predictor (Klopp et al. 2018),
numpy only: what the encoders and decoders of both frameworks compute the same way.

**Order.** The integer code ``q`` (``M × h × w``) is split into nested sub-grids
``Q_l = q[:, ::2^l, ::2^l]``, ``l = 0 … L`` (:func:`grid_shapes`). ``Q_L`` is coded
first, whole; then each finer ``Q_l`` at the positions that are not in ``Q_{l+1}``
(:func:`new_positions`: three of every 2×2), predicted from the decoded ``Q_{l+1}``. So
the decoder runs ``L`` predictor passes, one range-decoder call per level, and sees, at
each level, exactly the grid the encoder predicted from.

**Residual.** At each coded position the prediction is a mean ``μ`` and a Laplace scale
``σ`` (in ``q``'s units). The coded symbol is the residual ``r = q − round(μ)``, clipped
to ``±R``, with the probability of the discretised Laplace centred at
``δ = μ − round(μ)``::

    P(r) = F(r − δ + ½) − F(r − δ − ½),   F(x) = ½ + ½ sign(x) (1 − e^(−|x|/σ))

(the tails beyond ``±R`` folded into the end symbols). The tables are fixed: ``σ`` is
quantised to the nearest of ``K`` log-spaced scales and ``δ`` to one of ``D`` equal bins
of ``[−½, ½]`` (:meth:`ResidualTables.rows`), each row rounded to 16-bit frequencies
with :func:`~codecbench.codecs.learned.entropy.categorical_codes.frequencies`; the index
of a row is ``k·D + j``. The entropy model's estimate is ``Σ −log2 P(q)`` under the
unquantised ``μ`` and ``σ`` (:func:`estimated_bits`), the training rate term on the
decoded code.
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.models import CodeSpaceModel

MEAN_BOUND = 1e6
"""Predicted means are clipped to ±this (a finite value whatever the network gives)."""
SMALLEST_PROBABILITY = 1e-9
"""The estimate's floor per symbol (a residual far outside the predicted scale)."""


def grid_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """``(a_l, b_l)`` of ``Q_l`` for ``l = 0 … levels`` of an ``height × width`` code."""
    return [(-(-height // 2**level), -(-width // 2**level)) for level in range(levels + 1)]


def new_positions(shape: tuple[int, ...], coarsest: bool) -> np.ndarray:
    """The positions of ``Q_l`` (``shape``) coded at level ``l``: all of the coarsest
    grid, otherwise those not in ``Q_{l+1} = Q_l[::2, ::2]``."""
    mask = np.ones(shape, dtype=bool)
    if not coarsest:
        mask[::2, ::2] = False
    return mask


def laplace_cdf(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``F(x)`` of the zero-mean Laplace of ``scale`` (float64)."""
    tail = 0.5 * np.exp(-np.abs(x) / scale)
    return np.where(x < 0, tail, 1.0 - tail)


def laplace_mass(distance: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``F(d + ½) − F(d − ½)``, computed on the lower side (``d ↦ −|d|``) for accuracy."""
    d = -np.abs(np.asarray(distance, dtype=np.float64))
    scale = np.asarray(scale, dtype=np.float64)
    return laplace_cdf(d + 0.5, scale) - laplace_cdf(d - 0.5, scale)


def estimated_bits(q: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> float:
    """``Σ −log2 P(q)`` under the Laplace of ``mean`` and ``scale`` (unquantised)."""
    mass = laplace_mass(np.asarray(q, dtype=np.float64) - mean, scale)
    return float(-np.log2(np.maximum(mass, SMALLEST_PROBABILITY)).sum())


class ResidualTables:
    """The fixed residual tables of a :class:`CodeSpaceModel` and the row of each
    prediction."""

    def __init__(self, entry: CodeSpaceModel):
        self.range = entry.residual_range
        self.alphabet = 2 * entry.residual_range + 1
        low, high = entry.scale_bounds
        self.scales = np.geomspace(low, high, entry.scale_count)
        self.log_step = np.log(high / low) / (entry.scale_count - 1)
        self.offsets = entry.offset_count
        self.smallest_scale, self.largest_scale = low, high

    def clipped_scale(self, scale: np.ndarray) -> np.ndarray:
        """``σ`` within the table's bounds (float64; NaN becomes the largest)."""
        scale = np.nan_to_num(np.asarray(scale, dtype=np.float64), nan=self.largest_scale)
        return np.clip(scale, self.smallest_scale, self.largest_scale)

    def rows(self) -> np.ndarray:
        """``K·D × (2R + 1)`` probabilities of the residuals ``−R … R``."""
        residuals = np.arange(-self.range, self.range + 1, dtype=np.float64)
        centres = -0.5 + (np.arange(self.offsets) + 0.5) / self.offsets
        rows = []
        for scale in self.scales:
            for centre in centres:
                p = laplace_mass(residuals - centre, scale)
                p[0] += laplace_cdf(np.array(-self.range - 0.5 - centre), scale)
                p[-1] += laplace_cdf(np.array(-(self.range + 0.5 - centre)), scale)
                rows.append(p)
        return np.asarray(rows)

    def cumulative(self) -> np.ndarray:
        """The rows as 16-bit cumulative frequencies (the index coders' tables)."""
        return categorical_codes.cumulative(self.rows())

    def rounded_means(self, mean: np.ndarray) -> np.ndarray:
        """``round(μ)`` as int64 (μ clipped to ±:data:`MEAN_BOUND`, NaN as 0)."""
        mean = np.nan_to_num(np.asarray(mean, dtype=np.float64), nan=0.0)
        return np.rint(np.clip(mean, -MEAN_BOUND, MEAN_BOUND)).astype(np.int64)

    def indexes(self, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """The table row ``k·D + j`` of each prediction (int64)."""
        mean = np.clip(np.nan_to_num(np.asarray(mean, dtype=np.float64), nan=0.0),
                       -MEAN_BOUND, MEAN_BOUND)
        offset = mean - np.rint(mean)
        j = np.clip(np.floor((offset + 0.5) * self.offsets), 0, self.offsets - 1)
        k = np.rint(np.log(self.clipped_scale(scale) / self.smallest_scale) / self.log_step)
        k = np.clip(k, 0, len(self.scales) - 1)
        return (k * self.offsets + j).astype(np.int64)

    def symbols(self, q: np.ndarray, rounded_mean: np.ndarray) -> np.ndarray:
        """The coded symbols ``clip(q − round(μ), −R, R) + R``."""
        return np.clip(q - rounded_mean, -self.range, self.range) + self.range
