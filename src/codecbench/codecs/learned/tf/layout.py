"""PyTorch → TensorFlow tensor layouts shared by every TF twin of a torch network.

==========================================  ==============================================
PyTorch (NCHW)                              TensorFlow (NHWC)
==========================================  ==============================================
``Conv2d.weight`` ``out×in×kh×kw``          ``kh×kw×in×out`` (``tf.nn.conv2d``)
``pixel_shuffle`` (channel = c·r² + i·r+j)  :func:`pixel_shuffle` (not
                                            ``tf.nn.depth_to_space``, whose order is
                                            (i·r + j)·C + c)
==========================================  ==============================================

:func:`convert_state` needs only numpy; :func:`pixel_shuffle` imports tensorflow when called.
"""

from __future__ import annotations

import numpy as np


def convert_state(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torch ``state_dict`` arrays → TF layouts (same names): 4-D convolution kernels
    ``out×in×kh×kw`` → ``kh×kw×in×out``; other arrays (biases, tables) pass unchanged."""
    converted = {}
    for name, array in state.items():
        if array.ndim == 4:
            array = array.transpose(2, 3, 1, 0)
        converted[name] = np.ascontiguousarray(array, dtype=np.float32)
    return converted


def pixel_shuffle(x, factor: int = 2):
    """PyTorch's ``pixel_shuffle`` on NHWC: output ``[b, h·r + i, w·r + j, c]`` takes input
    channel ``c·r² + i·r + j``."""
    import tensorflow as tf

    batch, height, width, channels = tf.unstack(tf.shape(x))
    out_channels = channels // (factor * factor)
    x = tf.reshape(x, [batch, height, width, out_channels, factor, factor])
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3])
    return tf.reshape(x, [batch, height * factor, width * factor, out_channels])
