"""``torch/agustsson2019-gc``: GC (:mod:`.generative`) in the codec of
:mod:`codecbench.codecs.learned.generative.codec`, symbols range coded with CompressAI's rANS
(:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`), each channel
with its row of the symbol table.

Weights: ``agustsson2019-gc-q<q>.safetensors`` (kind ``generative``; the network's
``state_dict`` plus ``symbols.probabilities``, C × L), looked up like every torch
weights file (``CODECBENCH_TORCH_WEIGHTS``, then the package). Imports torch only when
used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.generative import weights as generative_weights
from codecbench.codecs.learned.generative.codec import GenerativeCodec, LoadedGenerative
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np


def network_of(entry: GenerativeModel, metadata: dict[str, str]):
    from codecbench.codecs.learned.generative.torch.network import GenerativeCompressor

    return GenerativeCompressor(entry, int(metadata["channels"]), generative_weights.widths(metadata),
                                int(metadata["residual_blocks"]))


def save_generative(network, probabilities, path: Path, metadata: dict[str, str],
                    widths, residual_blocks: int, half_kernels: bool = False) -> None:
    import torch

    state = dict(network.state_dict())
    state[generative_weights.PROBABILITIES_KEY] = torch.as_tensor(probabilities, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": generative_weights.KIND, "widths": ",".join(map(str, widths)),
        "residual_blocks": str(residual_blocks), **metadata}, half_kernels)


class TorchGenerativeCodec(TorchFramework, GenerativeCodec):
    """A GC model of the table, in PyTorch, on our weights."""

    coder = RansIndexCoder()

    def __init__(self, entry: GenerativeModel):
        super().__init__(entry)

    def _load_network(self, path: Path, quality: int) -> LoadedGenerative:
        import torch

        arrays, probabilities, metadata = generative_weights.read_generative(
            path, self.entry, quality)
        network = network_of(self.entry, metadata)
        network.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
        return LoadedGenerative(network.eval(), probabilities)

    def _symbols(self, network, batch: np.ndarray) -> np.ndarray:
        import numpy as np
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

    def train(self, config):
        """Train this model with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.generative.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[TorchGenerativeCodec]:
    """The family's PyTorch codecs, one per GC model of the table."""
    from codecbench.codecs.learned.models import GENERATIVE_MODELS

    return [TorchGenerativeCodec(entry) for entry in GENERATIVE_MODELS.values()]
