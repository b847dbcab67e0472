"""The code-space predictor network (Klopp et al. 2018) in PyTorch.

Layers as :mod:`codecbench.codecs.learned.codespace.layers` lists them, equations as
:mod:`codecbench.codecs.learned.codespace.codec` and
:class:`~codecbench.codecs.learned.models.CodeSpaceModel` state. :meth:`CodeSpace.forward`
is the training pass: the code of rate point ``k`` quantised with a straight-through
rounding (the decoder's values forward, the identity backward), every level predicted
from the rounded coarser grid, and the rate of the noisy code ``q̃ = g_k ⊙ y + u``
(:func:`laplace_bits`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from codecbench.codecs.learned.codespace.layers import codespace_plan
from codecbench.codecs.learned.models import CodeSpaceModel
from codecbench.codecs.learned.torch.layers import sequential

SMALLEST_PROBABILITY = 1e-9


def laplace_cdf(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    tail = 0.5 * torch.exp(-x.abs() / scale)
    return torch.where(x < 0, tail, 1.0 - tail)


def laplace_bits(q: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``−log2 (F(d + ½) − F(d − ½))``, ``d = q − μ`` (on the lower side, as
    :func:`codecbench.codecs.learned.codespace.residuals.laplace_mass`)."""
    d = -(q - mean).abs()
    mass = laplace_cdf(d + 0.5, scale) - laplace_cdf(d - 0.5, scale)
    return -torch.log2(mass.clamp_min(SMALLEST_PROBABILITY))


def straight_through_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class CodeSpace(nn.Module):
    """Analysis, synthesis, the predictors of every level and the plain vectors."""

    def __init__(self, entry: CodeSpaceModel, width: int | None = None,
                 code_channels: int | None = None, predictor_width: int | None = None):
        super().__init__()
        self.entry = entry
        self.width = width or entry.width
        self.code_channels = code_channels or entry.code_channels
        self.predictor_width = predictor_width or entry.predictor_width
        self.plan = codespace_plan(self.width, self.code_channels, self.predictor_width,
                                   entry.levels, len(entry.qualities))
        self.analysis_layers = sequential(self.plan.analysis)
        self.synthesis_layers = sequential(self.plan.synthesis)
        self.predictors = nn.ModuleList(sequential(steps) for steps in self.plan.predictors)
        m = self.code_channels
        self.prior_mean = nn.Parameter(torch.zeros(m))
        self.prior_log_scale = nn.Parameter(torch.full((m,), math.log(4.0)))
        log_gains = torch.log(torch.tensor(entry.initial_gains, dtype=torch.float32))
        self.encode_gain = nn.Parameter(log_gains[:, None].repeat(1, m))
        self.decode_gain = nn.Parameter(-log_gains[:, None].repeat(1, m))

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """``y``, ``B × M × H/8 × W/8``, of ``x`` in [0, 1] (sides multiples of 8)."""
        return self.analysis_layers(x * 2 - 1)

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        return self.synthesis_layers(y_hat) + 0.5

    def predict(self, level: int, coarser: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ)`` at twice the size of the decoded coarser grid ``coarser``."""
        out = self.predictors[level](coarser)
        return out[:, :self.code_channels], out[:, self.code_channels:]

    def gains(self, quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g_k, g'_k)`` of each batch item's rate point (``B × M × 1 × 1``)."""
        index = quality - 1
        return (self.encode_gain[index].exp()[:, :, None, None],
                self.decode_gain[index].exp()[:, :, None, None])

    def level_bits(self, q_noisy: torch.Tensor, q_hard: torch.Tensor, gain: torch.Tensor,
                   inverse: torch.Tensor, predicted: bool = True) -> torch.Tensor:
        """Bits per batch item of every level of the code (the training rate term);
        ``predicted=False``: every level with the coarsest grid's per-channel model."""
        levels = self.entry.levels
        smallest = self.entry.scale_bounds[0]
        total = torch.zeros(len(q_noisy), device=q_noisy.device)
        for level in range(levels, -1, -1):
            stride = 2**level
            target = q_noisy[:, :, ::stride, ::stride]
            height, width = target.shape[-2:]
            if level == levels or not predicted:
                mean = self.prior_mean[None, :, None, None].expand_as(target)
                log_scale = self.prior_log_scale[None, :, None, None].expand_as(target)
            else:
                coarser = q_hard[:, :, ::2 * stride, ::2 * stride] * inverse
                mean, log_scale = self.predict(level, coarser)
                mean, log_scale = mean[..., :height, :width], log_scale[..., :height, :width]
            scale = (log_scale.clamp(max=30.0).exp() * gain).clamp_min(smallest)
            bits = laplace_bits(target, mean * gain, scale)
            if level != levels:
                mask = torch.ones(height, width, dtype=torch.bool, device=bits.device)
                mask[::2, ::2] = False
                bits = bits[..., mask]
            total = total + bits.flatten(1).sum(1)
        return total

    def forward(self, x: torch.Tensor, quality: torch.Tensor):
        """``(x̂, bits per item)`` of a batch at the rate points ``quality`` (B ints)."""
        gain, inverse = self.gains(quality)
        scaled = self.analysis(x) * gain
        q_hard = straight_through_round(scaled)
        q_noisy = scaled + torch.empty_like(scaled).uniform_(-0.5, 0.5)
        bits = self.level_bits(q_noisy, q_hard, gain, inverse)
        return self.synthesis(q_hard * inverse), bits
