"""Strings from a file, made safe to hand to CompressAI's rANS decoder (no torch import).

CompressAI's decoder (``compressai.ans``, used by its entropy models and by our binary
and categorical codes) reads a string as 32-bit words and never checks where it ends. A
string that is corrupt but has the shape the header promises makes it read past the end
of its buffer: into whatever follows in memory, or into an unmapped page (a crash). So
every string goes to the decoder followed by zero bytes that bound what it can read:

* its initial state is two words, and decoding one symbol renormalises at most once,
  reading at most one word, so tables whose escape bin has zero probability (ours:
  :func:`codecbench.codecs.learned.recurrent.torch.codecs.rans_tables`, the GC tables) read at
  most ``8 + 4·n`` bytes for ``n`` symbols;
* CompressAI's own entropy models (``EntropyBottleneck``, ``GaussianConditional``) code
  values outside their tables after an escape symbol, with 4-bit words read from the
  state; a corrupt string rarely decodes an escape, and its strings get ``4·n`` more
  bytes of margin.

A valid string is decoded exactly as before: its decoder never reaches the padding. The
padding costs 4 (or 8) bytes per symbol, less than the decoded symbols themselves.
"""

from __future__ import annotations

import math


def padded_for_decoding(string: bytes, symbols: int, escape: bool = False) -> bytes:
    """``string`` followed by the zero bytes a decoder of ``symbols`` symbols may read;
    ``escape``: the tables have an escape bin with nonzero probability (CompressAI's
    entropy models)."""
    words = 2 + (2 if escape else 1) * max(int(symbols), 0)
    return bytes(string) + bytes(4 * words)


def symbols_of(shape) -> int:
    """The number of symbols of a latent of ``shape``."""
    return math.prod(int(size) for size in shape)
