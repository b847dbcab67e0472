"""Load and save the tiled codec's torch weights (format: :mod:`..weights`), and the
framework hooks of :class:`~codecbench.codecs.learned.tiled.tiles.TileCoder` on a torch
network. Imports torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from codecbench.codecs.learned.models import TiledModel
from codecbench.codecs.learned.tiled import weights as tiled_weights
from codecbench.codecs.learned.tiled.torch.network import TiledNetwork
from codecbench.codecs.learned.torch import weights as weights_io


def load_tiled(path: Path, entry: TiledModel) -> tuple[TiledNetwork, tiled_weights.TiledWeights]:
    """The network (eval mode) and the file's contents."""
    contents = tiled_weights.read_tiled(path, entry)
    network = TiledNetwork(entry, *contents.widths)
    network.load_state_dict({k: torch.from_numpy(v) for k, v in contents.arrays.items()})
    return network.eval(), contents


def save_tiled(network: TiledNetwork, bit_table: np.ndarray, count_table: np.ndarray,
               path: Path, metadata: dict[str, str], half_kernels: bool = False) -> None:
    """Write ``network`` and its two tables as a weights file, atomically."""
    plan = network.plan
    state = dict(network.state_dict())
    state[tiled_weights.BITS_KEY] = torch.as_tensor(bit_table, dtype=torch.float32)
    state[tiled_weights.COUNTS_KEY] = torch.as_tensor(count_table, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": tiled_weights.KIND, "predictor_width": str(plan.predictor_width),
        "coder_width": str(plan.coder_width), "code_channels": str(plan.code_channels),
        **metadata}, half_kernels)


class TorchTileCoder:
    """:class:`~codecbench.codecs.learned.tiled.tiles.TileCoder` on a torch network (CPU)."""

    def __init__(self, network: TiledNetwork):
        self.network = network

    @staticmethod
    def _nchw(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(0, 3, 1, 2)

    @staticmethod
    def _nhwc(tensor: torch.Tensor) -> np.ndarray:
        return tensor.permute(0, 2, 3, 1).numpy()

    def predict(self, contexts: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._nhwc(self.network.predict(self._nchw(contexts)))

    def encode(self, residuals: np.ndarray, iteration: int) -> np.ndarray:
        with torch.no_grad():
            codes = self.network.encode(self._nchw(residuals), iteration)
        return (self._nhwc(codes) > 0).astype(np.uint8)

    def decode(self, bits: np.ndarray, iteration: int) -> np.ndarray:
        codes = self._nchw(bits.astype(np.float32) * 2 - 1)
        with torch.no_grad():
            return self._nhwc(self.network.decode(codes, iteration))
