"""The WaveOne network's layers as plain data, read by both frameworks (framework-free).

Rippel & Bourdev 2017, "Real-time adaptive image compression", with the widths of a
:class:`~codecbench.codecs.learned.models.WaveOneModel` (``S`` scales, width ``W``, ``C``
code channels); every step names the torch module it is, so
:mod:`codecbench.codecs.learned.waveone.torch.network` and
:mod:`codecbench.codecs.learned.waveone.tf.network` are two readings of one plan::

    analysis   x ↦ 2x − 1; at scale s = 0…S−1 (2×2 average pooling between scales):
               extract.s    3×3 conv 3 → W, ReLU, 3×3 conv W → W, ReLU
               align.s      (8/2^s)×(8/2^s) patch conv W → W, stride 8/2^s (to 1/8 size)
               summed over the scales, then
               to_code      ReLU, 3×3 conv W → C, sigmoid: y ∈ (0, 1), C × H/8 × W/8
    synthesis  ŷ ↦ 2ŷ − 1; synthesis_layers: 3×3 conv C → W, ReLU,
               3 × (3×3 conv W → 4W, ×2 pixel shuffle, ReLU), 3×3 conv W → 3, sigmoid
"""

from __future__ import annotations

from dataclasses import dataclass

from codecbench.codecs.learned.layer_plans import (
    Activation,
    Conv,
    PatchConv,
    Shape,
    Shuffle,
    Step,
    parameters,
)

ALIGNED_STRIDE = 8
"""The common resolution of the interscale alignment: 1/8 of the image."""
EXTRACT, ALIGN, TO_CODE, SYNTHESIS = "extract", "align", "to_code", "synthesis_layers"
UPSAMPLINGS = 3


@dataclass(frozen=True)
class WaveOnePlan:
    """Every step of one WaveOne network."""

    extract: tuple[tuple[Step, ...], ...]
    align: tuple[PatchConv, ...]
    to_code: tuple[Step, ...]
    synthesis: tuple[Step, ...]

    def parameters(self) -> dict[str, Shape]:
        """Every parameter: torch ``state_dict`` name → torch shape, in module order."""
        steps = [step for scale in self.extract for step in scale]
        return parameters([*steps, *self.align, *self.to_code, *self.synthesis])


def waveone_plan(scales: int, width: int, code_channels: int) -> WaveOnePlan:
    """The plan of a network with ``scales`` scales, ``width`` features, ``code_channels``."""
    extract = tuple(
        (Conv(f"{EXTRACT}.{s}.0", 3, width, 3), Activation(f"{EXTRACT}.{s}.1", "relu"),
         Conv(f"{EXTRACT}.{s}.2", width, width, 3), Activation(f"{EXTRACT}.{s}.3", "relu"))
        for s in range(scales))
    align = tuple(PatchConv(f"{ALIGN}.{s}", width, width, ALIGNED_STRIDE >> s,
                            stride=ALIGNED_STRIDE >> s) for s in range(scales))
    to_code = (Activation(f"{TO_CODE}.0", "relu"), Conv(f"{TO_CODE}.1", width, code_channels, 3))
    synthesis: list[Step] = [Conv(f"{SYNTHESIS}.0", code_channels, width, 3),
                             Activation(f"{SYNTHESIS}.1", "relu")]
    for i in range(UPSAMPLINGS):
        first = 2 + 3 * i
        synthesis += [Conv(f"{SYNTHESIS}.{first}", width, 4 * width, 3), Shuffle(2),
                      Activation(f"{SYNTHESIS}.{first + 2}", "relu")]
    synthesis.append(Conv(f"{SYNTHESIS}.{2 + 3 * UPSAMPLINGS}", width, 3, 3))
    return WaveOnePlan(extract, align, to_code, tuple(synthesis))
