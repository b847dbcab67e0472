"""Tiles, their contexts and the target-quality allocation of the tiled codec (numpy only).

Minnen et al. 2017 code an image as ``S×S`` tiles in raster order. Tile ``(i, j)`` is
predicted from the *decoded* tiles left, above-left, above and above-right of it
(:func:`contexts`: a ``2S × 3S`` canvas, a missing neighbour zero and marked missing in
the fourth channel), so the decoder must follow the same order. A tile depends only on
tiles of smaller ``2i + j``, so the tiles of one *wavefront* ``2i + j = w``
(:func:`wavefronts`) are independent and run as one batch, in both encoder and decoder,
with the same batch composition (a decoder therefore reproduces the encoder's floats).

Per tile, with prediction ``p`` and the coder's iteration ``t`` (0-based)::

    x̂_0 = p,   b_t = E_t(x − x̂_t),   x̂_{t+1} = x̂_t + D_t(b_t)
    k = min { k ≤ cap : PSNR(Q(x̂_k), x) ≥ target }   (k = cap when none reaches it)

``Q`` rounds to 8-bit levels; PSNR counts the tile's pixels inside the image only. The
decoded tile ``Q(x̂_k)`` is what later tiles see as context. :func:`encode_tiles` and
:func:`decode_tiles` take a :class:`TileCoder` — the framework's three networks on NHWC
numpy arrays — and return the per-tile counts, the code bits and the decoded image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from codecbench.codecs.learned.tiled.layers import CODE_STRIDE, CONTEXT_CHANNELS

NEIGHBOURS = ((-1, -1, 0, 0), (-1, 0, 0, 1), (-1, 1, 0, 2), (0, -1, 1, 0))
"""``(di, dj, row, column)``: each neighbour's offset and its place in the context
(in tiles): above-left, above, above-right on top, left below."""


class TileCoder(Protocol):
    """A framework's networks on NHWC float32 arrays (``S`` the tile side, ``C`` bits)."""

    def predict(self, contexts: np.ndarray) -> np.ndarray:
        """``N×S×S×3`` predictions (image scale) of ``N×2S×3S×4`` contexts."""
        ...

    def encode(self, residuals: np.ndarray, iteration: int) -> np.ndarray:
        """``N×S/8×S/8×C`` bits (uint8, 1 for a +1 code) of ``N×S×S×3`` residuals."""
        ...

    def decode(self, bits: np.ndarray, iteration: int) -> np.ndarray:
        """``N×S×S×3`` residual estimates of ``N×S/8×S/8×C`` bits."""
        ...


@dataclass(frozen=True)
class Grid:
    """The tiles of an image: ``rows × columns`` tiles of side ``tile`` covering
    ``height × width`` pixels (the image is edge-padded to whole tiles)."""

    height: int
    width: int
    tile: int

    @property
    def rows(self) -> int:
        return -(-self.height // self.tile)

    @property
    def columns(self) -> int:
        return -(-self.width // self.tile)

    @property
    def cells(self) -> int:
        """Code positions per tile side."""
        return self.tile // CODE_STRIDE

    def code_shape(self, channels: int) -> tuple[int, int, int]:
        """``C × rows·S/8 × columns·S/8``: one iteration's bits over the whole image."""
        return channels, self.rows * self.cells, self.columns * self.cells

    def pixels(self, i: int, j: int) -> tuple[slice, slice]:
        s = self.tile
        return slice(i * s, (i + 1) * s), slice(j * s, (j + 1) * s)

    def codes(self, i: int, j: int) -> tuple[slice, slice]:
        c = self.cells
        return slice(i * c, (i + 1) * c), slice(j * c, (j + 1) * c)

    def valid(self, i: int, j: int) -> tuple[int, int]:
        """Rows and columns of tile ``(i, j)`` inside the image."""
        s = self.tile
        return min(s, self.height - i * s), min(s, self.width - j * s)


def wavefronts(rows: int, columns: int) -> list[list[tuple[int, int]]]:
    """The tiles grouped by ``2i + j``, in coding order (each group only needs tiles of
    earlier groups: left ``2i+j−1``, above-left ``−3``, above ``−2``, above-right ``−1``)."""
    fronts: dict[int, list[tuple[int, int]]] = {}
    for i in range(rows):
        for j in range(columns):
            fronts.setdefault(2 * i + j, []).append((i, j))
    return [fronts[w] for w in sorted(fronts)]


def contexts(canvas: np.ndarray, grid: Grid, tiles: Sequence[tuple[int, int]]) -> np.ndarray:
    """``N×2S×3S×4`` contexts of ``tiles`` from the decoded ``canvas`` (padded image,
    [0, 1]): the neighbours' RGB − ½ and 1 in channel 4 where one exists, else zeros."""
    s = grid.tile
    out = np.zeros((len(tiles), 2 * s, 3 * s, CONTEXT_CHANNELS), dtype=np.float32)
    for n, (i, j) in enumerate(tiles):
        for di, dj, row, column in NEIGHBOURS:
            a, b = i + di, j + dj
            if 0 <= a < grid.rows and 0 <= b < grid.columns:
                rows, columns = grid.pixels(a, b)
                place = (n, slice(row * s, (row + 1) * s), slice(column * s, (column + 1) * s))
                out[place + (slice(0, 3),)] = canvas[rows, columns] - 0.5
                out[place + (3,)] = 1.0
    return out


def quantised(x: np.ndarray) -> np.ndarray:
    """``Q(x)``: the 8-bit levels of ``x`` (image scale), as float32 in [0, 1]."""
    return (np.clip(np.round(x * 255.0), 0, 255) / 255.0).astype(np.float32)


def tile_psnr(decoded: np.ndarray, original: np.ndarray, valid: Sequence[tuple[int, int]]):
    """PSNR (dB) of each of ``N`` tiles on its pixels inside the image (``inf`` if equal)."""
    values = np.empty(len(decoded))
    for n, (h, w) in enumerate(valid):
        error = (decoded[n, :h, :w].astype(np.float64) - original[n, :h, :w]) * 255.0
        mse = float(np.mean(error**2))
        values[n] = np.inf if mse == 0 else 10 * np.log10(255.0**2 / mse)
    return values


@dataclass
class CodedTiles:
    """What :func:`encode_tiles` produces: counts, bits and the decoded image."""

    counts: np.ndarray
    """``rows × columns`` iterations per tile."""
    bits: np.ndarray
    """``cap × C × rows·S/8 × columns·S/8`` uint8 (0 where a tile took fewer iterations)."""
    decoded: np.ndarray
    """The decoded padded image, ``H'×W'×3`` in [0, 1] (8-bit levels)."""


def encode_tiles(coder: TileCoder, padded: np.ndarray, grid: Grid, channels: int,
                 target_db: float, cap: int) -> CodedTiles:
    """Code the padded image ``padded`` (``H'×W'×3`` in [0, 1]) tile by tile: each tile's
    count is the smallest ``k ≤ cap`` whose decoded tile reaches ``target_db``."""
    canvas = np.zeros_like(padded, dtype=np.float32)
    counts = np.zeros((grid.rows, grid.columns), dtype=np.int64)
    bits = np.zeros((cap, *grid.code_shape(channels)), dtype=np.uint8)
    for front in wavefronts(grid.rows, grid.columns):
        x = np.stack([padded[grid.pixels(i, j)] for i, j in front]).astype(np.float32)
        valid = [grid.valid(i, j) for i, j in front]
        x_hat = coder.predict(contexts(canvas, grid, front))
        decoded = [quantised(x_hat)]
        codes = []
        chosen = np.where(tile_psnr(decoded[0], x, valid) >= target_db, 0, -1)
        for t in range(cap):
            if (chosen >= 0).all():
                break
            code = coder.encode(x - x_hat, t)
            x_hat = x_hat + coder.decode(code, t)
            codes.append(code)
            decoded.append(quantised(x_hat))
            reached = tile_psnr(decoded[-1], x, valid) >= target_db
            chosen = np.where((chosen < 0) & reached, t + 1, chosen)
        chosen = np.where(chosen < 0, cap, chosen)
        for n, (i, j) in enumerate(front):
            k = int(chosen[n])
            counts[i, j] = k
            canvas[grid.pixels(i, j)] = decoded[k][n]
            for t in range(k):
                bits[(t, slice(None), *grid.codes(i, j))] = codes[t][n].transpose(2, 0, 1)
    return CodedTiles(counts, bits, canvas)


def decode_tiles(coder: TileCoder, counts: np.ndarray, bits: np.ndarray, grid: Grid,
                 channels: int) -> np.ndarray:
    """The decoded padded image (``H'×W'×3`` in [0, 1]) of per-tile ``counts`` and the
    ``bits`` of each iteration (``T × C × rows·S/8 × columns·S/8``), as the encoder
    decoded it."""
    canvas = np.zeros((grid.rows * grid.tile, grid.columns * grid.tile, 3), dtype=np.float32)
    for front in wavefronts(grid.rows, grid.columns):
        x_hat = coder.predict(contexts(canvas, grid, front))
        front_counts = np.array([counts[i, j] for i, j in front])
        for t in range(int(front_counts.max(initial=0))):
            code = np.stack([bits[(t, slice(None), *grid.codes(i, j))].transpose(1, 2, 0)
                             for i, j in front])
            residual = coder.decode(code, t)
            x_hat = np.where((front_counts > t)[:, None, None, None], x_hat + residual, x_hat)
        decoded = quantised(x_hat)
        for n, (i, j) in enumerate(front):
            canvas[grid.pixels(i, j)] = decoded[n]
    return canvas
