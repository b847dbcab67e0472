"""``tf/toderici2016-lstm``, ``tf/toderici2017-gru``, ``tf/johnston2018-priming``
(and, on the last, ``tf/johnston2018-adaptive``: :mod:`.adaptive`).

The TensorFlow twins of the torch recurrent codecs, in the same progressive container; the
binary codes are range coded with tensorflow-compression's range coder
(:class:`~codecbench.codecs.learned.tf.entropy_coding.RangeIndexCoder`), each bit with its
context's 16-bit split (:mod:`codecbench.codecs.learned.entropy.binary_codes`) — the same probabilities
as the torch codec, a different library coder, so the codes are identical and the files
differ by a few bytes. Weights, first match wins:

1. ``<slug>.tf.safetensors`` in a ``CODECBENCH_TF_WEIGHTS`` folder (``codecbench convert
   torch/<slug> tf/<slug>``: TF layouts, format ``codecbench-tf-weights/1``, kind
   ``recurrent``);
2. the torch weights of ``torch/<slug>``, converted at load time.

Imports tensorflow only when a codec is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_locator
from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent import weights as recurrent_weights
from codecbench.codecs.learned.recurrent.codec import RecurrentCodec
from codecbench.codecs.learned.tf.entropy_coding import RangeIndexCoder
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import read_tf_weights, write_tf_weights
from codecbench.frameworks.tf_runtime import TensorFlowFramework

if TYPE_CHECKING:
    import numpy as np


class TFRecurrentCodec(TensorFlowFramework, RecurrentCodec):
    """A recurrent model of the table in TensorFlow, on converted (or TF) weights."""

    coder = RangeIndexCoder()

    def __init__(self, entry: RecurrentModel):
        super().__init__(entry)

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.recurrent.tf.network import RecurrentNetwork

        if weights_locator.is_tf_layout(path):
            arrays, metadata = read_tf_weights(path, "recurrent")
        else:
            arrays, metadata = recurrent_weights.read_tensors(path)
            arrays = convert_state(arrays)
        probabilities = recurrent_weights.split_context(arrays, metadata, path, self.entry)
        return RecurrentNetwork(self.entry, arrays), probabilities

    def _run_network(self, network, batch: np.ndarray, iterations: int) -> list[np.ndarray]:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return [code.numpy() for code in network.encode(tf.constant(batch), iterations)]

    def _reconstruct(self, network, codes: list[np.ndarray]) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.decode([tf.constant(code) for code in codes]).numpy()

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file (one for
        every rate point; ``quality`` is accepted for the command's sake)."""
        path = self.torch_twin_weights(source, quality)
        arrays, metadata = recurrent_weights.read_tensors(path)
        arrays = convert_state(arrays)
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug)
        write_tf_weights(arrays, metadata, target, source=path)
        return target


def codecs() -> list[LearnedCodec]:
    """The family's TensorFlow twins: one per recurrent model of the table, then one per
    spatially adaptive model (on its base model's codec)."""
    from codecbench.codecs.learned.models import ADAPTIVE_RECURRENT_MODELS, RECURRENT_MODELS
    from codecbench.codecs.learned.recurrent.tf.adaptive import TFAdaptiveCodec

    fixed: list[LearnedCodec] = [TFRecurrentCodec(entry) for entry in RECURRENT_MODELS.values()]
    return [*fixed, *(TFAdaptiveCodec(entry, TFRecurrentCodec(RECURRENT_MODELS[entry.base]))
                      for entry in ADAPTIVE_RECURRENT_MODELS.values())]
