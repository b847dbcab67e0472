"""The recurrent compression networks in TensorFlow, on weights converted from PyTorch.

Executes the plan of :mod:`codecbench.codecs.learned.recurrent.layers` (the steps the torch
modules of :mod:`codecbench.codecs.learned.recurrent.torch.network` are built from; read its
docstring for the equations of the cells, the binariser, priming and the additive/one-shot
reconstruction) with ``tf.nn`` on NHWC tensors; the widths are read off the weights.
Conversion from a torch ``state_dict`` is a layout change only; nothing is re-fitted:

==========================================  ==============================================
PyTorch (NCHW)                              TensorFlow (NHWC)
==========================================  ==============================================
``Conv2d.weight`` ``out×in×kh×kw``          ``kh×kw×in×out`` (``tf.nn.conv2d``)
``padding=k//2``, stride 2                  explicit ``[[0,0],[p,p],[p,p],[0,0]]``
                                            (TF's ``SAME`` would pad 0 before, 1 after)
gate split ``chunk(n, dim=1)``              ``tf.split(n, axis=-1)`` (same order)
``pixel_shuffle`` (channel = c·4 + 2i + j)  reshape/transpose with that order (not
                                            ``tf.nn.depth_to_space``, whose order is
                                            (2i + j)·C + c)
==========================================  ==============================================

Imports tensorflow; the TF codec imports this module only when used.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.layer_plans import Conv
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent import layers
from codecbench.codecs.learned.tf import layout


class RecurrentNetwork:
    """Encoder, binariser and decoder of one :class:`RecurrentModel` on converted weights."""

    def __init__(self, entry: RecurrentModel, tf_state: dict[str, np.ndarray]):
        self.entry = entry
        channels = {name.removesuffix(".weight"): (array.shape[2], array.shape[3])
                    for name, array in tf_state.items() if array.ndim == 4}
        try:
            widths = layers.widths_from_channels(channels)
        except KeyError as missing:
            raise ValueError(f"weights lack {missing.args[0]}.weight") from None
        self.plan = layers.recurrent_plan(entry, *widths)
        problems = layout.state_problems(self.plan.parameters(), tf_state)
        if problems:
            raise ValueError(f"weights {', '.join(problems)}")
        self.weights = {name: tf.constant(array) for name, array in tf_state.items()}

    def conv(self, step: Conv, x):
        pad = step.padding
        y = tf.nn.conv2d(x, self.weights[f"{step.name}.weight"], step.stride,
                         [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return y + self.weights[f"{step.name}.bias"] if step.bias else y

    def cell(self, step: layers.Cell, x, state):
        gates_x = self.conv(step.input_conv, x)
        gates_h = self.conv(step.hidden_conv, state[0])
        if step.kind == "lstm":
            h, c = state
            i, f, o, g = tf.split(gates_x + gates_h, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return h, (h, c)
        (h,) = state
        rx, zx, nx = tf.split(gates_x, 3, axis=-1)
        rh, zh, nh = tf.split(gates_h, 3, axis=-1)
        r, z = tf.sigmoid(rx + rh), tf.sigmoid(zx + zh)
        n = tf.tanh(nx + r * nh)
        h = (1 - z) * n + z * h
        return h, (h,)

    def _run(self, steps, x, state):
        new_state: list = []
        for step in steps:
            if isinstance(step, layers.Cell):
                x, cell_state = self.cell(step, x, state[len(new_state)])
                new_state.append(cell_state)
            elif isinstance(step, layers.Binarize):
                x = tf.where(tf.tanh(self.conv(step.conv, x)) >= 0, 1.0, -1.0)
            elif isinstance(step, layers.Shuffle):
                x = layout.pixel_shuffle(x, step.factor)
            elif isinstance(step, layers.Tanh):
                x = tf.tanh(x) if step.scale == 1 else tf.tanh(x) * step.scale
            elif isinstance(step, Conv):
                x = self.conv(step, x)
        return x, new_state

    def _zero_states(self, steps, x):
        return [(tf.zeros([x.shape[0], height, width, cell.hidden]),) * cell.state_tensors
                for cell, height, width in self.plan.state_sizes(steps, x.shape[1], x.shape[2])]

    def encoder_state(self, x):
        return self._zero_states(self.plan.encoder, x)

    def decoder_state(self, codes):
        return self._zero_states(self.plan.decoder, codes)

    def encode_step(self, residual, state):
        return self._run(self.plan.encoder, residual, state)

    def decode_step(self, codes, state):
        return self._run(self.plan.decoder, codes, state)

    def encode(self, x, iterations: int) -> list:
        """The ±1 codes of ``iterations`` iterations of the NHWC batch ``x`` (deterministic)."""
        codes, _ = self.plan.encode(self, x, tf.zeros_like(x), iterations)
        return codes

    def decode(self, codes: list):
        """The reconstruction after the last of the ±1 NHWC ``codes``."""
        return self.plan.decode(self, codes)[-1]
