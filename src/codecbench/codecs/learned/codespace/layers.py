"""The code-space predictor network's layers as plain data, read by both frameworks
(framework-free).

Klopp et al. (2018), with the widths of a
:class:`~codecbench.codecs.learned.models.CodeSpaceModel` (``N`` features, ``M`` code
channels, ``P`` predictor features, ``L`` levels); every step names the torch module it
is, so :mod:`codecbench.codecs.learned.codespace.torch.network` and
:mod:`codecbench.codecs.learned.codespace.tf.network` are two readings of one plan::

    analysis       x ↦ 2x − 1; 5×5 conv 3 → N stride 2, ReLU, 5×5 conv N → N stride 2,
                   ReLU, 5×5 conv N → M stride 2: y, M × H/8 × W/8
    synthesis      3×3 conv M → 4N, ×2 shuffle, ReLU, 3×3 conv N → 4N, ×2 shuffle, ReLU,
                   3×3 conv N → 12, ×2 shuffle; x̂ = that + ½
    predictors.l   (l = 0 … L − 1) on the decoded coarser grid ŷ_{l+1} (M × a × b):
                   3×3 conv M → P, ReLU, 3×3 conv P → P, ReLU, 3×3 conv P → 8M,
                   ×2 shuffle: 2M × 2a × 2b, the mean μ (first M) and log-scale
                   (last M) of every position of the finer grid (cropped to its size)

and four vectors: the coarsest grid's mean and log-scale (``prior_mean``,
``prior_log_scale``, M each) and the log gains (``encode_gain``, ``decode_gain``,
rate points × M).
"""

from __future__ import annotations

from dataclasses import dataclass

from codecbench.codecs.learned.layer_plans import (
    Activation,
    Conv,
    Shape,
    Shuffle,
    Step,
    parameters,
)

ANALYSIS, SYNTHESIS, PREDICTORS = "analysis_layers", "synthesis_layers", "predictors"
PRIOR_MEAN, PRIOR_LOG_SCALE = "prior_mean", "prior_log_scale"
ENCODE_GAIN, DECODE_GAIN = "encode_gain", "decode_gain"
STRIDE = 8
"""The code is 1/8 of the (padded) image in each direction."""


@dataclass(frozen=True)
class CodeSpacePlan:
    """Every step of one code-space predictor network."""

    analysis: tuple[Step, ...]
    synthesis: tuple[Step, ...]
    predictors: tuple[tuple[Step, ...], ...]
    code_channels: int
    rate_points: int

    def vectors(self) -> dict[str, Shape]:
        """The plain parameters besides the convolutions: name → shape."""
        channels = self.code_channels
        return {PRIOR_MEAN: (channels,), PRIOR_LOG_SCALE: (channels,),
                ENCODE_GAIN: (self.rate_points, channels),
                DECODE_GAIN: (self.rate_points, channels)}

    def parameters(self) -> dict[str, Shape]:
        """Every parameter: torch ``state_dict`` name → torch shape."""
        steps = [*self.analysis, *self.synthesis,
                 *(step for level in self.predictors for step in level)]
        return {**parameters(steps), **self.vectors()}


def codespace_plan(width: int, code_channels: int, predictor_width: int, levels: int,
                   rate_points: int) -> CodeSpacePlan:
    """The plan of a network with the given widths, ``levels`` predictors and
    ``rate_points`` gain vectors."""
    n, m, p = width, code_channels, predictor_width
    analysis = (Conv(f"{ANALYSIS}.0", 3, n, 5, stride=2), Activation(f"{ANALYSIS}.1", "relu"),
                Conv(f"{ANALYSIS}.2", n, n, 5, stride=2), Activation(f"{ANALYSIS}.3", "relu"),
                Conv(f"{ANALYSIS}.4", n, m, 5, stride=2))
    synthesis = (Conv(f"{SYNTHESIS}.0", m, 4 * n, 3), Shuffle(2),
                 Activation(f"{SYNTHESIS}.2", "relu"),
                 Conv(f"{SYNTHESIS}.3", n, 4 * n, 3), Shuffle(2),
                 Activation(f"{SYNTHESIS}.5", "relu"),
                 Conv(f"{SYNTHESIS}.6", n, 12, 3), Shuffle(2))
    predictors = tuple(
        (Conv(f"{PREDICTORS}.{level}.0", m, p, 3),
         Activation(f"{PREDICTORS}.{level}.1", "relu"),
         Conv(f"{PREDICTORS}.{level}.2", p, p, 3),
         Activation(f"{PREDICTORS}.{level}.3", "relu"),
         Conv(f"{PREDICTORS}.{level}.4", p, 8 * m, 3), Shuffle(2))
        for level in range(levels))
    return CodeSpacePlan(analysis, synthesis, predictors, m, rate_points)
