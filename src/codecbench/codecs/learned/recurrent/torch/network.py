"""The recurrent (progressive) compression networks of Toderici 2016/2017 and Johnston 2018.

One network, configured by a :class:`~codecbench.codecs.learned.models.RecurrentModel`
entry, iterates ``t = 1 … T``::

    b_t   = B(E_t(r_{t-1}))            r_0 = x,  E_t: encoder with recurrent state
    x̂_t   = D_t(b_t)                   one-shot (Toderici 2016)
    x̂_t   = x̂_{t-1} + D_t(b_t)         additive (Toderici 2017, Johnston 2018)
    r_t   = x − x̂_t

with images scaled to ``[−0.5, 0.5]``. The encoder is a stride-2 convolution and three
stride-2 recurrent layers (LSTM or GRU cells whose gates are convolutions); the binariser
``B`` is a 1×1 convolution, ``tanh`` and the sign (during training the stochastic sign
``P(b = 1) = (1 + v)/2`` with a straight-through gradient, Toderici 2016 §3.1), giving
``code_channels`` bits per 16×16 block. The decoder is a 1×1 convolution, four recurrent
layers each followed by a depth-to-space (pixel shuffle ×2), and a 1×1 convolution to RGB.

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

from codecbench.codecs.learned.models import RecurrentModel


class ConvCell(nn.Module):
    """A recurrent cell whose gates are convolutions: ``gates·hidden`` channels from the
    input (``kernel``, ``stride``, with bias) and from the hidden state (``hidden_kernel``,
    stride 1, no bias)."""

    gates: int

    def __init__(self, in_channels, hidden, stride=1, kernel=3, hidden_kernel=1):
        super().__init__()
        self.hidden = hidden
        self.stride = stride
        self.input_conv = nn.Conv2d(in_channels, self.gates * hidden, kernel, stride,
                                    padding=kernel // 2)
        self.hidden_conv = nn.Conv2d(hidden, self.gates * hidden, hidden_kernel,
                                     padding=hidden_kernel // 2, bias=False)


class ConvLSTMCell(ConvCell):
    """Convolutional LSTM (Hochreiter & Schmidhuber 1997; Shi et al. 2015)::

        [i, f, o, g] = W_x ∗ x + W_h ∗ h + b
        c' = σ(f)·c + σ(i)·tanh(g),   h' = σ(o)·tanh(c')

    The forget gate's bias starts at 1 (Jozefowicz et al. 2015), so that the memory a
    one-shot decoder relies on is kept from the first training steps.
    """

    gates = 4

    def __init__(self, in_channels, hidden, stride=1, kernel=3, hidden_kernel=1):
        super().__init__(in_channels, hidden, stride, kernel, hidden_kernel)
        assert self.input_conv.bias is not None  # input_conv is built with a bias
        with torch.no_grad():
            self.input_conv.bias[hidden:2 * hidden].fill_(1.0)

    def initial_state(self, batch, height, width, like):
        zeros = like.new_zeros(batch, self.hidden, height, width)
        return zeros, zeros

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

    gates = 3

    def initial_state(self, batch, height, width, like):
        return (like.new_zeros(batch, self.hidden, height, width),)

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


def encoder_widths(entry: RecurrentModel, channels=None) -> tuple[int, int, int, int]:
    """The table's encoder widths, or ``(A, 2A, B, B)`` for ``--channels A B``."""
    if channels is None:
        return entry.encoder_widths
    a, b = channels
    return (a, 2 * a, b, b)


def decoder_widths(entry: RecurrentModel, channels=None) -> tuple[int, int, int, int]:
    """The table's decoder widths, or ``(B, B, 2A, A)`` for ``--channels A B``."""
    if channels is None:
        return entry.decoder_widths
    a, b = channels
    return (b, b, 2 * a, a)


class Binarizer(nn.Module):
    """1×1 convolution, ``tanh``, sign: ``b ∈ {−1, 1}`` (Toderici 2016 §3.1)."""

    def __init__(self, in_channels, code_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, code_channels, 1, bias=False)

    def forward(self, x, stochastic: bool):
        v = torch.tanh(self.conv(x))
        if stochastic:
            b = torch.where(torch.rand_like(v) < (1 + v) / 2, 1.0, -1.0)
        else:
            b = torch.where(v >= 0, 1.0, -1.0)
        return v + (b - v).detach()  # straight-through gradient


class RecurrentCompressor(nn.Module):
    """Encoder, binariser and decoder of one :class:`RecurrentModel` (see module docstring)."""

    def __init__(self, entry: RecurrentModel, encoder=None, decoder=None):
        super().__init__()
        self.entry = entry
        cell = CELLS[entry.cell]
        e0, e1, e2, e3 = self.encoder_widths = tuple(encoder or entry.encoder_widths)
        d0, d1, d2, d3 = self.decoder_widths = tuple(decoder or entry.decoder_widths)
        if any(width % 4 for width in (d0, d1, d2, d3)):
            raise ValueError(f"decoder widths {(d0, d1, d2, d3)} must be multiples of 4 "
                             "(each is followed by a ×2 depth-to-space)")
        self.encoder_conv = nn.Conv2d(3, e0, 3, stride=2, padding=1, bias=False)
        self.encoder_rnn = nn.ModuleList([cell(e0, e1, stride=2), cell(e1, e2, stride=2),
                                          cell(e2, e3, stride=2)])
        self.binarizer = Binarizer(e3, entry.code_channels)
        self.decoder_conv = nn.Conv2d(entry.code_channels, d0, 1, bias=False)
        self.decoder_rnn = nn.ModuleList([
            cell(d0, d0, hidden_kernel=3), cell(d0 // 4, d1, hidden_kernel=3),
            cell(d1 // 4, d2, hidden_kernel=3), cell(d2 // 4, d3, hidden_kernel=3)])
        self.decoder_out = nn.Conv2d(d3 // 4, 3, 1, bias=False)

    # --- states -----------------------------------------------------------------------
    def encoder_state(self, x):
        batch, _, height, width = x.shape
        return [cast("ConvLSTMCell | ConvGRUCell", layer).initial_state(
                    batch, height >> (2 + i), width >> (2 + i), x)
                for i, layer in enumerate(self.encoder_rnn)]

    def decoder_state(self, codes):
        batch, _, height, width = codes.shape
        return [cast("ConvLSTMCell | ConvGRUCell", layer).initial_state(
                    batch, height << i, width << i, codes)
                for i, layer in enumerate(self.decoder_rnn)]

    # --- one step ---------------------------------------------------------------------
    def encode_step(self, residual, state, stochastic=False):
        hidden = self.encoder_conv(residual)
        new_state = []
        for layer, layer_state in zip(self.encoder_rnn, state, strict=True):
            hidden, layer_state = layer(hidden, layer_state)
            new_state.append(layer_state)
        return self.binarizer(hidden, stochastic), new_state

    def decode_step(self, codes, state):
        hidden = self.decoder_conv(codes)
        new_state = []
        for layer, layer_state in zip(self.decoder_rnn, state, strict=True):
            hidden, layer_state = layer(hidden, layer_state)
            new_state.append(layer_state)
            hidden = F.pixel_shuffle(hidden, 2)
        output = torch.tanh(self.decoder_out(hidden))
        return (output if self.entry.reconstruction == "additive" else output / 2), new_state

    def prime_encoder(self, residual, state):
        for _ in range(self.entry.priming):
            _, state = self.encode_step(residual, state)
        return state

    def prime_decoder(self, codes, state):
        for _ in range(self.entry.priming):
            _, state = self.decode_step(codes, state)
        return state

    # --- whole runs -------------------------------------------------------------------
    def reconstruct(self, previous, output):
        """x̂_t from x̂_{t−1} and the decoder output (additive or one-shot)."""
        return previous + output if self.entry.reconstruction == "additive" else output

    def forward(self, x, iterations: int, stochastic: bool):
        """Codes ``b_1..b_T`` (±1) and reconstructions ``x̂_1..x̂_T`` of ``x`` in [−0.5, 0.5]."""
        encoder_state, decoder_state = None, None
        x_hat = torch.zeros_like(x)
        codes, reconstructions = [], []
        for t in range(iterations):
            residual = x - x_hat
            if t == 0:
                encoder_state = self.prime_encoder(residual, self.encoder_state(x))
            code, encoder_state = self.encode_step(residual, encoder_state, stochastic)
            if t == 0:
                decoder_state = self.prime_decoder(code, self.decoder_state(code))
            output, decoder_state = self.decode_step(code, decoder_state)
            x_hat = self.reconstruct(x_hat, output)
            codes.append(code)
            reconstructions.append(x_hat)
        return codes, reconstructions

    @torch.no_grad()
    def decode(self, codes):
        """Reconstructions ``x̂_1..x̂_k`` of the ±1 codes ``b_1..b_k`` (a list of tensors)."""
        decoder_state = None
        x_hat, reconstructions = None, []
        for t, code in enumerate(codes):
            if t == 0:
                decoder_state = self.prime_decoder(code, self.decoder_state(code))
            output, decoder_state = self.decode_step(code, decoder_state)
            x_hat = output if x_hat is None else self.reconstruct(x_hat, output)
            reconstructions.append(x_hat)
        return reconstructions
