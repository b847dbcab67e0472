"""TensorFlow readings of the generic plan steps (:mod:`codecbench.codecs.learned.layer_plans`),
on weights converted from torch (:func:`codecbench.codecs.learned.tf.layout.convert_state`:
kernels ``kh×kw×in×out``). NHWC tensors; imports tensorflow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import tensorflow as tf

from codecbench.codecs.learned.layer_plans import Activation, Conv, Shuffle, Step
from codecbench.codecs.learned.tf.layout import pixel_shuffle

ACTIVATIONS = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh}


def apply(step: Step, x, weights: Mapping[str, tf.Tensor]):
    """``step`` applied to NHWC ``x``: convolutions pad explicitly and symmetrically, as
    PyTorch does (TF's ``SAME`` would pad 0 before and 1 after a stride-2 window)."""
    if isinstance(step, Conv) and not step.transposed:
        pad = step.padding
        x = tf.nn.conv2d(x, weights[f"{step.name}.weight"], step.stride,
                         [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return x + weights[f"{step.name}.bias"] if step.bias else x
    if isinstance(step, Activation) and step.kind in ACTIVATIONS:
        return ACTIVATIONS[step.kind](x)
    if isinstance(step, Shuffle):
        return pixel_shuffle(x, step.factor)
    raise ValueError(f"no TensorFlow reading of the plan step {step!r}")


def run(steps: Iterable[Step], x, weights: Mapping[str, tf.Tensor]):
    """The steps applied in order."""
    for step in steps:
        x = apply(step, x, weights)
    return x
