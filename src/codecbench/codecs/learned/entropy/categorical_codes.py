"""Probability tables for quantised symbols with a finite alphabet (numpy only).

Agustsson et al. (2019) quantise the bottleneck to ``L`` centres; the paper bounds the
rate by ``C·log2(L)`` bits per latent position. We code the symbols instead: each
channel ``c`` has a categorical distribution ``P[c, ℓ]`` over the ``L`` centres, counted
on the training crops when a model is exported, with the Krichevsky–Trofimov estimate
``P = (n_ℓ + ½) / (n + L/2)``; a library range coder (CompressAI's rANS in PyTorch,
tensorflow-compression's in TensorFlow) codes each symbol with the integer frequencies
of :func:`frequencies` (every symbol ≥ 1 of 2¹⁶), identical in both frameworks. The
entropy model's estimate is ``Σ −log2 P[c, s]``.
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.entropy.index_coder import PRECISION


class SymbolCounts:
    """Counts of each symbol per channel over training images."""

    def __init__(self, channels: int, alphabet: int):
        self.counts = np.zeros((channels, alphabet), dtype=np.int64)

    def add(self, symbols: np.ndarray) -> None:
        """Count one image's ``C×h×w`` symbols (integers in ``[0, L)``)."""
        channels, alphabet = self.counts.shape
        flat = symbols.reshape(channels, -1)
        for channel in range(channels):
            self.counts[channel] += np.bincount(flat[channel], minlength=alphabet)[:alphabet]

    def probabilities(self) -> np.ndarray:
        """``P[c, ℓ] = (n_ℓ + ½) / (n + L/2)`` as float32 (channels × L)."""
        alphabet = self.counts.shape[1]
        totals = self.counts.sum(axis=1, keepdims=True)
        return ((self.counts + 0.5) / (totals + alphabet / 2)).astype(np.float32)


def frequencies(probabilities: np.ndarray) -> np.ndarray:
    """Integer frequencies per channel summing to 2¹⁶, each at least 1.

    Rounded ``P·2¹⁶`` floored at 1; the rounding remainder goes to (or comes from) the
    most probable symbol, which keeps every row's sum exact.
    """
    scale = 1 << PRECISION
    p = np.asarray(probabilities, dtype=np.float64)
    freq = np.maximum(np.round(p * scale), 1).astype(np.int64)
    rows = np.arange(len(freq))
    freq[rows, np.argmax(freq, axis=1)] += scale - freq.sum(axis=1)
    if (freq < 1).any():
        raise ValueError("alphabet too large for the coder's 16-bit precision")
    return freq


def cumulative(probabilities: np.ndarray) -> np.ndarray:
    """``[0, f₀, f₀ + f₁, …, 2¹⁶]`` per channel (channels × (L + 1))."""
    freq = frequencies(probabilities)
    return np.concatenate([np.zeros((len(freq), 1), np.int64), np.cumsum(freq, axis=1)], 1)


def channel_indexes(shape: tuple[int, ...]) -> np.ndarray:
    """The channel (= table row) of every symbol of a ``C×h×w`` array."""
    return np.broadcast_to(np.arange(shape[0])[:, None, None], shape)


def estimated_bits(symbols: np.ndarray, probabilities: np.ndarray) -> float:
    """``Σ −log2 P[c, s]`` of ``C×h×w`` symbols."""
    p = np.asarray(probabilities, dtype=np.float64)
    return float(-np.log2(p[channel_indexes(symbols.shape), symbols]).sum())
