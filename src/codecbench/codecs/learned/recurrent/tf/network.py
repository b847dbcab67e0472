"""The recurrent compression networks in TensorFlow, on weights converted from PyTorch.

The same computation as :mod:`codecbench.codecs.learned.recurrent.torch.network` (read its docstring for
the equations of the cells, the binariser, priming and the additive/one-shot
reconstruction), written with ``tf.nn`` on NHWC tensors. Conversion from a torch
``state_dict`` is a layout change only; nothing is re-fitted:

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

from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.tf import layout


class RecurrentNetwork:
    """Encoder, binariser and decoder of one :class:`RecurrentModel` on converted weights."""

    def __init__(self, entry: RecurrentModel, tf_state: dict[str, np.ndarray]):
        self.entry = entry
        self.weights = {name: tf.constant(array) for name, array in tf_state.items()}
        missing = [name for name in self.expected_names() if name not in self.weights]
        if missing:
            raise ValueError(f"weights lack {', '.join(missing)}")
        self.gates = 4 if entry.cell == "lstm" else 3

    def expected_names(self) -> list[str]:
        names = ["encoder_conv.weight", "binarizer.conv.weight", "decoder_conv.weight",
                 "decoder_out.weight"]
        for stack, count in (("encoder_rnn", 3), ("decoder_rnn", 4)):
            for i in range(count):
                names += [f"{stack}.{i}.input_conv.weight", f"{stack}.{i}.input_conv.bias",
                          f"{stack}.{i}.hidden_conv.weight"]
        return names

    def conv(self, name: str, x, stride: int = 1, bias: bool = False):
        kernel = self.weights[f"{name}.weight"]
        pad = int(kernel.shape[0]) // 2
        y = tf.nn.conv2d(x, kernel, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return y + self.weights[f"{name}.bias"] if bias else y

    def cell(self, name: str, x, state, stride: int):
        gates_x = self.conv(f"{name}.input_conv", x, stride, bias=True)
        gates_h = self.conv(f"{name}.hidden_conv", state[0])
        if self.gates == 4:  # LSTM
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

    def _zero_state(self, name: str, batch, height, width):
        hidden = int(self.weights[f"{name}.hidden_conv.weight"].shape[2])
        zeros = tf.zeros([batch, height, width, hidden])
        return (zeros, zeros) if self.gates == 4 else (zeros,)

    def encoder_state(self, x):
        batch, height, width = x.shape[0], x.shape[1], x.shape[2]
        return [self._zero_state(f"encoder_rnn.{i}", batch, height >> (2 + i), width >> (2 + i))
                for i in range(3)]

    def decoder_state(self, codes):
        batch, height, width = codes.shape[0], codes.shape[1], codes.shape[2]
        return [self._zero_state(f"decoder_rnn.{i}", batch, height << i, width << i)
                for i in range(4)]

    def encode_step(self, residual, state):
        hidden = self.conv("encoder_conv", residual, stride=2)
        new_state = []
        for i, layer_state in enumerate(state):
            hidden, layer_state = self.cell(f"encoder_rnn.{i}", hidden, layer_state, stride=2)
            new_state.append(layer_state)
        v = tf.tanh(self.conv("binarizer.conv", hidden))
        return tf.where(v >= 0, 1.0, -1.0), new_state

    def decode_step(self, codes, state):
        hidden = self.conv("decoder_conv", codes)
        new_state = []
        for i, layer_state in enumerate(state):
            hidden, layer_state = self.cell(f"decoder_rnn.{i}", hidden, layer_state, stride=1)
            new_state.append(layer_state)
            hidden = layout.pixel_shuffle(hidden)
        output = tf.tanh(self.conv("decoder_out", hidden))
        return (output if self.entry.reconstruction == "additive" else output / 2), new_state

    def encode(self, x, iterations: int) -> list:
        """The ±1 codes of ``iterations`` iterations of the NHWC batch ``x`` (deterministic)."""
        encoder_state = decoder_state = None
        x_hat = tf.zeros_like(x)
        codes = []
        for t in range(iterations):
            residual = x - x_hat
            if t == 0:
                encoder_state = self.encoder_state(x)
                for _ in range(self.entry.priming):
                    _, encoder_state = self.encode_step(residual, encoder_state)
            code, encoder_state = self.encode_step(residual, encoder_state)
            if t == 0:
                decoder_state = self._primed_decoder(code)
            output, decoder_state = self.decode_step(code, decoder_state)
            x_hat = x_hat + output if self.entry.reconstruction == "additive" else output
            codes.append(code)
        return codes

    def _primed_decoder(self, code):
        state = self.decoder_state(code)
        for _ in range(self.entry.priming):
            _, state = self.decode_step(code, state)
        return state

    def decode(self, codes: list):
        """The reconstruction after the last of the ±1 NHWC ``codes``."""
        x_hat, state = None, None
        for t, code in enumerate(codes):
            if t == 0:
                state = self._primed_decoder(code)
            output, state = self.decode_step(code, state)
            additive = self.entry.reconstruction == "additive" and x_hat is not None
            x_hat = x_hat + output if additive else output
        return x_hat
