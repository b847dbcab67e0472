"""Gain units: one hyperprior network for every rate point (Cui et al. 2021).

Z. Cui, J. Wang, S. Gao, T. Guo, Y. Feng, B. Bai, "Asymmetric gained deep image
compression with continuous rate adaptation", CVPR 2021. A gain vector ``g_q ∈ R^M`` and
an inverse gain ``g'_q`` per rate point ``q`` scale the latent channel-wise around the
quantiser::

    y = g_a(x) ⊙ g_q,    ŷ = Q(y),    x̂ = g_s(ŷ ⊙ g'_q)

so a larger gain quantises ``g_a(x)`` more finely (more bits, less distortion). Training
draws a rate point per step and minimises its Lagrangian ``λ_q·255²·MSE + R``; the
hyper-analysis, hyper-synthesis, context model and entropy models see the scaled latent
and are shared by every rate point.

Simplification against the paper: no gain units on the hyper-latent ``z`` (the factorized
prior of ``z`` is shared by every rate point) and no interpolation between rate points
(the table's λ ladder is the set of rate points).

The units are a submodule ``gain_units`` of the CompressAI model (``gain_units.gain``,
``gain_units.inverse_gain``: ``Q × M``), applied by a forward hook on ``g_a`` and a
forward pre-hook on ``g_s``, so CompressAI's own ``forward``, ``compress`` and
``decompress`` run unchanged; :attr:`GainUnits.rate_point` selects the row.
"""

from __future__ import annotations

import torch
from torch import nn

FIRST_GAIN = 0.25
"""Initial gain of the lowest rate point; the others start geometrically spaced up to 1."""


class GainUnits(nn.Module):
    """``Q × M`` gains and inverse gains; :attr:`rate_point` (0-based) picks the row used."""

    def __init__(self, rate_points: int, channels: int):
        super().__init__()
        if rate_points < 2:
            raise ValueError(f"gain units need at least two rate points, got {rate_points}")
        start = torch.logspace(torch.log10(torch.tensor(FIRST_GAIN)), 0, rate_points)
        self.gain = nn.Parameter(start[:, None].repeat(1, channels))
        self.inverse_gain = nn.Parameter((1 / start)[:, None].repeat(1, channels))
        self.rate_point = rate_points - 1

    @property
    def rate_points(self) -> int:
        return int(self.gain.shape[0])

    def select(self, quality: int) -> None:
        """Use the gains of rate point ``quality`` (1-based)."""
        if not 1 <= quality <= self.rate_points:
            raise ValueError(f"no gain units for rate point {quality} "
                             f"(1–{self.rate_points})")
        self.rate_point = quality - 1

    def scale(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.gain[self.rate_point].view(1, -1, 1, 1)

    def unscale(self, y_hat: torch.Tensor) -> torch.Tensor:
        return y_hat * self.inverse_gain[self.rate_point].view(1, -1, 1, 1)


def attach(model: nn.Module, rate_points: int, channels: int) -> GainUnits:
    """Add :class:`GainUnits` to a CompressAI ``model`` (``model.gain_units``) around its
    ``g_a``/``g_s``."""
    units = GainUnits(rate_points, channels)
    model.add_module("gain_units", units)
    analysis, synthesis = model.get_submodule("g_a"), model.get_submodule("g_s")
    analysis.register_forward_hook(lambda module, inputs, output: units.scale(output))
    synthesis.register_forward_pre_hook(lambda module, inputs: (units.unscale(inputs[0]),))
    return units


def gain_units(model: nn.Module) -> GainUnits | None:
    """The model's gain units, or ``None`` for a network of one rate point."""
    units = getattr(model, "gain_units", None)
    return units if isinstance(units, GainUnits) else None
