"""``torch/minnen2017-tiled``: the tiled codec of
:mod:`codecbench.codecs.learned.tiled.codec` on the PyTorch networks (:mod:`.network`),
counts and bits range coded with CompressAI's rANS
(:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`). Weights:
``minnen2017-tiled.safetensors`` (:mod:`codecbench.codecs.learned.tiled.weights`), looked
up like every torch weights file. Imports torch only when used.
"""

from __future__ import annotations

from pathlib import Path

from codecbench.codecs.learned.tiled.codec import TiledCodec
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.frameworks.torch_runtime import TorchFramework


class TorchTiledCodec(TorchFramework, TiledCodec):
    """The tiled codec in PyTorch on our weights (CPU)."""

    coder = RansIndexCoder()

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.tiled.torch.weights import TorchTileCoder, load_tiled

        network, contents = load_tiled(path, self.entry)
        return TorchTileCoder(network), contents

    def train(self, config):
        """Train with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.tiled.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[TorchTiledCodec]:
    """The family's PyTorch codec, one per tiled model of the table."""
    from codecbench.codecs.learned.models import TILED_MODELS

    return [TorchTiledCodec(entry) for entry in TILED_MODELS.values()]
