"""``tf/klopp2018-codespace``: the TensorFlow twin of ``torch/klopp2018-codespace``.

The network of :mod:`.network` on the torch weights, converted at load time (or a
``codecbench convert torch/klopp2018-codespace tf/klopp2018-codespace`` output,
``klopp2018-codespace.tf.safetensors`` in ``CODECBENCH_TF_WEIGHTS``), in the codec of
:mod:`codecbench.codecs.learned.codespace.codec`; the residuals are range coded with
tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`) with the same
16-bit tables as the torch codec's rANS. Imports tensorflow only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.codespace import weights as codespace_weights
from codecbench.codecs.learned.codespace.codec import CodeSpaceCodec
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import write_tf_weights
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np


class TFCodeSpaceCodec(TensorFlowFramework, CodeSpaceCodec):
    """The code-space predictor codec in TensorFlow on converted (or TF) weights."""

    coder = RangeIndexCoder()

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.codespace.tf.network import CodeSpaceNetwork

        arrays, sizes, _ = codespace_weights.read_codespace(path, self.entry)
        if not weights_locator.is_tf_layout(path):
            arrays = convert_state(arrays)
        plan = codespace_weights.plan_of(self.entry, sizes)
        return CodeSpaceNetwork(plan, arrays), arrays

    def _analysis(self, network, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            y = network.analysis(tf.constant(batch)).numpy()
        return y[0].transpose(2, 0, 1)

    def _predict(self, network, level: int, coarser: np.ndarray):
        import tensorflow as tf

        with tf.device("/CPU:0"):
            mean, log_scale = network.predict(level, tf.constant(coarser.transpose(1, 2, 0)[None]))
        return mean.numpy()[0].transpose(2, 0, 1), log_scale.numpy()[0].transpose(2, 0, 1)

    def _synthesis(self, network, y_hat: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.synthesis(tf.constant(y_hat.transpose(1, 2, 0)[None])).numpy()

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file (one for
        every rate point; ``quality`` is accepted for the command's sake)."""
        path = self.torch_twin_weights(source, quality)
        arrays, _, metadata = codespace_weights.read_codespace(path, self.entry)
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug)
        write_tf_weights(convert_state(arrays), metadata, target, source=path)
        return target


def codecs() -> list[TFCodeSpaceCodec]:
    """The family's TensorFlow twin, one per code-space model of the table."""
    from codecbench.codecs.learned.models import CODESPACE_MODELS

    return [TFCodeSpaceCodec(entry) for entry in CODESPACE_MODELS.values()]
