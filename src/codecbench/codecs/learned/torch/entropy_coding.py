"""Index coding with CompressAI's rANS coder (``compressai.ans``), and the padding that keeps
its decoder inside the string it is given (imports CompressAI only when coding).

:class:`RansIndexCoder` is PyTorch's :class:`~codecbench.codecs.learned.entropy.index_coder.IndexCoder`:
each cumulative row ``[0, F₁, …, 2¹⁶]`` becomes CompressAI's CDF row with an escape bin
of zero probability appended (``[…, 2¹⁶, 2¹⁶]``), so the escape symbol is never coded.

CompressAI's decoder (used by its entropy models and by :class:`RansIndexCoder`) reads a
string as 32-bit words and never checks where it ends. A string that is corrupt but has
the shape the header promises makes it read past the end of its buffer: into whatever
follows in memory, or into an unmapped page (a crash). So every string goes to the
decoder followed by zero bytes that bound what it can read (:func:`padded_for_decoding`):

* its initial state is two words, and decoding one symbol renormalises at most once,
  reading at most one word, so tables whose escape bin has zero probability read at
  most ``8 + 4·n`` bytes for ``n`` symbols;
* CompressAI's own entropy models (``EntropyBottleneck``, ``GaussianConditional``) code
  values outside their tables after an escape symbol, with 4-bit words read from the
  state; a corrupt string rarely decodes an escape, and its strings get ``4·n`` more
  bytes of margin.

A valid string is decoded exactly as before: its decoder never reaches the padding. The
padding costs 4 (or 8) bytes per symbol, less than the decoded symbols themselves.

CompressAI's encoder aborts the process ("double free or corruption") on a string of
exactly one symbol, so :class:`RansIndexCoder` codes a lone symbol twice (same symbol,
same row: its probability is not zero) and its decoder, which knows from the indexes that
one symbol is expected, decodes two and keeps the first.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from codecbench.codecs.learned.container import ContainerError

if TYPE_CHECKING:
    import numpy as np


def padded_for_decoding(string: bytes, symbols: int, escape: bool = False) -> bytes:
    """``string`` followed by the zero bytes a decoder of ``symbols`` symbols may read;
    ``escape``: the tables have an escape bin with nonzero probability (CompressAI's
    entropy models)."""
    words = 2 + (2 if escape else 1) * max(int(symbols), 0)
    return bytes(string) + bytes(4 * words)


def symbols_of(shape) -> int:
    """The number of symbols of a latent of ``shape``."""
    return math.prod(int(size) for size in shape)


class RansIndexCoder:
    """:class:`~codecbench.codecs.learned.entropy.index_coder.IndexCoder` on CompressAI's rANS."""

    def tables(self, cumulative: np.ndarray) -> list[list[int]]:
        top = int(cumulative[0, -1]) if len(cumulative) else 0
        return [[*map(int, row), top] for row in cumulative]

    def encode(self, symbols: np.ndarray, indexes: np.ndarray, tables) -> bytes:
        import numpy as np
        from compressai.ans import RansEncoder

        flat_symbols = symbols.ravel().astype(np.int32).tolist()
        flat_indexes = indexes.ravel().astype(np.int32).tolist()
        if len(flat_symbols) == 1:  # CompressAI aborts on one symbol: code it twice
            flat_symbols, flat_indexes = flat_symbols * 2, flat_indexes * 2
        return RansEncoder().encode_with_indexes(
            flat_symbols, flat_indexes, tables, [len(row) for row in tables],
            [0] * len(tables))

    def decode(self, string: bytes, indexes: np.ndarray, tables, alphabet: int,
               what: str) -> np.ndarray:
        import numpy as np
        from compressai.ans import RansDecoder

        flat_indexes = indexes.ravel().astype(np.int32).tolist()
        if len(flat_indexes) == 1:  # coded twice (see the module docstring)
            flat_indexes = flat_indexes * 2
        values = RansDecoder().decode_with_indexes(
            padded_for_decoding(string, len(flat_indexes)), flat_indexes, tables,
            [len(row) for row in tables], [0] * len(tables))
        symbols = np.asarray(values[:indexes.size], dtype=np.int64).reshape(indexes.shape)
        if symbols.min(initial=0) < 0 or symbols.max(initial=0) >= alphabet:
            raise ContainerError(f"corrupt {what} string: decoded values outside "
                                 f"[0, {alphabet})")
        return symbols
