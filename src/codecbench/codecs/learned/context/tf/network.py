"""The network of Mentzer et al. (2018) in TensorFlow, on weights converted from PyTorch:
the plan of :mod:`codecbench.codecs.learned.context.layers` read with
:mod:`codecbench.codecs.learned.tf.layers` on NHWC tensors; the context model's 3-D
convolutions on NDHWC volumes (``tf.nn.conv3d``, kernels ``kd×kh×kw×in×out``), padded
explicitly as :class:`~codecbench.codecs.learned.context.layers.DepthConv` states.
Imports tensorflow; the TF codec imports this module only when used.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.context.layers import DepthConv, Residual, conditional_plan
from codecbench.codecs.learned.layer_plans import Step
from codecbench.codecs.learned.models import ConditionalModel
from codecbench.codecs.learned.tf import layers
from codecbench.codecs.learned.tf.layout import convert_state, tf_shape


def to_tf_layout(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torch arrays → TF layouts: :func:`convert_state`, and 3-D kernels
    ``out×in×kd×kh×kw`` → ``kd×kh×kw×in×out``."""
    converted = convert_state(state)
    return {name: np.ascontiguousarray(array.transpose(2, 3, 4, 1, 0)) if array.ndim == 5
            else array for name, array in converted.items()}


def tf_layout_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) == 5:
        return (shape[2], shape[3], shape[4], shape[1], shape[0])
    return tf_shape(shape)


class ConditionalNetworkTF:
    """Encoder, context model and decoder of one model on TF-layout weights."""

    def __init__(self, entry: ConditionalModel, tf_state: dict[str, np.ndarray], width: int,
                 residual_blocks: int, code_channels: int):
        self.code_channels = code_channels
        self.plan = conditional_plan(width, residual_blocks, code_channels, entry.centres,
                                     entry.context_filters, entry.context_layers)
        expected = self.plan.parameters()
        problems = [f"lack {name}" if name not in tf_state else
                    f"have {name} of shape {tuple(tf_state[name].shape)}"
                    for name, shape in expected.items()
                    if name not in tf_state
                    or tuple(tf_state[name].shape) != tf_layout_shape(shape)]
        if problems:
            raise ValueError(f"context-model weights {', '.join(problems[:4])}")
        self.weights = {name: tf.constant(tf_state[name]) for name in expected}

    def _run(self, steps: tuple[Step, ...], x):
        for step in steps:
            x = x + self._run(step.body, x) if isinstance(step, Residual) else layers.apply(
                step, x, self.weights)
        return x

    def analysis(self, x):
        """``(z, y)``: ``1 × h × w × K`` latents and the ``1 × h × w`` importance map."""
        out = self._run(self.plan.encoder, x * 2 - 1)
        return out[..., :self.code_channels], tf.sigmoid(out[..., self.code_channels])

    def synthesis(self, z_hat):
        """The NHWC image in [0, 1] of an NHWC volume."""
        return tf.sigmoid(self._run(self.plan.decoder, z_hat))

    def _depth_conv(self, step: DepthConv, x):
        padded = tf.pad(x, [[0, 0], [step.before, max(step.after, 0)], [1, 1], [1, 1], [0, 0]])
        if step.after < 0:
            padded = padded[:, :step.after]
        out = tf.nn.conv3d(padded, self.weights[f"{step.name}.weight"], [1, 1, 1, 1, 1],
                           "VALID")
        return out + self.weights[f"{step.name}.bias"] if step.bias else out

    def context(self, values, mask):
        """``1 × D × h × w × L`` logits of ``1 × D × h × w`` values and mask."""
        plan = self.plan.context
        h = tf.nn.relu(self._depth_conv(plan.values, values[..., None])
                       + self._depth_conv(plan.mask, mask[..., None]))
        for step in plan.hidden:
            h = tf.nn.relu(self._depth_conv(step, h))
        return self._depth_conv(plan.out, h)
