"""``torch/toderici2016-lstm``, ``torch/toderici2017-gru``, ``torch/johnston2018-priming``.

The recurrent networks of :mod:`.recurrent` in the progressive codec of
:mod:`codecbench.codecs.learned.recurrent.codec`; the binary codes are range coded with
CompressAI's rANS coder (``compressai.ans``), one string per iteration, each bit with the
16-bit split of its context (:mod:`codecbench.codecs.learned.entropy.binary_codes`). Weights:
``<slug>.safetensors`` (:mod:`.recurrent_weights`). Imports torch only when used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent.codec import LoadedRecurrent, RecurrentCodec
from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights
from codecbench.codecs.learned.torch import rans
from codecbench.frameworks.torch_runtime import TorchFramework

ESCAPE_FREE_CDF_LENGTH = 4
"""CompressAI's rANS tables end with an escape bin: ``[0, f₀, 2¹⁶, 2¹⁶]`` codes bits 0 and 1
with the context's split and gives the (never used) escape symbol zero probability."""


def rans_tables(frequencies: np.ndarray) -> list[list[int]]:
    """CompressAI rANS CDF rows of the per-context zero frequencies."""
    top = 1 << binary_codes.PRECISION
    return [[0, int(f), top, top] for f in frequencies]


def rans_encode_bits(bits: np.ndarray, indexes: np.ndarray, tables) -> bytes:
    """One rANS string of ``bits``, each with the table row of its context index."""
    from compressai.ans import RansEncoder

    return RansEncoder().encode_with_indexes(
        bits.ravel().astype(np.int32).tolist(), indexes.ravel().astype(np.int32).tolist(),
        tables, [ESCAPE_FREE_CDF_LENGTH] * len(tables), [0] * len(tables))


def rans_decode_bits(string: bytes, indexes: np.ndarray, tables) -> np.ndarray:
    """The inverse of :func:`rans_encode_bits` (bits shaped like ``indexes``); the string
    is padded for the decoder (:mod:`codecbench.codecs.learned.torch.rans`)."""
    from compressai.ans import RansDecoder

    values = RansDecoder().decode_with_indexes(
        rans.padded_for_decoding(string, indexes.size),
        indexes.ravel().astype(np.int32).tolist(), tables,
        [ESCAPE_FREE_CDF_LENGTH] * len(tables), [0] * len(tables))
    bits = np.asarray(values, dtype=np.int64).reshape(indexes.shape)
    if bits.min(initial=0) < 0 or bits.max(initial=0) > 1:
        raise ValueError("corrupt code string: decoded symbols outside {0, 1}")
    return bits.astype(np.uint8)


class TorchRecurrentCodec(TorchFramework, RecurrentCodec):
    """A recurrent model of the table, in PyTorch, on our weights."""

    def __init__(self, entry: RecurrentModel):
        super().__init__(entry, "torch")
        self.no_weights_reason = weights_locator.no_weights_hint(
            "torch", f"codecbench train {self.name}")

    def weights_file(self) -> Path | None:
        return weights_locator.find_weights("torch", self.entry.slug)

    def _load_network(self) -> LoadedRecurrent:
        path = self.weights_file()
        if path is None:
            raise FileNotFoundError(self.no_weights_reason)
        network, probabilities, _ = recurrent_weights.load_recurrent(path, self.entry)
        return LoadedRecurrent(network, probabilities, weights_format.weights_id(path))

    def _run_network(self, network, batch: np.ndarray, iterations: int) -> list[np.ndarray]:
        import torch

        with torch.no_grad():
            x = torch.from_numpy(batch).permute(0, 3, 1, 2)
            codes, _ = network(x, iterations, stochastic=False)
        return [code.permute(0, 2, 3, 1).numpy() for code in codes]

    def _reconstruct(self, network, codes: list[np.ndarray]) -> np.ndarray:
        import torch

        tensors = [torch.from_numpy(code).permute(0, 3, 1, 2) for code in codes]
        return network.decode(tensors)[-1].permute(0, 2, 3, 1).numpy()

    def _coder_tables(self, zero_frequencies: np.ndarray):
        return rans_tables(zero_frequencies)

    def _encode_bits(self, bits: np.ndarray, indexes: np.ndarray, tables) -> bytes:
        return rans_encode_bits(bits, indexes, tables)

    def _decode_bits(self, string: bytes, indexes: np.ndarray, tables) -> np.ndarray:
        return rans_decode_bits(string, indexes, tables)

    def train(self, config):
        """Train this model with ``codecbench train`` (see :mod:`.recurrent_training`)."""
        from codecbench.codecs.learned.recurrent.torch.training import train

        return train(self.entry, self.name, config)
