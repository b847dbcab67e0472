"""``tf/toderici2016-lstm``, ``tf/toderici2017-gru``, ``tf/johnston2018-priming``.

The TensorFlow twins of the torch recurrent codecs (:mod:`.recurrent`), in the same
progressive container; the binary codes are range coded with tensorflow-compression's
range coder (``tfc.create_range_encoder`` / ``entropy_encode_index``), each bit with its
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

import numpy as np

from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent.codec import LoadedRecurrent, RecurrentCodec
from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights
from codecbench.codecs.learned.tf.index_coding import decode_index, encode_index
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import read_tf_weights, write_tf_weights
from codecbench.codecs.learned.weights_format import TF_FORMAT
from codecbench.frameworks.tf_runtime import TensorFlowFramework


def range_coder_lookup(frequencies: np.ndarray) -> np.ndarray:
    """tfc's CDF rows ``[precision, 0, f₀, 2¹⁶]`` of the per-context zero frequencies."""
    top = 1 << binary_codes.PRECISION
    rows = np.empty((len(frequencies), 4), dtype=np.int32)
    rows[:, 0] = binary_codes.PRECISION
    rows[:, 1] = 0
    rows[:, 2] = frequencies
    rows[:, 3] = top
    return rows


class TFRecurrentCodec(TensorFlowFramework, RecurrentCodec):
    """A recurrent model of the table in TensorFlow, on converted (or TF) weights."""

    def __init__(self, entry: RecurrentModel):
        super().__init__(entry, "tf")
        self.no_weights_reason = (
            f"no weights: the torch/{entry.slug} weights (converted at load time) or a "
            f"'codecbench convert' output in ${weights_locator.weights_env('tensorflow')}")

    def weights_file(self) -> Path | None:
        return (weights_locator.find_weights("tensorflow", self.entry.slug)
                or weights_locator.find_weights("torch", self.entry.slug))

    def _load_network(self) -> LoadedRecurrent:
        from codecbench.codecs.learned.recurrent.tf.network import RecurrentNetwork

        path = self.weights_file()
        if path is None:
            raise FileNotFoundError(self.no_weights_reason)
        if path.name.endswith(".tf.safetensors"):
            arrays, metadata = read_tf_weights(path, "recurrent")
        else:
            arrays, metadata = recurrent_weights.read_tensors(path)
            arrays = convert_state(arrays)
        if metadata.get("model") != self.entry.slug:
            raise ValueError(f"{path} holds weights of {metadata.get('model')!r}, "
                             f"not {self.entry.slug!r}")
        probabilities = arrays.pop(recurrent_weights.CONTEXT_KEY, None)
        network = RecurrentNetwork(self.entry, arrays)
        return LoadedRecurrent(network, probabilities, weights_format.weights_id(path))

    def _run_network(self, network, batch: np.ndarray, iterations: int) -> list[np.ndarray]:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return [code.numpy() for code in network.encode(tf.constant(batch), iterations)]

    def _reconstruct(self, network, codes: list[np.ndarray]) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.decode([tf.constant(code) for code in codes]).numpy()

    def _coder_tables(self, zero_frequencies: np.ndarray):
        return range_coder_lookup(zero_frequencies)

    def _encode_bits(self, bits: np.ndarray, indexes: np.ndarray, tables) -> bytes:
        return encode_index(bits, indexes, tables)

    def _decode_bits(self, string: bytes, indexes: np.ndarray, tables) -> np.ndarray:
        return decode_index(string, indexes, tables, "code").astype(np.uint8)

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file (one for
        every rate point; ``quality`` is accepted for the command's sake)."""
        if source.name != f"torch/{self.entry.slug}":
            raise ValueError(f"{self.name} converts torch/{self.entry.slug}, not {source.name}")
        path = source.weights_file()
        if path is None:
            raise ValueError(f"{source.name} has no weights")
        arrays, metadata = recurrent_weights.read_tensors(path)
        arrays = convert_state(arrays)
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug)
        metadata = {**metadata, "format": TF_FORMAT,
                    "source": weights_format.weights_id(path).hex()}
        write_tf_weights(arrays, metadata, target)
        return target
