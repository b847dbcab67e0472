"""Agustsson et al. (2019) global generative compression (GC) network, PyTorch.

Layers as :class:`~codecbench.codecs.learned.models.GenerativeModel` describes, built
from the plans of :mod:`codecbench.codecs.learned.generative.layers` (which the TensorFlow twin
reads too). Two choices keep that twin exact: upsampling is a 3×3 convolution to 4× the
channels followed by a pixel shuffle (instead of transposed convolutions), and every
convolution pads with zeros symmetrically. Instance norm has no affine parameters
(ε = 10⁻⁵, population variance), as ``nn.InstanceNorm2d``'s default.

Quantisation (Mentzer et al. 2018, soft-to-hard)::

    ŷ_soft = Σ_ℓ softmax_ℓ(−σ (y − c_ℓ)²) · c_ℓ,   ŷ_hard = c_{argmin_ℓ |y − c_ℓ|}
    ŷ = ŷ_soft + stop_gradient(ŷ_hard − ŷ_soft)

with centres ``c = (−2, −1, 0, 1, 2)`` (``L = 5``) and σ = 1; the symbols are
``argmin_ℓ |y − c_ℓ|``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.learned.generative import layers
from codecbench.codecs.learned.models import GenerativeModel

SOFT_SIGMA = 1.0


def build(plan) -> nn.Sequential:
    """The modules of a :mod:`codecbench.codecs.learned.generative.layers` plan."""
    modules: list[nn.Module] = []
    for step in plan:
        kind = step[0]
        if kind == "conv":
            _, a, b, kernel, stride = step
            modules.append(nn.Conv2d(a, b, kernel, stride=stride, padding=kernel // 2))
        elif kind == "norm":
            modules.append(nn.InstanceNorm2d(step[1], eps=layers.INSTANCE_NORM_EPS))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "residual":
            modules.append(ResidualBlock(step[1]))
        elif kind == "shuffle":
            modules.append(nn.PixelShuffle(2))
        else:
            raise ValueError(f"unknown layer {kind!r}")
    return nn.Sequential(*modules)


class ResidualBlock(nn.Module):
    """``x + body(x)``, body as :func:`~codecbench.codecs.learned.generative.layers.residual_plan`."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = build(layers.residual_plan(channels))

    def forward(self, x):
        return x + self.body(x)


def centres(levels: int) -> torch.Tensor:
    """``L`` integer centres symmetric around 0 (``L = 5``: −2 … 2)."""
    return torch.arange(levels, dtype=torch.float32) - (levels - 1) / 2


class GenerativeCompressor(nn.Module):
    """Encoder, quantiser and generator of GC with ``C`` bottleneck channels."""

    centres: torch.Tensor  # a registered buffer

    def __init__(self, entry: GenerativeModel, channels: int, widths=None,
                 residual_blocks: int | None = None):
        super().__init__()
        widths = tuple(widths or entry.widths)
        blocks = entry.residual_blocks if residual_blocks is None else residual_blocks
        self.encoder = build(layers.encoder_plan(widths, channels))
        self.generator = build(layers.generator_plan(widths, blocks, channels))
        self.register_buffer("centres", centres(entry.centres))

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x)`` for ``x`` in [0, 1] (B×3×H×W, H and W multiples of 16)."""
        return self.encoder(x * 2 - 1)

    def quantise(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ŷ, symbols)``: hard values with the soft-to-hard gradient, and indexes."""
        distances = (y.unsqueeze(-1) - self.centres).pow(2)
        symbols = distances.argmin(-1)
        hard = self.centres[symbols]
        soft = (F.softmax(-SOFT_SIGMA * distances, dim=-1) * self.centres).sum(-1)
        return soft + (hard - soft).detach(), symbols

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        """``G(ŷ)`` in [0, 1]."""
        return (torch.tanh(self.generator(y_hat)) + 1) / 2

    def symbols_to_latent(self, symbols: torch.Tensor) -> torch.Tensor:
        return self.centres[symbols]

    def forward(self, x: torch.Tensor):
        y_hat, symbols = self.quantise(self.analysis(x))
        return self.synthesis(y_hat), y_hat, symbols
