"""The tiled codec's networks as plain data, read by both frameworks (framework-free).

Minnen et al. 2017, "Spatially adaptive image compression using a tiled deep network",
with the widths of a :class:`~codecbench.codecs.learned.models.TiledModel` (tile side
``S``, predictor width ``P``, coder width ``E``, ``C`` code channels). Every step names
the torch module it is, so :mod:`codecbench.codecs.learned.tiled.torch.network` and
:mod:`codecbench.codecs.learned.tiled.tf.network` are two readings of one plan::

    predictor  the context: 4 × 2S × 3S (RGB − ½ of the decoded above-left, above,
               above-right tiles on top, the left tile, zeros for the current and the
               right tile below; channel 4 is 1 where a pixel is available)
      trunk    5×5 conv 4 → P stride 2, ReLU, 3×3 conv P → P stride 2, ReLU,
               3×3 conv P → 2P stride 2, ReLU, 3 × (3×3 conv 2P → 2P, ReLU): 1/8 size
      crop     the features of the current tile (rows S/8…2S/8, columns S/8…2S/8)
      head     3×3 conv 2P → 4P, ×2 shuffle, ReLU, 3×3 conv P → 4P, ×2 shuffle, ReLU,
               3×3 conv P → 2P, ×2 shuffle, ReLU, 3×3 conv P/2 → 3:  p = ½ + head
    encoder    3×3 conv 3 → E stride 2, ReLU, 3×3 conv E → E stride 2, ReLU,
               3×3 conv E → E stride 2, ReLU, 1×1 conv E → C, tanh; b = sign (±1)
    decoder    1×1 conv C → E, ReLU, 3×3 conv E → 4E, ×2 shuffle, ReLU,
               3×3 conv E → 2E, ×2 shuffle, ReLU, 3×3 conv E/2 → E, ×2 shuffle, ReLU,
               3×3 conv E/4 → 3
    log_gain   one gain per iteration ``g_t = exp(log_gain[t])``: iteration ``t`` codes
               ``b_t = B(E(g_t · r_{t−1}))`` and adds ``D(b_t) / g_t``

The encoder and decoder are the same at every iteration (shared weights); the gain
rescales the shrinking residual to the range the coder was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from codecbench.codecs.learned.layer_plans import Activation, Conv, Shape, Shuffle, Step, parameters

PREDICTOR_TRUNK, PREDICTOR_HEAD = "predictor_trunk", "predictor_head"
ENCODER, DECODER, LOG_GAIN = "encoder", "decoder", "log_gain"
CONTEXT_CHANNELS = 4
"""RGB of the decoded neighbours (centred) and the availability mask."""
CODE_STRIDE = 8
"""Pixels per code position along each side (three stride-2 convolutions)."""


@dataclass(frozen=True)
class Gains(Step):
    """The per-iteration log gains ``name`` (a vector of ``iterations``)."""

    name: str
    iterations: int

    def parameters(self) -> dict[str, Shape]:
        return {self.name: (self.iterations,)}


@dataclass(frozen=True)
class TiledPlan:
    """Every step of the tiled codec's networks (see the module docstring)."""

    tile: int
    trunk: tuple[Step, ...]
    head: tuple[Step, ...]
    encoder: tuple[Step, ...]
    decoder: tuple[Step, ...]
    gains: Gains
    predictor_width: int
    coder_width: int
    code_channels: int

    @property
    def crop(self) -> tuple[int, int]:
        """``(start, stop)`` rows and columns of the current tile in the trunk's output."""
        cells = self.tile // CODE_STRIDE
        return cells, 2 * cells

    def parameters(self) -> dict[str, Shape]:
        """Every parameter: torch ``state_dict`` name → torch shape, in module order."""
        return parameters([*self.trunk, *self.head, *self.encoder, *self.decoder, self.gains])


def _named(prefix: str, layers: list[tuple]) -> tuple[Step, ...]:
    """Steps from ``(kind, *arguments)`` rows, step ``i`` named ``prefix.i`` (its index
    in the torch ``nn.Sequential``)."""
    steps: list[Step] = []
    for index, (kind, *arguments) in enumerate(layers):
        name = f"{prefix}.{index}"
        if kind == "conv":
            steps.append(Conv(name, *arguments))
        elif kind == "shuffle":
            steps.append(Shuffle(2))
        else:
            steps.append(Activation(name, kind))
    return tuple(steps)


def _upsampling(widths: list[tuple[int, int]]) -> list[tuple]:
    """3×3 conv ``a → 4b``, ×2 shuffle, ReLU per ``(a, b)``: each doubles the size."""
    rows: list[tuple] = []
    for a, b in widths:
        rows += [("conv", a, 4 * b, 3), ("shuffle",), ("relu",)]
    return rows


def tiled_plan(tile: int, predictor_width: int, coder_width: int, code_channels: int,
               iterations: int) -> TiledPlan:
    """The plan of a codec of tile side ``tile`` with these widths and ``iterations``."""
    p, e, c = predictor_width, coder_width, code_channels
    if tile % CODE_STRIDE or p % 2 or e % 4:
        raise ValueError(f"tile {tile} must be a multiple of {CODE_STRIDE}, the predictor "
                         f"width {p} even and the coder width {e} a multiple of 4")
    trunk = _named(PREDICTOR_TRUNK, [
        ("conv", CONTEXT_CHANNELS, p, 5, 2), ("relu",), ("conv", p, p, 3, 2), ("relu",),
        ("conv", p, 2 * p, 3, 2), ("relu",),
        *[row for _ in range(3) for row in (("conv", 2 * p, 2 * p, 3), ("relu",))]])
    head = _named(PREDICTOR_HEAD, [*_upsampling([(2 * p, p), (p, p), (p, p // 2)]),
                                   ("conv", p // 2, 3, 3)])
    encoder = _named(ENCODER, [("conv", 3, e, 3, 2), ("relu",), ("conv", e, e, 3, 2), ("relu",),
                               ("conv", e, e, 3, 2), ("relu",), ("conv", e, c, 1), ("tanh",)])
    decoder = _named(DECODER, [("conv", c, e, 1), ("relu",),
                               *_upsampling([(e, e), (e, e // 2), (e // 2, e // 4)]),
                               ("conv", e // 4, 3, 3)])
    return TiledPlan(tile, trunk, head, encoder, decoder, Gains(LOG_GAIN, iterations), p, e, c)


def widths_of(parameters_: dict[str, Shape]) -> tuple[int, int, int]:
    """``(predictor width, coder width, code channels)`` of a ``state_dict``'s shapes."""
    return (parameters_[f"{PREDICTOR_TRUNK}.0.weight"][0], parameters_[f"{ENCODER}.0.weight"][0],
            parameters_[f"{DECODER}.0.weight"][1])
