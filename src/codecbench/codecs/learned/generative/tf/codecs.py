"""``tf/agustsson2019-gc``: the TensorFlow twin of ``torch/agustsson2019-gc``.

The network of :mod:`.generative` on the torch weights, converted at load time (or a
``codecbench convert torch/agustsson2019-gc tf/agustsson2019-gc`` output,
``agustsson2019-gc-q<q>.tf.safetensors`` in ``CODECBENCH_TF_WEIGHTS``); the symbols are
range coded with tensorflow-compression's range coder (``entropy_encode_index``), each
channel with the same 16-bit frequencies as the torch codec's rANS
(:mod:`codecbench.codecs.learned.entropy.categorical_codes`). Imports tensorflow only when used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.generative.codec import GenerativeCodec, LoadedGenerative
from codecbench.codecs.learned.generative.torch import codecs as torch_generative
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.tf.index_coding import decode_index, encode_index
from codecbench.codecs.learned.tf.layout import convert_state
from codecbench.codecs.learned.tf.weights import read_tf_weights, write_tf_weights
from codecbench.frameworks.tf_runtime import TensorFlowFramework


def range_coder_lookup(probabilities: np.ndarray) -> np.ndarray:
    """tfc's CDF rows ``[precision, 0, F₁, …, 2¹⁶]`` per channel."""
    cumulative = categorical_codes.cumulative(probabilities)
    precision = np.full((len(cumulative), 1), categorical_codes.PRECISION)
    return np.concatenate([precision, cumulative], axis=1).astype(np.int32)


class TFGenerativeCodec(TensorFlowFramework, GenerativeCodec):
    """GC in TensorFlow on converted (or TF) weights."""

    def __init__(self, entry: GenerativeModel):
        super().__init__(entry, "tf")
        self.no_weights_reason = (
            f"no weights: the torch/{entry.slug} weights (converted at load time) or a "
            f"'codecbench convert' output in ${weights_locator.weights_env('tensorflow')}")

    def weights_file(self, quality: int) -> Path | None:
        return (weights_locator.find_weights("tensorflow", self.entry.slug, quality)
                or weights_locator.find_weights("torch", self.entry.slug, quality))

    def _load_network(self, path: Path) -> LoadedGenerative:
        from codecbench.codecs.learned.generative.tf.network import GenerativeNetwork

        if path.name.endswith(".tf.safetensors"):
            arrays, metadata = read_tf_weights(path, "generative")
            probabilities = arrays.pop(torch_generative.PROBABILITIES_KEY)
        else:
            quality = int(weights_format.read_metadata(path).get("quality", 0))
            arrays, probabilities, metadata = torch_generative.read_generative(
                path, self.entry, quality)
            arrays = convert_state(arrays)
        widths = tuple(int(w) for w in metadata["widths"].split(","))
        network = GenerativeNetwork(self.entry, arrays, widths,
                                    int(metadata["residual_blocks"]), int(metadata["channels"]))
        return LoadedGenerative(network, probabilities)

    def _symbols(self, network, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            symbols = network.symbols(tf.constant(batch)).numpy()
        return symbols[0].transpose(2, 0, 1).astype(np.int64)

    def _reconstruct(self, network, symbols: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        with tf.device("/CPU:0"):
            return network.synthesis(tf.constant(symbols.transpose(1, 2, 0)[None])).numpy()

    def _coder_tables(self, probabilities: np.ndarray):
        return range_coder_lookup(probabilities)

    def _encode_symbols(self, symbols: np.ndarray, tables) -> bytes:
        return encode_index(symbols, categorical_codes.channel_indexes(symbols.shape), tables)

    def _decode_symbols(self, string: bytes, shape: tuple[int, ...], tables) -> np.ndarray:
        indexes = categorical_codes.channel_indexes(shape)
        return decode_index(string, indexes, tables, "symbol").astype(np.int64)

    def convert_from(self, source, quality: int, out_dir: Path) -> Path:
        """``codecbench convert torch/<slug> tf/<slug>``: the TF-layout weights file."""

        if source.name != f"torch/{self.entry.slug}":
            raise ValueError(f"{self.name} converts torch/{self.entry.slug}, not {source.name}")
        path = source.weights_file(quality)
        if path is None:
            raise ValueError(f"{source.name} has no weights for quality {quality}")
        arrays, probabilities, metadata = torch_generative.read_generative(
            path, self.entry, quality)
        arrays = {**convert_state(arrays),
                  torch_generative.PROBABILITIES_KEY: probabilities.astype(np.float32)}
        target = Path(out_dir) / weights_locator.weights_filename("tensorflow", self.entry.slug, quality)
        write_tf_weights(arrays, {**metadata,
                                    "source": weights_format.weights_id(path).hex()}, target)
        return target
