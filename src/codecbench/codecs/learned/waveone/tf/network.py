"""The WaveOne network (Rippel & Bourdev 2017) in TensorFlow, on weights converted from
PyTorch: the plan of :mod:`codecbench.codecs.learned.waveone.layers` read with
:mod:`codecbench.codecs.learned.tf.layers` on NHWC tensors; 2×2 average pooling as
PyTorch's (``VALID``; sides are multiples of 8). Imports tensorflow; the TF codec imports
this module only when used.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.layer_plans import Shape
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.tf import layers
from codecbench.codecs.learned.waveone.layers import waveone_plan


def tf_shape(name: str, torch_shape: Shape) -> Shape:
    """The converted shape of a torch parameter (kernels ``out×in×kh×kw`` → ``kh×kw×in×out``)."""
    if len(torch_shape) == 4:
        out_channels, in_channels, kh, kw = torch_shape
        return (kh, kw, in_channels, out_channels)
    return torch_shape


class WaveOneNetwork:
    """Analysis and synthesis of one :class:`WaveOneModel` on converted weights."""

    def __init__(self, entry: WaveOneModel, tf_state: dict[str, np.ndarray], width: int,
                 code_channels: int):
        self.plan = waveone_plan(entry.scales, width, code_channels)
        problems = [f"{name} {tuple(tf_state[name].shape) if name in tf_state else 'missing'}"
                    f" (expected {tf_shape(name, shape)})"
                    for name, shape in self.plan.parameters().items()
                    if name not in tf_state or tuple(tf_state[name].shape) != tf_shape(name, shape)]
        if problems:
            raise ValueError("WaveOne weights do not fit the plan: " + "; ".join(problems[:4]))
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
