"""Bitplane decomposition of quantised codes (WaveOne, Rippel & Bourdev 2017), numpy.

A code ``y ∈ [0, 1)`` is quantised to ``B`` bits, ``q = min(⌊2^B · y⌋, 2^B − 1)``, and
split into ``B`` binary planes, most significant first:
``plane_t = (q >> (B − 1 − t)) & 1``. Keeping the first ``k`` planes leaves
``q_k = q >> (B − k)``, decoded to the middle of its interval::

    ŷ_k = (q_k + ½) · 2^(B − k) / 2^B

so ``k = B`` is uniform quantisation to ``B`` bits and each dropped plane doubles the
step. The torch network applies the same formula to tensors in training.
"""

from __future__ import annotations

import numpy as np


def quantise(y: np.ndarray, bits: int) -> np.ndarray:
    """``q = min(⌊2^B · y⌋, 2^B − 1)`` as int64."""
    return np.clip(np.floor(np.asarray(y) * 2**bits), 0, 2**bits - 1).astype(np.int64)


def to_planes(q: np.ndarray, bits: int) -> np.ndarray:
    """``B × shape`` uint8 planes of ``q``, most significant first."""
    return np.stack([(q >> (bits - 1 - t)) & 1 for t in range(bits)]).astype(np.uint8)


def from_planes(planes: np.ndarray, bits: int) -> np.ndarray:
    """``ŷ_k`` of the first ``k = len(planes)`` planes (float32)."""
    kept = len(planes)
    coarse = np.zeros(planes.shape[1:], dtype=np.int64)
    for plane in planes:
        coarse = (coarse << 1) | plane.astype(np.int64)
    return ((coarse + 0.5) * 2.0 ** (bits - kept) / 2**bits).astype(np.float32)
