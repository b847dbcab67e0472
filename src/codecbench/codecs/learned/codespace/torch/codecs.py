"""``torch/klopp2018-codespace``: the code-space predictor network (:mod:`.network`) in the
codec of :mod:`codecbench.codecs.learned.codespace.codec`, the residuals range coded with
CompressAI's rANS (:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`).
Weights: ``klopp2018-codespace.safetensors``
(:mod:`codecbench.codecs.learned.codespace.weights`), looked up like every torch weights
file. The network runs on the CPU (every prediction the decoder must reproduce comes from
it). Imports torch only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.codespace import weights as codespace_weights
from codecbench.codecs.learned.codespace.codec import CodeSpaceCodec
from codecbench.codecs.learned.models import CodeSpaceModel
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np


def read_codespace(path: Path, entry: CodeSpaceModel):
    """``(network in eval mode, checked arrays, metadata)`` of a weights file."""
    import torch

    from codecbench.codecs.learned.codespace.torch.network import CodeSpace

    arrays, sizes, metadata = codespace_weights.read_codespace(path, entry)
    network = CodeSpace(entry, sizes["width"], sizes["code_channels"], sizes["predictor_width"])
    network.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    return network.eval(), arrays, metadata


def save_codespace(network, path: Path, metadata: dict[str, str],
                   half_kernels: bool = False) -> None:
    weights_io.save_tensors(dict(network.state_dict()), path, {
        "kind": codespace_weights.KIND, "width": str(network.width),
        "code_channels": str(network.code_channels),
        "predictor_width": str(network.predictor_width),
        "levels": str(network.entry.levels), **metadata}, half_kernels)


class TorchCodeSpaceCodec(TorchFramework, CodeSpaceCodec):
    """The code-space predictor codec in PyTorch on our weights."""

    coder = RansIndexCoder()

    def _load_network(self, path: Path):
        network, arrays, _ = read_codespace(path, self.entry)
        return network, arrays

    def _analysis(self, network, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            y = network.analysis(torch.from_numpy(batch).permute(0, 3, 1, 2))
        return y[0].numpy()

    def _predict(self, network, level: int, coarser: np.ndarray):
        import torch

        with torch.no_grad():
            mean, log_scale = network.predict(level, torch.from_numpy(coarser)[None])
        return mean[0].numpy(), log_scale[0].numpy()

    def _synthesis(self, network, y_hat: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x_hat = network.synthesis(torch.from_numpy(y_hat)[None])
        return x_hat.permute(0, 2, 3, 1).numpy()

    def train(self, config):
        """Train with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.codespace.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[TorchCodeSpaceCodec]:
    """The family's PyTorch codec, one per code-space model of the table."""
    from codecbench.codecs.learned.models import CODESPACE_MODELS

    return [TorchCodeSpaceCodec(entry) for entry in CODESPACE_MODELS.values()]
