"""The code-space predictor network (Klopp et al. 2018) in TensorFlow, on weights
converted from PyTorch: the plan of :mod:`codecbench.codecs.learned.codespace.layers`
read with :mod:`codecbench.codecs.learned.tf.layers` on NHWC tensors. Imports tensorflow;
the TF codec imports this module only when used.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from codecbench.codecs.learned.codespace.layers import CodeSpacePlan
from codecbench.codecs.learned.tf import layers, layout


class CodeSpaceNetwork:
    """Analysis, synthesis and predictors of one plan on converted weights."""

    def __init__(self, plan: CodeSpacePlan, tf_state: dict[str, np.ndarray]):
        self.plan = plan
        problems = layout.state_problems(plan.parameters(), tf_state)
        if problems:
            raise ValueError(f"code-space weights {', '.join(problems[:4])}")
        self.weights = {name: tf.constant(tf_state[name]) for name in plan.parameters()}

    def analysis(self, x):
        """``y``, ``1 × H/8 × W/8 × M``, of NHWC ``x`` in [0, 1]."""
        return layers.run(self.plan.analysis, x * 2 - 1, self.weights)

    def synthesis(self, y_hat):
        """The NHWC image of the NHWC decoded code."""
        return layers.run(self.plan.synthesis, y_hat, self.weights) + 0.5

    def predict(self, level: int, coarser):
        """``(μ, log σ)`` (NHWC, twice the size of the NHWC coarser grid)."""
        out = layers.run(self.plan.predictors[level], coarser, self.weights)
        channels = self.plan.code_channels
        return out[..., :channels], out[..., channels:]
