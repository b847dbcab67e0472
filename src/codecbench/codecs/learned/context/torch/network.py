"""The network of Mentzer et al. (2018) in PyTorch, built from the plan of
:mod:`codecbench.codecs.learned.context.layers`.

Quantisation (soft-to-hard, the paper's eq. 2–3)::

    ẑ_soft = Σ_ℓ softmax_ℓ(−σ (z − c_ℓ)²) · c_ℓ,   ẑ_hard = c_{argmin_ℓ |z − c_ℓ|}
    ẑ = ẑ_soft + stop_gradient(ẑ_hard − ẑ_soft)

with ``L`` learned centres ``c``. Importance mask of a budget ``K_q`` (the paper's
eq. 6, scaled by the budget)::

    m_k = clip(K_q · y − k, 0, 1) backward,   1[k < ⌈K_q · y⌉] forward

The context model ``P`` reads the masked volume ``v = ẑ · m`` and the mask, each as one
input channel of a ``N × 1 × K × h × w`` volume, and outputs ``L`` logits per voxel
(3-D convolutions causal in depth, :class:`~codecbench.codecs.learned.context.layers.DepthConv`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.learned.context.layers import (
    ContextPlan,
    DepthConv,
    Residual,
    conditional_plan,
)
from codecbench.codecs.learned.layer_plans import Step
from codecbench.codecs.learned.models import ConditionalModel
from codecbench.codecs.learned.torch.layers import module_of

CENTRE_RANGE = 2.0
"""The centres start evenly spaced in [−2, 2]."""


class ResidualBlock(nn.Module):
    def __init__(self, step: Residual):
        super().__init__()
        self.body = nn.Sequential(*(build(s) for s in step.body))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def build(step: Step) -> nn.Module:
    return ResidualBlock(step) if isinstance(step, Residual) else module_of(step)


class DepthConv3d(nn.Conv3d):
    """A :class:`DepthConv` step: explicit zero padding, then a ``VALID`` 3-D convolution."""

    def __init__(self, step: DepthConv):
        super().__init__(step.in_channels, step.out_channels, (step.taps, 3, 3),
                         bias=step.bias)
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (1, 1, 1, 1, self.step.before, self.step.after)))


class ContextModel(nn.Module):
    """``P``: logits ``N × L × K × h × w`` of the volume's values and mask (``N × K × h × w``)."""

    def __init__(self, plan: ContextPlan):
        super().__init__()
        self.values = DepthConv3d(plan.values)
        self.mask = DepthConv3d(plan.mask)
        self.hidden = nn.ModuleList(DepthConv3d(step) for step in plan.hidden)
        self.out = DepthConv3d(plan.out)

    def forward(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.values(values[:, None]) + self.mask(mask[:, None]))
        for layer in self.hidden:
            h = F.relu(layer(h))
        return self.out(h)


class ConditionalNetwork(nn.Module):
    """Encoder, importance map, quantiser, context model and decoder."""

    def __init__(self, entry: ConditionalModel, width: int | None = None,
                 code_channels: int | None = None, residual_blocks: int | None = None):
        super().__init__()
        self.entry = entry
        self.width = width or entry.width
        self.code_channels = code_channels or entry.code_channels
        self.residual_blocks = (entry.residual_blocks if residual_blocks is None
                                else residual_blocks)
        self.plan = conditional_plan(self.width, self.residual_blocks, self.code_channels,
                                     entry.centres, entry.context_filters,
                                     entry.context_layers)
        self.encoder = nn.Sequential(*(build(step) for step in self.plan.encoder))
        self.decoder = nn.Sequential(*(build(step) for step in self.plan.decoder))
        self.centres = nn.Parameter(torch.linspace(-CENTRE_RANGE, CENTRE_RANGE, entry.centres))
        self.context = ContextModel(self.plan.context)

    def analysis(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, y)``: ``N × K × h × w`` latents and the ``N × h × w`` importance map."""
        out = self.encoder(x * 2 - 1)
        return out[:, :self.code_channels], torch.sigmoid(out[:, self.code_channels])

    def quantise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ẑ, symbols)`` with the soft-to-hard gradient of the module docstring."""
        distances = (z.unsqueeze(-1) - self.centres).pow(2)
        symbols = distances.argmin(-1)
        hard = self.centres[symbols]
        soft = (F.softmax(-self.entry.sigma * distances, dim=-1) * self.centres).sum(-1)
        return soft + (hard - soft).detach(), symbols

    def mask(self, y: torch.Tensor, budget) -> torch.Tensor:
        """``N × K × h × w`` mask of budget(s) ``K_q`` (a number or an ``N``-vector)."""
        budget = torch.as_tensor(budget, dtype=y.dtype, device=y.device).reshape(-1, 1, 1, 1)
        k = torch.arange(self.code_channels, dtype=y.dtype, device=y.device)[:, None, None]
        scaled = budget * y[:, None]
        soft = (scaled - k).clamp(0, 1)
        hard = (k < torch.minimum(torch.ceil(scaled), budget)).to(y.dtype)
        return soft + (hard - soft).detach()

    def synthesis(self, z_hat: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z_hat))

    def forward(self, x: torch.Tensor, budget):
        """``(x̂, logits, symbols, mask)`` of a batch at budget(s) ``K_q``."""
        z, y = self.analysis(x)
        z_hat, symbols = self.quantise(z)
        mask = self.mask(y, budget)
        values = z_hat * mask
        logits = self.context(values, mask.detach())
        return self.synthesis(values), logits, symbols, mask
