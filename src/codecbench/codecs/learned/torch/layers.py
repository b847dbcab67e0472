"""PyTorch modules of the generic plan steps (:mod:`codecbench.codecs.learned.layer_plans`)."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from codecbench.codecs.learned.layer_plans import Activation, Conv, Shuffle, Step

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def module_of(step: Step) -> nn.Module:
    """The torch module of one generic step (parameters freshly initialised)."""
    if isinstance(step, Conv):
        if step.transposed:
            return nn.ConvTranspose2d(step.in_channels, step.out_channels, step.kernel,
                                      stride=step.stride, padding=step.padding,
                                      output_padding=step.output_padding, bias=step.bias)
        return nn.Conv2d(step.in_channels, step.out_channels, step.kernel, stride=step.stride,
                         padding=step.padding, bias=step.bias)
    if isinstance(step, Activation) and step.kind in ACTIVATIONS:
        return ACTIVATIONS[step.kind]()
    if isinstance(step, Shuffle):
        return nn.PixelShuffle(step.factor)
    raise ValueError(f"no torch module for the plan step {step!r}")


def sequential(steps: Iterable[Step]) -> nn.Sequential:
    """``nn.Sequential`` of the steps, in order: step ``i`` is module ``i``, so the steps'
    ``name.i`` prefixes are the ``state_dict`` names."""
    return nn.Sequential(*(module_of(step) for step in steps))
