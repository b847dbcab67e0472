"""``torch/agustsson2019-gc``: GC (:mod:`.generative`) in the codec of
:mod:`codecbench.codecs.learned.generative.codec`, symbols range coded with CompressAI's rANS
(``compressai.ans``), each channel with its row of the symbol table.

Weights: ``agustsson2019-gc-q<q>.safetensors`` (kind ``generative``; the network's
``state_dict`` plus ``symbols.probabilities``, C × L), looked up like every torch
weights file (``CODECBENCH_TORCH_WEIGHTS``, then the package). Imports torch only when
used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.generative.codec import GenerativeCodec, LoadedGenerative
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.torch import rans
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.frameworks.torch_runtime import TorchFramework

PROBABILITIES_KEY = "symbols.probabilities"


def rans_tables(probabilities: np.ndarray) -> list[list[int]]:
    """CompressAI rANS rows ``[0, F₁, …, 2¹⁶, 2¹⁶]``: the cumulative frequencies and the
    coder's escape bin, given zero probability (symbols never exceed the alphabet)."""
    cumulative = categorical_codes.cumulative(probabilities)
    return [[*map(int, row), 1 << categorical_codes.PRECISION] for row in cumulative]


def read_generative(path: Path, entry: GenerativeModel, quality: int):
    """``(state arrays, probabilities, metadata)`` of a GC weights file (numpy)."""
    arrays, metadata = weights_format.read_tensors(path, "generative")
    if metadata.get("model") != entry.slug or int(metadata.get("quality", 0)) != quality:
        raise ValueError(f"{path} holds {metadata.get('model')!r} quality "
                         f"{metadata.get('quality')}, not {entry.slug!r} quality {quality}")
    probabilities = arrays.pop(PROBABILITIES_KEY, None)
    if probabilities is None:
        raise ValueError(f"{path} has no {PROBABILITIES_KEY} table")
    return arrays, probabilities, metadata


def network_of(entry: GenerativeModel, metadata: dict[str, str]):
    from codecbench.codecs.learned.generative.torch.network import GenerativeCompressor

    widths = tuple(int(w) for w in metadata["widths"].split(","))
    return GenerativeCompressor(entry, int(metadata["channels"]), widths,
                                int(metadata["residual_blocks"]))


def save_generative(network, probabilities, path: Path, metadata: dict[str, str],
                    widths, residual_blocks: int, half_kernels: bool = False) -> None:
    import torch

    state = dict(network.state_dict())
    state[PROBABILITIES_KEY] = torch.as_tensor(probabilities, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": "generative", "widths": ",".join(map(str, widths)),
        "residual_blocks": str(residual_blocks), **metadata}, half_kernels)


class TorchGenerativeCodec(TorchFramework, GenerativeCodec):
    """A GC model of the table, in PyTorch, on our weights."""

    def __init__(self, entry: GenerativeModel):
        super().__init__(entry, "torch")
        self.no_weights_reason = weights_locator.no_weights_hint(
            "torch", f"codecbench train {self.name}")

    def weights_file(self, quality: int) -> Path | None:
        return weights_locator.find_weights("torch", self.entry.slug, quality)

    def _load_network(self, path: Path) -> LoadedGenerative:
        import torch

        quality = int(weights_format.read_metadata(path).get("quality", 0))
        arrays, probabilities, metadata = read_generative(path, self.entry, quality)
        network = network_of(self.entry, metadata)
        network.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
        return LoadedGenerative(network.eval(), probabilities)

    def _symbols(self, network, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            _, symbols = network.quantise(network.analysis(
                torch.from_numpy(batch).permute(0, 3, 1, 2)))
        return symbols[0].numpy().astype(np.int64)

    def _reconstruct(self, network, symbols: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            y_hat = network.symbols_to_latent(torch.from_numpy(symbols)[None])
            return network.synthesis(y_hat).permute(0, 2, 3, 1).numpy()

    def _coder_tables(self, probabilities: np.ndarray):
        return rans_tables(probabilities)

    def _encode_symbols(self, symbols: np.ndarray, tables) -> bytes:
        from compressai.ans import RansEncoder

        indexes = categorical_codes.channel_indexes(symbols.shape)
        return RansEncoder().encode_with_indexes(
            symbols.ravel().astype(np.int32).tolist(), indexes.ravel().astype(np.int32).tolist(),
            tables, [len(row) for row in tables], [0] * len(tables))

    def _decode_symbols(self, string: bytes, shape: tuple[int, ...], tables) -> np.ndarray:
        from compressai.ans import RansDecoder

        indexes = categorical_codes.channel_indexes(shape)
        values = RansDecoder().decode_with_indexes(
            rans.padded_for_decoding(string, indexes.size),  # see torch.rans
            indexes.ravel().astype(np.int32).tolist(), tables,
            [len(row) for row in tables], [0] * len(tables))
        return np.asarray(values, dtype=np.int64).reshape(shape)

    def train(self, config):
        """Train this model with ``codecbench train`` (see :mod:`.generative_training`)."""
        from codecbench.codecs.learned.generative.torch.training import train

        return train(self.entry, self.name, config)
