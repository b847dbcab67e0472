"""The recurrent (progressive) compression networks of Toderici 2016/2017 and Johnston 2018.

Built from the plan of :mod:`codecbench.codecs.learned.recurrent.layers` (which the
TensorFlow twin reads too, and which states the layers, widths and ``state_dict`` names):
each plan step becomes the module of its name, and one encoder or decoder iteration runs
the plan's steps in order. One network iterates ``t = 1 … T``::

    b_t   = B(E_t(r_{t-1}))            r_0 = x,  E_t: encoder with recurrent state
    x̂_t   = D_t(b_t)                   one-shot (Toderici 2016)
    x̂_t   = x̂_{t-1} + D_t(b_t)         additive (Toderici 2017, Johnston 2018)
    r_t   = x − x̂_t

with images scaled to ``[−0.5, 0.5]``. The binariser ``B`` is a 1×1 convolution, ``tanh``
and the sign (during training the stochastic sign ``P(b = 1) = (1 + v)/2`` with a
straight-through gradient, Toderici 2016 §3.1), giving ``code_channels`` bits per 16×16
block.

Johnston 2018's hidden-state priming runs the encoder (decoder) ``priming`` extra times on
the first input (first code) before the first code (first output) is produced, so the
first iteration starts from hidden states that have already diffused over a wider area.

This module imports torch; the codec and trainer import it only when used.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.learned.layer_plans import Conv, Step
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent import layers

encoder_widths, decoder_widths = layers.encoder_widths, layers.decoder_widths  # for the trainer


def conv2d(step: Conv) -> nn.Conv2d:
    return nn.Conv2d(step.in_channels, step.out_channels, step.kernel, step.stride,
                     padding=step.padding, bias=step.bias)


class ConvCell(nn.Module):
    """A recurrent cell whose gates are convolutions (a :class:`layers.Cell` step):
    ``gates·hidden`` channels from the input (with bias) and from the hidden state
    (stride 1, no bias)."""

    def __init__(self, step: layers.Cell):
        super().__init__()
        self.input_conv = conv2d(step.input_conv)
        self.hidden_conv = conv2d(step.hidden_conv)


class ConvLSTMCell(ConvCell):
    """Convolutional LSTM (Hochreiter & Schmidhuber 1997; Shi et al. 2015)::

        [i, f, o, g] = W_x ∗ x + W_h ∗ h + b
        c' = σ(f)·c + σ(i)·tanh(g),   h' = σ(o)·tanh(c')

    The forget gate's bias starts at 1 (Jozefowicz et al. 2015), so that the memory a
    one-shot decoder relies on is kept from the first training steps.
    """

    def __init__(self, step: layers.Cell):
        super().__init__(step)
        assert self.input_conv.bias is not None  # input_conv is built with a bias
        with torch.no_grad():
            self.input_conv.bias[step.hidden:2 * step.hidden].fill_(1.0)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = (self.input_conv(x) + self.hidden_conv(h)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ConvGRUCell(ConvCell):
    """Convolutional GRU (Cho et al. 2014), as in Toderici 2017::

        [r_x, z_x, n_x] = W_x ∗ x + b,   [r_h, z_h, n_h] = W_h ∗ h
        r = σ(r_x + r_h),  z = σ(z_x + z_h),  n = tanh(n_x + r·n_h)
        h' = (1 − z)·n + z·h
    """

    def forward(self, x, state):
        (h,) = state
        rx, zx, nx = self.input_conv(x).chunk(3, dim=1)
        rh, zh, nh = self.hidden_conv(h).chunk(3, dim=1)
        r = torch.sigmoid(rx + rh)
        z = torch.sigmoid(zx + zh)
        n = torch.tanh(nx + r * nh)
        h = (1 - z) * n + z * h
        return h, (h,)


CELLS = {"lstm": ConvLSTMCell, "gru": ConvGRUCell}


class Binarizer(nn.Module):
    """1×1 convolution, ``tanh``, sign: ``b ∈ {−1, 1}`` (Toderici 2016 §3.1)."""

    def __init__(self, step: layers.Binarize):
        super().__init__()
        self.conv = conv2d(step.conv)

    def forward(self, x, stochastic: bool):
        v = torch.tanh(self.conv(x))
        if stochastic:
            b = torch.where(torch.rand_like(v) < (1 + v) / 2, 1.0, -1.0)
        else:
            b = torch.where(v >= 0, 1.0, -1.0)
        return v + (b - v).detach()  # straight-through gradient


def module(step: Step) -> tuple[str, nn.Module] | None:
    """``(name, module)`` of a plan step, ``None`` for a step without weights."""
    if isinstance(step, Conv):
        return step.name, conv2d(step)
    if isinstance(step, layers.Cell):
        return step.name, CELLS[step.kind](step)
    if isinstance(step, layers.Binarize):
        return step.name, Binarizer(step)
    return None


class RecurrentCompressor(nn.Module):
    """Encoder, binariser and decoder of one :class:`RecurrentModel` (see module docstring)."""

    def __init__(self, entry: RecurrentModel, encoder=None, decoder=None):
        super().__init__()
        self.entry = entry
        self.plan = layers.recurrent_plan(entry, encoder, decoder)
        self.encoder_widths = self.plan.encoder_widths
        self.decoder_widths = self.plan.decoder_widths
        self._encoder = self._build(self.plan.encoder)
        self._decoder = self._build(self.plan.decoder)

    def _build(self, steps) -> tuple[tuple[Step, nn.Module | None], ...]:
        built = []
        for step in steps:
            named, step_module = module(step), None
            if named is not None:
                self._attach(*named)
                step_module = named[1]
            built.append((step, step_module))
        return tuple(built)

    def _attach(self, name: str, step_module: nn.Module) -> None:
        """Register a module under its plan name: ``name``, or ``stack.<i>``, entry ``i``
        of the ``ModuleList`` ``stack``."""
        stack, _, index = name.partition(".")
        if not index:
            self.add_module(name, step_module)
            return
        if stack not in self._modules:
            self.add_module(stack, nn.ModuleList())
        modules = cast(nn.ModuleList, self._modules[stack])
        if int(index) != len(modules):
            raise ValueError(f"plan step {name} is out of order")
        modules.append(step_module)

    @staticmethod
    def _run(built, x, state, stochastic=False):
        new_state: list = []
        for step, step_module in built:
            if isinstance(step, layers.Cell):
                x, cell_state = step_module(x, state[len(new_state)])
                new_state.append(cell_state)
            elif isinstance(step, layers.Binarize):
                x = step_module(x, stochastic)
            elif isinstance(step, layers.Shuffle):
                x = F.pixel_shuffle(x, step.factor)
            elif isinstance(step, layers.Tanh):
                x = torch.tanh(x) if step.scale == 1 else torch.tanh(x) * step.scale
            else:
                x = step_module(x)
        return x, new_state

    # --- states -----------------------------------------------------------------------
    def _zero_states(self, steps, x):
        return [(x.new_zeros(x.shape[0], cell.hidden, height, width),) * cell.state_tensors
                for cell, height, width in self.plan.state_sizes(steps, x.shape[2], x.shape[3])]

    def encoder_state(self, x):
        return self._zero_states(self.plan.encoder, x)

    def decoder_state(self, codes):
        return self._zero_states(self.plan.decoder, codes)

    # --- one step ---------------------------------------------------------------------
    def encode_step(self, residual, state, stochastic=False):
        return self._run(self._encoder, residual, state, stochastic)

    def decode_step(self, codes, state):
        return self._run(self._decoder, codes, state)

    # --- whole runs -------------------------------------------------------------------
    def forward(self, x, iterations: int, stochastic: bool):
        """Codes ``b_1..b_T`` (±1) and reconstructions ``x̂_1..x̂_T`` of ``x`` in [−0.5, 0.5]."""
        return self.plan.encode(self, x, torch.zeros_like(x), iterations,
                                stochastic=stochastic)

    @torch.no_grad()
    def decode(self, codes):
        """Reconstructions ``x̂_1..x̂_k`` of the ±1 codes ``b_1..b_k`` (a list of tensors)."""
        return self.plan.decode(self, codes)
