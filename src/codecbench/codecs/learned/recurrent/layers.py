"""The recurrent networks' layers as plain data, read by both frameworks (framework-free).

The progressive networks of Toderici et al. 2016 ("Variable rate image compression with
recurrent neural networks"), Toderici et al. 2017 ("Full resolution image compression
with recurrent neural networks") and Johnston et al. 2018 ("Improved lossy image
compression with priming and spatially adaptive bit rates for recurrent networks"), with
the widths of a :class:`~codecbench.codecs.learned.models.RecurrentModel`. A
:class:`RecurrentPlan` lists the steps of one encoder and one decoder iteration; each step
names the torch module it is, so :mod:`codecbench.codecs.learned.recurrent.torch.network`
and :mod:`codecbench.codecs.learned.recurrent.tf.network` are two readings of one list.
With encoder widths ``(E₀, E₁, E₂, E₃)``, decoder widths ``(D₀, D₁, D₂, D₃)``, ``C`` code
channels and cells of ``g`` gates (LSTM 4, GRU 3)::

    encoder  encoder_conv     3×3 conv, stride 2, 3 → E₀, no bias
             encoder_rnn.0-2  cells E₀ → E₁ → E₂ → E₃, input 3×3 stride 2, hidden 1×1
             binarizer        1×1 conv E₃ → C (binarizer.conv, no bias), tanh, sign
    decoder  decoder_conv     1×1 conv C → D₀, no bias
             decoder_rnn.0-3  cells D₀ → D₀, D₀/4 → D₁, D₁/4 → D₂, D₂/4 → D₃, input 3×3,
                              hidden 3×3, each followed by a ×2 pixel shuffle
             decoder_out      1×1 conv D₃/4 → 3, no bias, tanh (halved when one-shot)

A cell named ``n`` owns ``n.input_conv`` (``g·hidden`` channels, with bias) and
``n.hidden_conv`` (stride 1, no bias). One iteration turns the residual into ``C`` bits per
16×16 block and the bits into an image; :meth:`RecurrentPlan.encode` and
:meth:`RecurrentPlan.decode` iterate it (priming, additive or one-shot reconstruction) on
either framework's steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codecbench.codecs.learned.layer_plans import Conv, Shape, Shuffle, Step, parameters
from codecbench.codecs.learned.models import RecurrentModel

GATES = {"lstm": 4, "gru": 3}
"""Gate convolutions per cell: LSTM ``[i, f, o, g]``, GRU ``[r, z, n]``."""
STATE_TENSORS = {"lstm": 2, "gru": 1}
"""Tensors of a cell's recurrent state: LSTM ``(h, c)``, GRU ``(h,)``."""
SHUFFLE = 2
"""Depth-to-space factor after every decoder cell (the decoder's upsampling)."""
ENCODER_CONV, ENCODER_RNN, BINARIZER = "encoder_conv", "encoder_rnn", "binarizer"
DECODER_CONV, DECODER_RNN, DECODER_OUT = "decoder_conv", "decoder_rnn", "decoder_out"
INPUT_CONV, HIDDEN_CONV = "input_conv", "hidden_conv"
ENCODER_CELLS, DECODER_CELLS = 3, 4


@dataclass(frozen=True)
class Cell(Step):
    """A convolutional LSTM or GRU cell ``name`` (``kind``) whose gates are convolutions."""

    name: str
    kind: str
    in_channels: int
    hidden: int
    stride: int = 1
    kernel: int = 3
    hidden_kernel: int = 1

    @property
    def gates(self) -> int:
        return GATES[self.kind]

    @property
    def state_tensors(self) -> int:
        return STATE_TENSORS[self.kind]

    @property
    def input_conv(self) -> Conv:
        return Conv(f"{self.name}.{INPUT_CONV}", self.in_channels, self.gates * self.hidden,
                    self.kernel, self.stride)

    @property
    def hidden_conv(self) -> Conv:
        return Conv(f"{self.name}.{HIDDEN_CONV}", self.hidden, self.gates * self.hidden,
                    self.hidden_kernel, bias=False)

    def parameters(self) -> dict[str, Shape]:
        return parameters((self.input_conv, self.hidden_conv))


@dataclass(frozen=True)
class Binarize(Step):
    """``b = sign(tanh(conv(x)))`` ∈ {−1, 1}, the module ``name`` owning ``conv``."""

    name: str
    conv: Conv

    def parameters(self) -> dict[str, Shape]:
        return self.conv.parameters()


@dataclass(frozen=True)
class Tanh(Step):
    """``scale · tanh(x)``."""

    scale: float = 1.0


@dataclass(frozen=True)
class RecurrentPlan:
    """The steps of one encoder and one decoder iteration, and how iterations combine.

    Attributes:
        encoder, decoder: the steps (see the module docstring), in execution order.
        priming: Johnston 2018's extra runs of the encoder (decoder) on the first input
            (first code) before the first code (first output) is produced.
        additive: ``x̂_t = x̂_{t−1} + D_t(b_t)`` (Toderici 2017, Johnston 2018) rather than
            the one-shot ``x̂_t = D_t(b_t)`` (Toderici 2016).
        encoder_widths, decoder_widths: the widths the steps were built with (the
            weights file's metadata).
    """

    encoder: tuple[Step, ...]
    decoder: tuple[Step, ...]
    priming: int
    additive: bool
    encoder_widths: tuple[int, ...]
    decoder_widths: tuple[int, ...]

    def parameters(self) -> dict[str, Shape]:
        """The torch ``state_dict``: every parameter name and shape, in module order."""
        return parameters((*self.encoder, *self.decoder))

    @staticmethod
    def state_sizes(steps: Sequence[Step], height: int, width: int) -> list[tuple[Cell, int, int]]:
        """``(cell, height, width)`` of every cell's state for an input of ``height×width``:
        strides divide the size, pixel shuffles multiply it."""
        sizes, down, up = [], 1, 1
        for step in steps:
            if isinstance(step, Conv | Cell):
                down *= step.stride
            elif isinstance(step, Shuffle):
                up *= step.factor
            if isinstance(step, Cell):
                sizes.append((step, height * up // down, width * up // down))
        return sizes

    def prime(self, step, first_input, state):
        """Priming: the state after ``priming`` runs of ``step`` on the first input."""
        for _ in range(self.priming):
            _, state = step(first_input, state)
        return state

    def reconstruct(self, previous, output):
        """``x̂_t`` from ``x̂_{t−1}`` and the decoder output."""
        return previous + output if self.additive else output

    def encode(self, network, x, zeros, iterations: int, **options):
        """``(codes b_1..b_T, reconstructions x̂_1..x̂_T)`` of ``x`` (``zeros`` like it)::

            b_t = B(E_t(x − x̂_{t−1})),  x̂_t = x̂_{t−1} + D_t(b_t) or D_t(b_t),  x̂_0 = 0

        ``network`` is either framework's: ``encoder_state(x)``, ``decoder_state(code)``,
        ``encode_step(residual, state, **options)`` → ``(code, state)`` and
        ``decode_step(code, state)`` → ``(output, state)``; ``options`` reach the coding
        steps only, not priming.
        """
        encoder_state = decoder_state = None
        x_hat, codes, reconstructions = zeros, [], []
        for t in range(iterations):
            residual = x - x_hat
            if t == 0:
                encoder_state = self.prime(network.encode_step, residual,
                                           network.encoder_state(x))
            code, encoder_state = network.encode_step(residual, encoder_state, **options)
            if t == 0:
                decoder_state = self.prime(network.decode_step, code,
                                           network.decoder_state(code))
            output, decoder_state = network.decode_step(code, decoder_state)
            x_hat = self.reconstruct(x_hat, output)
            codes.append(code)
            reconstructions.append(x_hat)
        return codes, reconstructions

    def decode(self, network, codes: Sequence) -> list:
        """The reconstructions ``x̂_1..x̂_k`` of the codes ``b_1..b_k``."""
        state = x_hat = None
        reconstructions = []
        for t, code in enumerate(codes):
            if t == 0:
                state = self.prime(network.decode_step, code, network.decoder_state(code))
            output, state = network.decode_step(code, state)
            x_hat = output if x_hat is None else self.reconstruct(x_hat, output)
            reconstructions.append(x_hat)
        return reconstructions


def encoder_widths(entry: RecurrentModel, channels=None) -> tuple[int, ...]:
    """The table's encoder widths, or ``(A, 2A, B, B)`` for ``--channels A B``."""
    if channels is None:
        return entry.encoder_widths
    a, b = channels
    return (a, 2 * a, b, b)


def decoder_widths(entry: RecurrentModel, channels=None) -> tuple[int, ...]:
    """The table's decoder widths, or ``(B, B, 2A, A)`` for ``--channels A B``."""
    if channels is None:
        return entry.decoder_widths
    a, b = channels
    return (b, b, 2 * a, a)


def recurrent_plan(entry: RecurrentModel, encoder: Sequence[int] | None = None,
                   decoder: Sequence[int] | None = None) -> RecurrentPlan:
    """The plan of ``entry`` with these widths (the table's by default)."""
    e = tuple(encoder or entry.encoder_widths)
    d = tuple(decoder or entry.decoder_widths)
    if len(e) != ENCODER_CELLS + 1 or len(d) != DECODER_CELLS:
        raise ValueError(f"widths {e} and {d}: the encoder has {ENCODER_CELLS + 1}, the "
                         f"decoder {DECODER_CELLS}")
    if any(width % SHUFFLE**2 for width in d):
        raise ValueError(f"decoder widths {d} must be multiples of {SHUFFLE**2} "
                         "(each is followed by a ×2 depth-to-space)")
    kind, code = entry.cell, entry.code_channels
    cells = [Cell(f"{ENCODER_RNN}.{i}", kind, a, b, stride=2)
             for i, (a, b) in enumerate(zip(e, e[1:], strict=False))]
    encoder_steps = (Conv(ENCODER_CONV, 3, e[0], 3, stride=2, bias=False), *cells,
                     Binarize(BINARIZER, Conv(f"{BINARIZER}.conv", e[-1], code, 1, bias=False)))
    decoder_steps: list[Step] = [Conv(DECODER_CONV, code, d[0], 1, bias=False)]
    inputs = (d[0], *(width // SHUFFLE**2 for width in d[:-1]))
    for i, (a, b) in enumerate(zip(inputs, d, strict=True)):
        decoder_steps += [Cell(f"{DECODER_RNN}.{i}", kind, a, b, hidden_kernel=3), Shuffle()]
    additive = entry.reconstruction == "additive"
    decoder_steps += [Conv(DECODER_OUT, d[-1] // SHUFFLE**2, 3, 1, bias=False),
                      Tanh(1.0 if additive else 0.5)]
    return RecurrentPlan(encoder_steps, tuple(decoder_steps), entry.priming, additive, e, d)


def widths_from_channels(
        channels: Mapping[str, tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(encoder widths, decoder widths)`` of weights whose convolution ``name`` has
    ``channels[name] = (in, out)``; a missing convolution raises ``KeyError(name)``."""
    encoder = (channels[ENCODER_CONV][1],
               *(channels[f"{ENCODER_RNN}.{i}.{HIDDEN_CONV}"][0] for i in range(ENCODER_CELLS)))
    decoder = tuple(channels[f"{DECODER_RNN}.{i}.{HIDDEN_CONV}"][0]
                    for i in range(DECODER_CELLS))
    return encoder, decoder
