"""Stop maps of the spatially adaptive recurrent codecs: per-block quality and coding.

Johnston et al. 2018 ("Improved lossy image compression with priming and spatially
adaptive bit rates for recurrent networks", §3.3) stop coding a region once its
reconstruction reaches a target quality. Here a code position ``(i, j)`` (one 16×16
pixel block of the padded image) stops after iteration ``t`` once every ``b × b`` pixel
block of the image inside it has::

    PSNR_block = 10·log10(255² / MSE_block) ≥ target      (MSE over the block's pixels and RGB)

i.e. ``max MSE_block ≤ 255² · 10^(−target/10)`` over its ``(16/b)²`` blocks. The stop map
``k(i, j) ∈ 1…T`` is the number of iterations coded at each position; every position is
coded at least once.

The stop map is coded as categorical symbols ``k − 1`` with the image's own histogram
(``entropy/categorical_codes.py``: Krichevsky–Trofimov free, the frequencies of
:func:`~codecbench.codecs.learned.entropy.categorical_codes.frequencies` of the counts)
through the framework's index coder; its string is the ``T`` counts ``n_v`` (LEB128
varints) followed by the coder's string. The decoder refuses counts that do not sum to the
number of positions and a decoded map whose histogram is not the counts. Cost:
``Σ −log2(n_k / N)`` bits plus the counts' bytes; a map of one value is its counts alone
(no coder string: it carries no information, and CompressAI's rANS encoder cannot code
a single symbol).

Framework-free (numpy only).
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.container import ContainerError
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.entropy.index_coder import IndexCoder
from codecbench.codecs.learned.recurrent.tiling import CODE_STRIDE, Tiling

VARINT_BYTES = 5
"""The most bytes one count may take (LEB128 of a value below 2³⁵)."""


def target_mse(target_db: float) -> float:
    """The per-block MSE (8-bit pixel units) a PSNR target in dB allows."""
    return 255.0**2 / 10.0 ** (target_db / 10.0)


def block_mse(original: np.ndarray, decoded: np.ndarray, tiling: Tiling, block: int) -> np.ndarray:
    """``h×w``: the largest MSE of the ``block × block`` pixel blocks of each code position,
    over the image's own pixels (padding excluded; a block of padding only counts as 0)."""
    if CODE_STRIDE % block:
        raise ValueError(f"quality blocks of {block} px do not tile {CODE_STRIDE}-px codes")
    height, width = tiling.padded
    error = np.zeros((height, width), dtype=np.float64)
    count = np.zeros((height, width), dtype=np.float64)
    difference = original.astype(np.float64) - decoded.astype(np.float64)
    error[:tiling.height, :tiling.width] = (difference**2).sum(axis=2)
    count[:tiling.height, :tiling.width] = 3.0
    rows, cols = height // block, width // block
    sums = error.reshape(rows, block, cols, block).sum(axis=(1, 3))
    counts = count.reshape(rows, block, cols, block).sum(axis=(1, 3))
    mse = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    per = CODE_STRIDE // block
    grid_rows, grid_cols = tiling.code_grid
    return mse.reshape(grid_rows, per, grid_cols, per).max(axis=(1, 3))


def gain_db(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The PSNR gain ``10·log10(MSE_before / MSE_after)`` of each block (dB; blocks already
    without error gain nothing)."""
    floor = 1e-12
    return 10.0 * np.log10(np.maximum(before, floor) / np.maximum(after, floor))


# --- the counts ----------------------------------------------------------------------------

def _varints(values: np.ndarray) -> bytes:
    out = bytearray()
    for value in map(int, values):
        while True:
            low = value & 0x7F
            value >>= 7
            out.append(low | (0x80 if value else 0))
            if not value:
                break
    return bytes(out)


def _read_varints(data: bytes, count: int) -> tuple[list[int], int]:
    """``count`` LEB128 values from the start of ``data`` and the bytes they took."""
    values, at = [], 0
    for index in range(count):
        value = shift = 0
        for _ in range(VARINT_BYTES):
            if at >= len(data):
                raise ContainerError(f"stop map is truncated: count {index + 1} of {count} "
                                     "runs past its string")
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        else:
            raise ContainerError(f"stop map count {index + 1} is longer than "
                                 f"{VARINT_BYTES} bytes")
        values.append(value)
    return values, at


def _tables(counts: np.ndarray, coder: IndexCoder):
    probabilities = counts.astype(np.float64)[None] / max(int(counts.sum()), 1)
    return coder.tables(categorical_codes.cumulative(probabilities))


# --- coding ------------------------------------------------------------------------------

def encode(stops: np.ndarray, iterations: int, coder: IndexCoder) -> tuple[bytes, float]:
    """``(string, estimated bits)`` of an ``h×w`` stop map with values in ``1…iterations``."""
    symbols = np.asarray(stops, dtype=np.int64) - 1
    if symbols.min() < 0 or symbols.max() >= iterations:
        raise ValueError(f"stop map values must lie in 1…{iterations}")
    counts = np.bincount(symbols.ravel(), minlength=iterations)
    header = _varints(counts)
    if np.count_nonzero(counts) == 1:  # the counts are the map
        return header, 8.0 * len(header)
    string = coder.encode(symbols, np.zeros_like(symbols), _tables(counts, coder))
    probabilities = counts[symbols] / symbols.size
    return header + string, float(-np.log2(probabilities).sum()) + 8 * len(header)


def decode(string: bytes, shape: tuple[int, int], iterations: int, coded: int,
           coder: IndexCoder) -> np.ndarray:
    """The ``h×w`` stop map of a file holding ``coded`` iteration latents; refuses counts
    that do not add up to ``h·w``, whose last used value is not ``coded``, or that the
    decoded map does not match."""
    positions = shape[0] * shape[1]
    counts, used = _read_varints(string, iterations)
    if sum(counts) != positions:
        raise ContainerError(f"stop map counts add up to {sum(counts)}, expected {positions} "
                             f"positions ({shape[1]}×{shape[0]} codes)")
    highest = max(value for value, count in enumerate(counts, 1) if count)
    if highest != coded:
        raise ContainerError(f"stop map reaches iteration {highest} but the file holds "
                             f"{coded} iterations")
    counts_array = np.asarray(counts, dtype=np.int64)
    if np.count_nonzero(counts_array) == 1:
        if used != len(string):
            raise ContainerError(f"stop map of one value ({highest}) has "
                                 f"{len(string) - used} bytes after its counts")
        return np.full(shape, highest, dtype=np.int64)
    symbols = coder.decode(string[used:], np.zeros(shape, dtype=np.int64),
                           _tables(counts_array, coder), iterations, "stop map")
    if not np.array_equal(np.bincount(symbols.ravel(), minlength=iterations), counts_array):
        raise ContainerError("corrupt stop map: the decoded map does not match its counts")
    return symbols + 1
