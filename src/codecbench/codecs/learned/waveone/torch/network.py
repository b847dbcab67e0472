"""The WaveOne network (Rippel & Bourdev 2017) in PyTorch.

Layers as :mod:`codecbench.codecs.learned.waveone.layers` lists them, equations as
:class:`~codecbench.codecs.learned.models.WaveOneModel` states;
quantisation by bitplanes as :mod:`codecbench.codecs.learned.waveone.bitplanes`, with a
straight-through gradient (the forward pass uses the value the decoder will see, the
backward pass the identity).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.torch.layers import module_of, sequential
from codecbench.codecs.learned.waveone.layers import waveone_plan


class WaveOne(nn.Module):
    """Pyramidal analysis with interscale alignment, bitplane quantiser, synthesis, built
    from the plan of :mod:`codecbench.codecs.learned.waveone.layers`."""

    def __init__(self, entry: WaveOneModel, width: int | None = None,
                 code_channels: int | None = None):
        super().__init__()
        self.entry = entry
        width = width or entry.width
        channels = code_channels or entry.code_channels
        self.width, self.code_channels = width, channels
        self.plan = waveone_plan(entry.scales, width, channels)
        self.extract = nn.ModuleList(sequential(steps) for steps in self.plan.extract)
        self.align = nn.ModuleList(module_of(step) for step in self.plan.align)
        self.to_code = sequential(self.plan.to_code)
        self.synthesis_layers = sequential(self.plan.synthesis)

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
