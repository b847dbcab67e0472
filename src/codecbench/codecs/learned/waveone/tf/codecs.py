"""``tf/rippel2017-waveone``: the TensorFlow twin of ``torch/rippel2017-waveone``.

The network of :mod:`.network` on the torch weights, converted at load time (or a
``codecbench convert torch/rippel2017-waveone tf/rippel2017-waveone`` output,
``rippel2017-waveone.tf.safetensors`` in ``CODECBENCH_TF_WEIGHTS``), in the progressive
codec of :mod:`codecbench.codecs.learned.waveone.codec`; the bitplanes are range coded with
tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`) with the same
16-bit context frequencies as the torch codec's rANS. Imports tensorflow only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import write_tf_weights
from codecbench.codecs.learned.waveone import weights as waveone_weights
from codecbench.codecs.learned.waveone.codec import WaveOneCodec
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np


class TFWaveOneCodec(TensorFlowFramework, WaveOneCodec):
    """WaveOne in TensorFlow on converted (or TF) weights."""

    coder = RangeIndexCoder()

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.waveone.tf.network import WaveOneNetwork

        arrays, probabilities, metadata = waveone_weights.read_waveone(path, self.entry)
        if not weights_locator.is_tf_layout(path):
            arrays = convert_state(arrays)
        network = WaveOneNetwork(self.entry, arrays, int(metadata["width"]),
                                 int(metadata["code_channels"]))
        return network, probabilities

    def _analysis(self, network, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            y = network.analysis(tf.constant(batch)).numpy()
        return y[0].transpose(2, 0, 1)

    def _synthesis(self, network, y_hat: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.synthesis(tf.constant(y_hat.transpose(1, 2, 0)[None])).numpy()

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file (one for
        every rate point; ``quality`` is accepted for the command's sake)."""
        import numpy as np

        path = self.torch_twin_weights(source, quality)
        arrays, probabilities, metadata = waveone_weights.read_waveone(path, self.entry)
        arrays = {**convert_state(arrays),
                  waveone_weights.CONTEXT_KEY: probabilities.astype(np.float32)}
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug)
        write_tf_weights(arrays, metadata, target, source=path)
        return target


def codecs() -> list[TFWaveOneCodec]:
    """The family's TensorFlow twin, one per WaveOne model of the table."""
    from codecbench.codecs.learned.models import WAVEONE_MODELS

    return [TFWaveOneCodec(entry) for entry in WAVEONE_MODELS.values()]
