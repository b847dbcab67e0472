"""Index coding with tensorflow-compression's range coder, shared by the TF twins that code
symbols against fixed frequency tables (the recurrent codecs' bits, GC's symbols).

Each symbol is coded with the table its index selects (``tfc.entropy_encode_index``). A
string that does not decode cleanly — the range decoder reports an error, or does not end
where the string does (``entropy_decode_finalize``) — is a
:class:`~codecbench.codecs.learned.container.ContainerError`, never a half-decoded latent.
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.learned.container import ContainerError


def encode_index(values: np.ndarray, indexes: np.ndarray, tables) -> bytes:
    """The range-coded string of ``values``, each with the table ``indexes`` selects."""
    import tensorflow as tf
    import tensorflow_compression as tfc

    with tf.device("/CPU:0"):
        handle = tfc.create_range_encoder([], tables)
        handle = tfc.entropy_encode_index(handle, indexes.astype(np.int32),
                                          values.astype(np.int32))
        return tfc.entropy_encode_finalize(handle).numpy()


def decode_index(string: bytes, indexes: np.ndarray, tables, what: str) -> np.ndarray:
    """The ``int32`` values of ``string`` (shape of ``indexes``); ``what`` names the string
    in the error (``"symbol"``, ``"code"``)."""
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
            raise ContainerError(f"corrupt {what} string: the range decoder did not finish "
                                 "cleanly")
    return values.numpy()
