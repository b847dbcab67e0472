"""Index coding with tensorflow-compression's range coder: TensorFlow's
:class:`~codecbench.codecs.learned.entropy.index_coder.IndexCoder` (imports tensorflow only
when coding).

Each cumulative row ``[0, F₁, …, 2¹⁶]`` becomes tfc's table row ``[precision, 0, F₁, …,
2¹⁶]`` and each symbol is coded with the row its index selects
(``tfc.entropy_encode_index``). A string that does not decode cleanly — the range decoder
reports an error, or does not end where the string does (``entropy_decode_finalize``) —
or decodes to a value outside the alphabet is a
:class:`~codecbench.codecs.learned.container.ContainerError`, never a half-decoded latent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.codecs.learned.container import ContainerError
from codecbench.codecs.learned.entropy.index_coder import PRECISION

if TYPE_CHECKING:
    import numpy as np


class RangeIndexCoder:
    """:class:`~codecbench.codecs.learned.entropy.index_coder.IndexCoder` on tfc's range coder."""

    def tables(self, cumulative: np.ndarray) -> np.ndarray:
        import numpy as np

        precision = np.full((len(cumulative), 1), PRECISION)
        return np.concatenate([precision, cumulative], axis=1).astype(np.int32)

    def encode(self, symbols: np.ndarray, indexes: np.ndarray, tables) -> bytes:
        import numpy as np
        import tensorflow as tf
        import tensorflow_compression as tfc

        with tf.device("/CPU:0"):
            handle = tfc.create_range_encoder([], tables)
            handle = tfc.entropy_encode_index(handle, indexes.astype(np.int32),
                                              symbols.astype(np.int32))
            return tfc.entropy_encode_finalize(handle).numpy()

    def decode(self, string: bytes, indexes: np.ndarray, tables, alphabet: int,
               what: str) -> np.ndarray:
        import numpy as np
        import tensorflow as tf
        import tensorflow_compression as tfc

        with tf.device("/CPU:0"):
            try:
                handle = tfc.create_range_decoder(string, tables)
                handle, values = tfc.entropy_decode_index(handle, indexes.astype(np.int32),
                                                          indexes.shape, tf.int32)
                finished = bool(tfc.entropy_decode_finalize(handle))
            except tf.errors.InvalidArgumentError:
                finished = False
            if not finished:
                raise ContainerError(f"corrupt {what} string: the range decoder did not "
                                     "finish cleanly")
        symbols = values.numpy().astype(np.int64)
        if symbols.min(initial=0) < 0 or symbols.max(initial=0) >= alphabet:
            raise ContainerError(f"corrupt {what} string: decoded values outside "
                                 f"[0, {alphabet})")
        return symbols
