"""What the tiled codec entropy codes, and with which table rows (numpy only).

A file holds the per-tile iteration counts and, for each iteration ``t`` up to the rate
point's cap, the bits of the tiles that take more than ``t`` iterations:

* **counts** ``k(i, j) ∈ {0 … T}``: categorical symbols
  (:mod:`codecbench.codecs.learned.entropy.categorical_codes`), one distribution per
  rate point, ``P[q, k]`` counted on training crops;
* **bits** of iteration ``t`` on the image-wide grid ``C × rows·S/8 × columns·S/8``: the
  binary context model of :mod:`codecbench.codecs.learned.entropy.binary_codes`
  (``P[t, c, s]``, ``s`` read off iteration ``t − 1``'s bits at the position and its 8
  neighbours, 0 where a tile has none), restricted to the positions of the tiles with
  ``k > t``. Both sides know the counts before the bits, so each iteration's symbols and
  contexts are known before it is decoded.
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.tiled.tiles import Grid


def coded_positions(counts: np.ndarray, grid: Grid, channels: int, iteration: int) -> np.ndarray:
    """The positions of the code grid that iteration ``iteration`` (0-based) codes."""
    cells = grid.cells
    tiles = np.repeat(np.repeat(counts > iteration, cells, axis=0), cells, axis=1)
    return np.broadcast_to(tiles, grid.code_shape(channels))


def bit_indexes(previous: np.ndarray | None, iteration: int, shape) -> np.ndarray:
    """Context-table rows of every position of iteration ``iteration``'s grid."""
    return binary_codes.context_indexes(iteration, binary_codes.context_states(previous, shape))


def iteration_symbols(counts: np.ndarray, bits: np.ndarray, grid: Grid):
    """``(positions, bits, rows)`` of every iteration of ``bits`` (``T × C × h × w``)."""
    channels = bits.shape[1]
    previous = None
    for t in range(len(bits)):
        where = coded_positions(counts, grid, channels, t)
        yield where, bits[t][where], bit_indexes(previous, t, bits.shape[1:])[where]
        previous = bits[t]


def count_symbols(counts: np.ndarray) -> np.ndarray:
    """The counts as the symbols of their string, in raster order."""
    return counts.ravel().astype(np.int64)


def counts_of(symbols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`count_symbols`."""
    return symbols.reshape(shape)


def count_indexes(symbols: np.ndarray, quality: int) -> np.ndarray:
    """The count table's row (the rate point) of every count symbol."""
    return np.full(symbols.shape, quality - 1, dtype=np.int64)


def estimated_bits(counts: np.ndarray, bits: np.ndarray, grid: Grid, quality: int,
                   bit_table: np.ndarray, count_table: np.ndarray) -> float:
    """``Σ −log2 p`` of the counts and of every coded bit."""
    table = np.asarray(count_table, np.float64)[quality - 1]
    total = -np.log2(table[count_symbols(counts)]).sum()
    p_one = np.asarray(bit_table, np.float64).ravel()
    for _, symbols, rows in iteration_symbols(counts, bits, grid):
        p = p_one[rows]
        total -= np.where(symbols == 1, np.log2(p), np.log2(1 - p)).sum()
    return float(total)


def add_bit_counts(table: binary_codes.ContextCounts, counts: np.ndarray, bits: np.ndarray,
                   grid: Grid) -> None:
    """Count the coded bits of one image into ``table``."""
    for _, symbols, rows in iteration_symbols(counts, bits, grid):
        np.add.at(table.counts, (rows, symbols.astype(np.int64)), 1)
