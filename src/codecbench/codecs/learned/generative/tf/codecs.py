"""``tf/agustsson2019-gc``: the TensorFlow twin of ``torch/agustsson2019-gc``.

The network of :mod:`.generative` on the torch weights, converted at load time (or a
``codecbench convert torch/agustsson2019-gc tf/agustsson2019-gc`` output,
``agustsson2019-gc-q<q>.tf.safetensors`` in ``CODECBENCH_TF_WEIGHTS``); the symbols are
range coded with tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`), each
channel with the same 16-bit frequencies as the torch codec's rANS
(:mod:`codecbench.codecs.learned.entropy.categorical_codes`). Imports tensorflow only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.generative import weights as generative_weights
from codecbench.codecs.learned.generative.codec import GenerativeCodec, LoadedGenerative
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import write_tf_weights
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np


class TFGenerativeCodec(TensorFlowFramework, GenerativeCodec):
    """GC in TensorFlow on converted (or TF) weights."""

    coder = RangeIndexCoder()

    def __init__(self, entry: GenerativeModel):
        super().__init__(entry)

    def _load_network(self, path: Path, quality: int) -> LoadedGenerative:
        from codecbench.codecs.learned.generative.tf.network import GenerativeNetwork

        arrays, probabilities, metadata = generative_weights.read_generative(
            path, self.entry, quality)
        if not weights_locator.is_tf_layout(path):
            arrays = convert_state(arrays)
        network = GenerativeNetwork(self.entry, arrays, generative_weights.widths(metadata),
                                    int(metadata["residual_blocks"]), int(metadata["channels"]))
        return LoadedGenerative(network, probabilities)

    def _symbols(self, network, batch: np.ndarray) -> np.ndarray:
        import numpy as np
        import tensorflow as tf

        with tf.device("/CPU:0"):
            symbols = network.symbols(tf.constant(batch)).numpy()
        return symbols[0].transpose(2, 0, 1).astype(np.int64)

    def _reconstruct(self, network, symbols: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.synthesis(tf.constant(symbols.transpose(1, 2, 0)[None])).numpy()

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file."""
        import numpy as np

        path = self.torch_twin_weights(source, quality)
        arrays, probabilities, metadata = generative_weights.read_generative(
            path, self.entry, quality)
        arrays = {**convert_state(arrays),
                  generative_weights.PROBABILITIES_KEY: probabilities.astype(np.float32)}
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug,
                                                                 quality)
        write_tf_weights(arrays, metadata, target, source=path)
        return target


def codecs() -> list[TFGenerativeCodec]:
    """The family's TensorFlow twins, one per GC model of the table."""
    from codecbench.codecs.learned.models import GENERATIVE_MODELS

    return [TFGenerativeCodec(entry) for entry in GENERATIVE_MODELS.values()]
