"""The WaveOne network (Rippel & Bourdev 2017) in PyTorch.

Layers and equations as :class:`~codecbench.codecs.learned.models.WaveOneModel` states;
quantisation by bitplanes as :mod:`codecbench.codecs.learned.waveone.bitplanes`, with a
straight-through gradient (the forward pass uses the value the decoder will see, the
backward pass the identity).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.learned.models import WaveOneModel

ALIGNED_STRIDE = 8
"""The common resolution of the interscale alignment: 1/8 of the image."""


def _conv(a: int, b: int) -> nn.Conv2d:
    return nn.Conv2d(a, b, 3, padding=1)


class WaveOne(nn.Module):
    """Pyramidal analysis with interscale alignment, bitplane quantiser, synthesis."""

    def __init__(self, entry: WaveOneModel, width: int | None = None,
                 code_channels: int | None = None):
        super().__init__()
        self.entry = entry
        width = width or entry.width
        channels = code_channels or entry.code_channels
        self.width, self.code_channels = width, channels
        self.extract = nn.ModuleList(
            nn.Sequential(_conv(3, width), nn.ReLU(), _conv(width, width), nn.ReLU())
            for _ in range(entry.scales))
        self.align = nn.ModuleList(
            nn.Conv2d(width, width, ALIGNED_STRIDE >> s, stride=ALIGNED_STRIDE >> s)
            for s in range(entry.scales))
        self.to_code = nn.Sequential(nn.ReLU(), _conv(width, channels))
        upsampling = []
        for _ in range(3):  # 1/8 → 1
            upsampling += [_conv(width, 4 * width), nn.PixelShuffle(2), nn.ReLU()]
        self.synthesis_layers = nn.Sequential(_conv(channels, width), nn.ReLU(), *upsampling,
                                              _conv(width, 3))

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """``y ∈ (0, 1)``, ``C × H/8 × W/8``, of ``x`` in [0, 1] (sides multiples of 8)."""
        h, aligned = x * 2 - 1, 0.0
        for scale, (extract, align) in enumerate(zip(self.extract, self.align, strict=True)):
            if scale:
                h = F.avg_pool2d(h, 2)
            aligned = aligned + align(extract(h))
        return torch.sigmoid(self.to_code(aligned))

    def quantise(self, y: torch.Tensor, planes: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ŷ_k, q)``: the value decoded from the first ``planes`` bitplanes (with a
        straight-through gradient) and the full ``B``-bit integers."""
        bits = self.entry.bitplanes
        q = torch.clamp(torch.floor(y * 2**bits), 0, 2**bits - 1)
        step = 2 ** (bits - planes)
        decoded = (torch.div(q, step, rounding_mode="floor") + 0.5) * step / 2**bits
        return y + (decoded - y).detach(), q.long()

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.synthesis_layers(y_hat * 2 - 1))

    def forward(self, x: torch.Tensor, planes: int):
        y = self.analysis(x)
        y_hat, q = self.quantise(y, planes)
        return self.synthesis(y_hat), y, q
