"""The tiled codec's networks (Minnen et al. 2017) in TensorFlow, on weights converted
from PyTorch: the plan of :mod:`codecbench.codecs.learned.tiled.layers` read with
:mod:`codecbench.codecs.learned.tf.layers` on NHWC tensors, and the
:class:`~codecbench.codecs.learned.tiled.tiles.TileCoder` hooks on numpy arrays (CPU).
Imports tensorflow; the TF codec imports this module only when used.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.models import TiledModel
from codecbench.codecs.learned.tf import layers, layout
from codecbench.codecs.learned.tiled.layers import LOG_GAIN, tiled_plan


class TiledNetwork:
    """Context network and residual coder of one :class:`TiledModel` on converted weights."""

    def __init__(self, entry: TiledModel, tf_state: dict[str, np.ndarray],
                 widths: tuple[int, int, int]):
        self.plan = tiled_plan(entry.tile, *widths, entry.iterations)
        problems = layout.state_problems(self.plan.parameters(), tf_state)
        if problems:
            raise ValueError(f"tiled weights {', '.join(problems[:4])}")
        self.weights = {name: tf.constant(tf_state[name]) for name in self.plan.parameters()}
        self.gains = np.exp(tf_state[LOG_GAIN].astype(np.float32))

    def predict(self, contexts: np.ndarray) -> np.ndarray:
        start, stop = self.plan.crop
        with tf.device("/CPU:0"):
            features = layers.run(self.plan.trunk, tf.constant(contexts), self.weights)
            head = layers.run(self.plan.head, features[:, start:stop, start:stop], self.weights)
            return (0.5 + head).numpy()

    def encode(self, residuals: np.ndarray, iteration: int) -> np.ndarray:
        gain = tf.constant(self.gains[iteration])
        with tf.device("/CPU:0"):
            y = layers.run(self.plan.encoder, tf.constant(residuals) * gain, self.weights)
            return (y.numpy() >= 0).astype(np.uint8)

    def decode(self, bits: np.ndarray, iteration: int) -> np.ndarray:
        codes = tf.constant(bits.astype(np.float32) * 2 - 1)
        with tf.device("/CPU:0"):
            return (layers.run(self.plan.decoder, codes, self.weights)
                    / self.gains[iteration]).numpy()
