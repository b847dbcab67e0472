"""The binary codes of the recurrent codecs: context model and raw packing (numpy only).

Iteration ``t`` of a recurrent codec emits a ``C×h×w`` array of bits (one ``C``-bit code
per 16×16 block). Toderici et al. (2017, §3) entropy code them with a learned binary
context model; ours conditions each bit on what the decoder already has when it decodes
iteration ``t`` — the bits of iteration ``t − 1`` in the same channel::

    s = 0                                   for t = 1
    s = 1 + 9·b_{t−1}(i, j) + Σ_{3×3 ∖ centre} b_{t−1}            for t > 1   (s ∈ 1…18)
    p(b_t(c, i, j) = 1) = P[t, c, s]

so a whole iteration's contexts are known before it is decoded (one range-coder call per
iteration, no serial pixel loop). ``P`` (iterations × channels × 19) is learned when a
model is exported: counts of each context's bits over the training crops, with the
Krichevsky–Trofimov estimate ``P = (n₁ + ½) / (n + 1)``. The range coder itself is a
library's (CompressAI's rANS for torch, tensorflow-compression's range coder for TF);
both use the same integer split of 2¹⁶ computed here, so they code with identical
probabilities. The entropy model's estimate is ``Σ −log2 p(b)`` under ``P``.

Toderici 2016 stores the bits raw (``np.packbits``): exactly ``C/256`` bpp per iteration.
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.container import ContainerError
from codecbench.codecs.learned.entropy.index_coder import PRECISION

CONTEXT_STATES = 19
"""State 0 (first iteration) and 1 + 9·centre + neighbours (centre ∈ {0, 1}, 0–8 neighbours)."""


def to_bits(codes: np.ndarray) -> np.ndarray:
    """±1 codes → uint8 bits (1 where the code is +1)."""
    return (np.asarray(codes) > 0).astype(np.uint8)


def context_states(previous: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """The context state of every bit of an iteration from the previous iteration's bits.

    ``previous`` is the ``C×h×w`` bits of iteration ``t − 1`` (``None`` for ``t = 1``);
    the result has ``shape`` (``C×h×w``), dtype int64.
    """
    if previous is None:
        return np.zeros(shape, dtype=np.int64)
    bits = previous.astype(np.int64)
    padded = np.pad(bits, ((0, 0), (1, 1), (1, 1)))
    height, width = bits.shape[1:]
    box = sum(padded[:, di:di + height, dj:dj + width] for di in range(3) for dj in range(3))
    return 1 + 9 * bits + (box - bits)


def context_indexes(iteration: int, states: np.ndarray) -> np.ndarray:
    """Flat indexes into a ``P`` table (``iteration`` 0-based) of ``C×h×w`` states."""
    channels = states.shape[0]
    channel = np.arange(channels, dtype=np.int64)[:, None, None]
    return (iteration * channels + channel) * CONTEXT_STATES + states


def iteration_indexes(bits: np.ndarray) -> np.ndarray:
    """Flat table indexes of every bit of ``bits`` (``T×C×h×w``), iteration by iteration."""
    indexes = np.empty(bits.shape, dtype=np.int64)
    previous = None
    for t in range(bits.shape[0]):
        indexes[t] = context_indexes(t, context_states(previous, bits.shape[1:]))
        previous = bits[t]
    return indexes


class ContextCounts:
    """Counts of zeros and ones per context, accumulated over training images."""

    def __init__(self, iterations: int, channels: int):
        self.counts = np.zeros((iterations * channels * CONTEXT_STATES, 2), dtype=np.int64)
        self.shape = (iterations, channels, CONTEXT_STATES)

    def add(self, bits: np.ndarray) -> None:
        """Count the bits of one image, ``T×C×h×w`` (T up to the table's iterations)."""
        indexes = iteration_indexes(bits).ravel()
        np.add.at(self.counts, (indexes, bits.ravel().astype(np.int64)), 1)

    def probabilities(self) -> np.ndarray:
        """``P[t, c, s] = (n₁ + ½) / (n + 1)`` as float32, shape iterations × channels × 19."""
        ones = self.counts[:, 1]
        total = self.counts.sum(axis=1)
        return ((ones + 0.5) / (total + 1.0)).astype(np.float32).reshape(self.shape)


def zero_frequencies(probabilities: np.ndarray) -> np.ndarray:
    """The coder's share of ``b = 0`` per context: ``round((1 − P)·2¹⁶)`` in ``[1, 2¹⁶ − 1]``."""
    scale = 1 << PRECISION
    flat = np.asarray(probabilities, dtype=np.float64).ravel()
    return np.clip(np.round((1.0 - flat) * scale), 1, scale - 1).astype(np.int64)


def estimated_bits(bits: np.ndarray, probabilities: np.ndarray) -> float:
    """``Σ −log2 p(b)`` of ``bits`` (``T×C×h×w``) under the table (the bpp estimate)."""
    p_one = np.asarray(probabilities, dtype=np.float64).ravel()[iteration_indexes(bits)]
    return float(-np.where(bits == 1, np.log2(p_one), np.log2(1.0 - p_one)).sum())


def pack(bits: np.ndarray) -> bytes:
    """Raw bits, 8 per byte (Toderici 2016: no entropy coding)."""
    return np.packbits(bits.ravel()).tobytes()


def unpack(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`pack` for bits of ``shape``; refuses a wrong length."""
    count = int(np.prod(shape))
    if len(data) != (count + 7) // 8:
        raise ContainerError(f"raw code of {len(data)} bytes does not hold {count} bits: "
                             f"expected {(count + 7) // 8} bytes")
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=count).reshape(shape)
