"""``torch/rippel2017-waveone``: WaveOne (:mod:`.network`) in the progressive codec of
:mod:`codecbench.codecs.learned.waveone.codec`, the bitplanes range coded with CompressAI's
rANS (:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`). Weights:
``rippel2017-waveone.safetensors`` (:mod:`codecbench.codecs.learned.waveone.weights`),
looked up like every torch weights file. Imports torch only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.codecs.learned.waveone import weights as waveone_weights
from codecbench.codecs.learned.waveone.codec import WaveOneCodec
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np


def read_waveone(path: Path, entry: WaveOneModel):
    """``(network in eval mode, context probabilities, metadata)`` of a weights file."""
    import torch

    from codecbench.codecs.learned.waveone.torch.network import WaveOne

    arrays, probabilities, metadata = waveone_weights.read_waveone(path, entry)
    network = WaveOne(entry, int(metadata["width"]), int(metadata["code_channels"]))
    network.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    return network.eval(), probabilities, metadata


def save_waveone(network, probabilities, path: Path, metadata: dict[str, str],
                 half_kernels: bool = False) -> None:
    import torch

    state = dict(network.state_dict())
    state[waveone_weights.CONTEXT_KEY] = torch.as_tensor(probabilities, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": waveone_weights.KIND, "width": str(network.width),
        "code_channels": str(network.code_channels), **metadata}, half_kernels)


class TorchWaveOneCodec(TorchFramework, WaveOneCodec):
    """WaveOne in PyTorch on our weights."""

    coder = RansIndexCoder()

    def _load_network(self, path: Path):
        network, probabilities, _ = read_waveone(path, self.entry)
        return network, probabilities

    def _analysis(self, network, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            y = network.analysis(torch.from_numpy(batch).permute(0, 3, 1, 2))
        return y[0].numpy()

    def _synthesis(self, network, y_hat: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x_hat = network.synthesis(torch.from_numpy(y_hat)[None])
        return x_hat.permute(0, 2, 3, 1).numpy()

    def train(self, config):
        """Train with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.waveone.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[TorchWaveOneCodec]:
    """The family's PyTorch codec, one per WaveOne model of the table."""
    from codecbench.codecs.learned.models import WAVEONE_MODELS

    return [TorchWaveOneCodec(entry) for entry in WAVEONE_MODELS.values()]
