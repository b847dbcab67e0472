"""``torch/toderici2016-lstm``, ``torch/toderici2017-gru``, ``torch/johnston2018-priming``
(and, on the last, ``torch/johnston2018-adaptive``: :mod:`.adaptive`).

The recurrent networks of :mod:`.network` in the progressive codec of
:mod:`codecbench.codecs.learned.recurrent.codec`; the binary codes are range coded with
CompressAI's rANS coder (:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`),
one string per iteration, each bit with the 16-bit split of its context
(:mod:`codecbench.codecs.learned.entropy.binary_codes`). Weights: ``<slug>.safetensors``
(:mod:`.weights`). Imports torch only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.codec import LearnedCodec
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent.codec import RecurrentCodec
from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np


class TorchRecurrentCodec(TorchFramework, RecurrentCodec):
    """A recurrent model of the table, in PyTorch, on our weights."""

    coder = RansIndexCoder()

    def __init__(self, entry: RecurrentModel):
        super().__init__(entry)

    def _load_network(self, path: Path):
        network, probabilities, _ = recurrent_weights.load_recurrent(path, self.entry)
        return network, probabilities

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

    def train(self, config):
        """Train this model with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.recurrent.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[LearnedCodec]:
    """The family's PyTorch codecs: one per recurrent model of the table, then one per
    spatially adaptive model (on its base model's codec)."""
    from codecbench.codecs.learned.models import ADAPTIVE_RECURRENT_MODELS, RECURRENT_MODELS
    from codecbench.codecs.learned.recurrent.torch.adaptive import TorchAdaptiveCodec

    fixed: list[LearnedCodec] = [TorchRecurrentCodec(entry) for entry in RECURRENT_MODELS.values()]
    return [*fixed, *(TorchAdaptiveCodec(entry, TorchRecurrentCodec(RECURRENT_MODELS[entry.base]))
                      for entry in ADAPTIVE_RECURRENT_MODELS.values())]
