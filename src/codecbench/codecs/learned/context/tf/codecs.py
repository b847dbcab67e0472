"""``tf/mentzer2018-context``: the TensorFlow twin of ``torch/mentzer2018-context``.

The network of :mod:`.network` on the torch weights, converted at load time (or a
``codecbench convert torch/mentzer2018-context tf/mentzer2018-context`` output,
``mentzer2018-context.tf.safetensors`` in ``CODECBENCH_TF_WEIGHTS``), in the codec of
:mod:`codecbench.codecs.learned.context.codec`; the importance levels and symbols are
range coded with tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`) with 16-bit
frequencies quantised exactly as the torch codec's. Runs on the CPU; imports
tensorflow only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.context import weights as context_weights
from codecbench.codecs.learned.context.codec import ConditionalCodec
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.codecs.learned.tf.weights import write_tf_weights
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np


class TFConditionalCodec(TensorFlowFramework, ConditionalCodec):
    """Mentzer et al. (2018) in TensorFlow on converted (or TF) weights."""

    coder = RangeIndexCoder()

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.context.layers import reach
        from codecbench.codecs.learned.context.tf.network import (
            ConditionalNetworkTF,
            to_tf_layout,
        )

        weights = context_weights.read_conditional(path, self.entry)
        arrays = weights.arrays
        if not weights_locator.is_tf_layout(path):
            arrays = to_tf_layout(arrays)
        network = ConditionalNetworkTF(self.entry, arrays, weights.width,
                                       weights.residual_blocks, weights.code_channels)
        return (network, weights.centres, weights.importance, weights.code_channels,
                reach(network.plan.context))

    def _analysis(self, network, batch: np.ndarray):
        import tensorflow as tf

        with tf.device("/CPU:0"):
            z, y = network.analysis(tf.constant(batch))
        return z.numpy()[0].transpose(2, 0, 1), y.numpy()[0]

    def _context_logits(self, network, values: np.ndarray, mask: np.ndarray,
                        depth: int) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            logits = network.context(tf.constant(values[None]), tf.constant(mask[None]))
        return logits.numpy()[0, depth].transpose(2, 0, 1)

    def _synthesis(self, network, z_hat: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.synthesis(tf.constant(z_hat.transpose(1, 2, 0)[None])).numpy()

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file (one for
        every rate point; ``quality`` is accepted for the command's sake)."""
        import numpy as np

        from codecbench.codecs.learned.context.tf.network import to_tf_layout

        path = self.torch_twin_weights(source, quality)
        weights = context_weights.read_conditional(path, self.entry)
        arrays = {**to_tf_layout(weights.arrays),
                  context_weights.IMPORTANCE_KEY: weights.importance.astype(np.float32)}
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug)
        write_tf_weights(arrays, weights.metadata, target, source=path)
        return target


def codecs() -> list[TFConditionalCodec]:
    """The family's TensorFlow twin, one per model of the table."""
    from codecbench.codecs.learned.models import CONDITIONAL_MODELS

    return [TFConditionalCodec(entry) for entry in CONDITIONAL_MODELS.values()]
