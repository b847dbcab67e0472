"""Agustsson et al. (2019) GC network in TensorFlow, on weights converted from PyTorch.

Executes the layer plans of :mod:`codecbench.codecs.learned.generative.layers` (the same lists
the torch modules are built from) with ``tf.nn`` on NHWC tensors; kernels change layout
as :func:`codecbench.codecs.learned.tf.layout.convert_state` does (``out×in×kh×kw`` →
``kh×kw×in×out``), padding is explicit and symmetric, the pixel shuffle keeps PyTorch's
channel order, instance norm uses the population variance with ε = 10⁻⁵. The quantiser
maps to the nearest of the ``L`` centres. Imports tensorflow.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.generative import layers
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.tf.layout import pixel_shuffle


class GenerativeNetwork:
    """Encoder, quantiser and generator of GC on TF-layout weights."""

    def __init__(self, entry: GenerativeModel, tf_state: dict[str, np.ndarray], widths,
                 residual_blocks: int, channels: int):
        self.weights = {name: tf.constant(array) for name, array in tf_state.items()}
        self.encoder = layers.encoder_plan(widths, channels)
        self.generator = layers.generator_plan(widths, residual_blocks, channels)
        levels = entry.centres
        self.centres = tf.constant(np.arange(levels, dtype=np.float32) - (levels - 1) / 2)

    def _run(self, plan, prefix: str, x):
        for index, step in enumerate(plan):
            name = f"{prefix}.{index}"
            kind = step[0]
            if kind == "conv":
                kernel, stride = self.weights[f"{name}.weight"], step[4]
                pad = step[3] // 2
                x = tf.nn.conv2d(x, kernel, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
                x = x + self.weights[f"{name}.bias"]
            elif kind == "norm":
                mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
                x = (x - mean) * tf.math.rsqrt(variance + layers.INSTANCE_NORM_EPS)
            elif kind == "relu":
                x = tf.nn.relu(x)
            elif kind == "residual":
                x = x + self._run(layers.residual_plan(step[1]), f"{name}.body", x)
            elif kind == "shuffle":
                x = pixel_shuffle(x)
        return x

    def symbols(self, x):
        """Indexes of the nearest centres of ``E(x)`` (NHWC, x in [0, 1])."""
        y = self._run(self.encoder, "encoder", x * 2 - 1)
        return tf.argmin(tf.abs(y[..., None] - self.centres), axis=-1)

    def synthesis(self, symbols):
        """``G`` of the centres of NHWC ``symbols``, in [0, 1]."""
        y_hat = tf.gather(self.centres, symbols)
        return (tf.tanh(self._run(self.generator, "generator", y_hat)) + 1) / 2
