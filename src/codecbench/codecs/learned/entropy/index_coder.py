"""Index coding: finite-alphabet symbols coded with fixed integer frequency tables.

The binary codes of the progressive codecs (two symbols per context) and the categorical
symbols of GC (``L`` per channel) are coded the same way: every symbol ``s`` has an index
``i`` that selects a row of cumulative frequencies ``[0, F₁, …, F_L = 2¹⁶]``, and a
library range coder codes ``s`` with probability ``(F_{s+1} − F_s) / 2¹⁶``. Each framework
supplies one :class:`IndexCoder` on its library's coder (CompressAI's rANS for PyTorch,
:mod:`codecbench.codecs.learned.torch.entropy_coding`; tensorflow-compression's range
coder for TensorFlow, :mod:`codecbench.codecs.learned.tf.entropy_coding`); both code with
identical frequencies, so their estimates agree and only the coders' framing differs.

Framework-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

PRECISION = 16
"""Bits of the coders' probability resolution (rows end at 2¹⁶)."""


class IndexCoder(Protocol):
    """A library range coder over rows of cumulative frequencies."""

    def tables(self, cumulative: np.ndarray) -> object:
        """The coder's tables of ``rows × (L + 1)`` cumulative frequencies (built once per
        loaded model)."""
        ...

    def encode(self, symbols: np.ndarray, indexes: np.ndarray, tables: object) -> bytes:
        """One string of ``symbols``, each coded with the row ``indexes`` selects."""
        ...

    def decode(self, string: bytes, indexes: np.ndarray, tables: object, alphabet: int,
               what: str) -> np.ndarray:
        """The ``int64`` symbols of ``string`` (shape of ``indexes``). A string that does not
        decode cleanly, or decodes to a value outside ``[0, alphabet)``, raises
        :class:`~codecbench.codecs.learned.container.ContainerError` naming ``what``."""
        ...


def binary_cumulative(zero_frequencies: np.ndarray) -> np.ndarray:
    """``[0, f₀, 2¹⁶]`` per context: the rows of binary symbols whose ``0`` has frequency
    ``f₀`` (:func:`~codecbench.codecs.learned.entropy.binary_codes.zero_frequencies`)."""
    import numpy as np

    frequencies = np.asarray(zero_frequencies, dtype=np.int64).ravel()
    rows = np.empty((len(frequencies), 3), dtype=np.int64)
    rows[:, 0] = 0
    rows[:, 1] = frequencies
    rows[:, 2] = 1 << PRECISION
    return rows
