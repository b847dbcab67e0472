"""The tiled codec's networks (Minnen et al. 2017) in PyTorch.

Built from the plan of :mod:`codecbench.codecs.learned.tiled.layers`: the context
network ``P`` (a tile's prediction from its decoded neighbours) and the residual coder
(encoder ``E``, binariser, decoder ``D``, one gain per iteration), NCHW tensors. The
binariser is ``sign(tanh(·))`` (``+1`` at 0); in training it is Toderici et al.'s
stochastic binariser (``+1`` with probability ``(1 + y)/2``) with a straight-through
gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.learned.models import TiledModel
from codecbench.codecs.learned.tiled.layers import tiled_plan
from codecbench.codecs.learned.torch.layers import sequential


def binarize(y: torch.Tensor, stochastic: bool, generator: torch.Generator | None = None):
    """``±1`` codes of ``y ∈ (−1, 1)``: ``sign`` (``+1`` at 0), or stochastic with a
    straight-through gradient."""
    if not stochastic:
        return torch.where(y >= 0, 1.0, -1.0).to(y.dtype)
    draw = torch.rand(y.shape, generator=generator, device=y.device, dtype=y.dtype)
    codes = torch.where(draw < (1 + y) / 2, 1.0, -1.0).to(y.dtype)
    return y + (codes - y).detach()


class TiledNetwork(nn.Module):
    """Context network and residual coder of one :class:`TiledModel`."""

    def __init__(self, entry: TiledModel, predictor_width: int | None = None,
                 coder_width: int | None = None, code_channels: int | None = None):
        super().__init__()
        self.entry = entry
        self.plan = tiled_plan(entry.tile, predictor_width or entry.predictor_width,
                               coder_width or entry.coder_width,
                               code_channels or entry.code_channels, entry.iterations)
        self.predictor_trunk = sequential(self.plan.trunk)
        self.predictor_head = sequential(self.plan.head)
        self.encoder = sequential(self.plan.encoder)
        self.decoder = sequential(self.plan.decoder)
        self.log_gain = nn.Parameter(0.4 * torch.arange(entry.iterations, dtype=torch.float32))

    def predict(self, context: torch.Tensor) -> torch.Tensor:
        """``p ∈ ℝ^{N×3×S×S}`` (image scale [0, 1]) of ``N×4×2S×3S`` contexts."""
        start, stop = self.plan.crop
        features = self.predictor_trunk(context)[:, :, start:stop, start:stop]
        return 0.5 + self.predictor_head(features)

    def encode(self, residual: torch.Tensor, iteration: int, stochastic: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``±1`` codes ``N×C×S/8×S/8`` of iteration ``iteration`` (0-based)."""
        gain = torch.exp(self.log_gain[iteration])
        return binarize(self.encoder(residual * gain), stochastic, generator)

    def decode(self, codes: torch.Tensor, iteration: int) -> torch.Tensor:
        """The residual estimate ``D(b_t) / g_t`` of iteration ``iteration``'s codes."""
        return self.decoder(codes) / torch.exp(self.log_gain[iteration])
