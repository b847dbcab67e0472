"""The torch module of each step of the hyperprior family's plans (imports torch).

:mod:`codecbench.codecs.learned.hyperprior.layers` states the steps; :func:`module_of`
builds the module whose ``state_dict`` names and shapes are the step's parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.learned.hyperprior import layers
from codecbench.codecs.learned.layer_plans import Activation, Conv, Step


class HybridAttention(nn.Module):
    """Channel then spatial attention (the plan's
    :class:`~codecbench.codecs.learned.hyperprior.layers.HybridAttention` states the formula)."""

    def __init__(self, step: layers.HybridAttention):
        super().__init__()
        *channel, spatial = step.steps()
        self.channel = nn.Sequential(*(module_of(part) for part in channel))
        self.spatial = module_of(spatial)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.channel(x.mean((2, 3), keepdim=True)) + self.channel(x.amax((2, 3), keepdim=True))
        x = x * torch.sigmoid(pooled)
        summary = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), 1)
        return x * torch.sigmoid(self.spatial(summary))


class Refinement(nn.Module):
    """``x + body(x)`` (the plan's :class:`~codecbench.codecs.learned.hyperprior.layers.Refinement`)."""

    def __init__(self, step: layers.Refinement):
        super().__init__()
        self.body = nn.Sequential(*(module_of(part) for part in step.steps()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def module_of(step: Step) -> nn.Module:
    """The torch module of one plan step of the hyperprior family."""
    from compressai.layers import GDN

    if isinstance(step, Conv) and step.transposed:
        return nn.ConvTranspose2d(step.in_channels, step.out_channels, step.kernel,
                                  stride=step.stride, padding=step.padding,
                                  output_padding=step.output_padding, bias=step.bias)
    if isinstance(step, Conv):
        return nn.Conv2d(step.in_channels, step.out_channels, step.kernel, stride=step.stride,
                         padding=step.padding, bias=step.bias)
    if isinstance(step, layers.GDN):
        return GDN(step.channels, inverse=step.inverse)
    if isinstance(step, layers.HybridAttention):
        return HybridAttention(step)
    if isinstance(step, layers.Refinement):
        return Refinement(step)
    if isinstance(step, Activation) and step.kind == "relu":
        return nn.ReLU(inplace=False)
    if isinstance(step, Activation) and step.kind == "leaky_relu":
        return nn.LeakyReLU(layers.LEAKY_SLOPE)
    raise ValueError(f"no torch module for plan step {step!r}")
