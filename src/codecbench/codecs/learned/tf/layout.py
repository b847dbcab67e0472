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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def convert_state(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torch ``state_dict`` arrays → TF layouts (same names): 4-D convolution kernels
    ``out×in×kh×kw`` → ``kh×kw×in×out``; other arrays (biases, tables) pass unchanged."""
    import numpy as np

    converted = {}
    for name, array in state.items():
        if array.ndim == 4:
            array = array.transpose(2, 3, 1, 0)
        converted[name] = np.ascontiguousarray(array, dtype=np.float32)
    return converted


def tf_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The TF layout of a torch parameter shape (kernels ``out×in×kh×kw`` → ``kh×kw×in×out``)."""
    return (shape[2], shape[3], shape[1], shape[0]) if len(shape) == 4 else shape


def state_problems(parameters: dict[str, tuple[int, ...]],
                   tf_state: dict[str, np.ndarray]) -> list[str]:
    """What converted weights lack, or hold in another shape, of a plan's ``parameters``
    (torch names and shapes), one phrase each."""
    return [f"lack {name}" if name not in tf_state else
            f"have {name} of shape {tuple(tf_state[name].shape)}, not {tf_shape(shape)}"
            for name, shape in parameters.items()
            if name not in tf_state or tuple(tf_state[name].shape) != tf_shape(shape)]


def pixel_shuffle(x, factor: int = 2):
    """PyTorch's ``pixel_shuffle`` on NHWC: output ``[b, h·r + i, w·r + j, c]`` takes input
    channel ``c·r² + i·r + j``."""
    import tensorflow as tf

    batch, height, width, channels = tf.unstack(tf.shape(x))
    out_channels = channels // (factor * factor)
    x = tf.reshape(x, [batch, height, width, out_channels, factor, factor])
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3])
    return tf.reshape(x, [batch, height * factor, width * factor, out_channels])
