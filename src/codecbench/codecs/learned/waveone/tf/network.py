"""The WaveOne network (Rippel & Bourdev 2017) in TensorFlow, on weights converted from
PyTorch: the plan of :mod:`codecbench.codecs.learned.waveone.layers` read with
:mod:`codecbench.codecs.learned.tf.layers` on NHWC tensors; 2×2 average pooling as
PyTorch's (``VALID``; sides are multiples of 8). Imports tensorflow; the TF codec imports
this module only when used.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.tf import layers, layout
from codecbench.codecs.learned.waveone.layers import waveone_plan


class WaveOneNetwork:
    """Analysis and synthesis of one :class:`WaveOneModel` on converted weights."""

    def __init__(self, entry: WaveOneModel, tf_state: dict[str, np.ndarray], width: int,
                 code_channels: int):
        self.plan = waveone_plan(entry.scales, width, code_channels)
        problems = layout.state_problems(self.plan.parameters(), tf_state)
        if problems:
            raise ValueError(f"WaveOne weights {', '.join(problems[:4])}")
        self.weights = {name: tf.constant(tf_state[name]) for name in self.plan.parameters()}

    def analysis(self, x):
        """``y ∈ (0, 1)``, ``1 × H/8 × W/8 × C``, of NHWC ``x`` in [0, 1]."""
        h, aligned = x * 2 - 1, 0.0
        for scale, (extract, align) in enumerate(zip(self.plan.extract, self.plan.align,
                                                     strict=True)):
            if scale:
                h = tf.nn.avg_pool2d(h, 2, 2, "VALID")
            aligned = aligned + layers.apply(align, layers.run(extract, h, self.weights),
                                             self.weights)
        return tf.sigmoid(layers.run(self.plan.to_code, aligned, self.weights))

    def synthesis(self, y_hat):
        """The NHWC image in [0, 1] of NHWC decoded codes."""
        return tf.sigmoid(layers.run(self.plan.synthesis, y_hat * 2 - 1, self.weights))
