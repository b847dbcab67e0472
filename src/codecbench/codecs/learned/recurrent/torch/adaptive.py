"""``torch/johnston2018-adaptive``: spatially adaptive bit rates on the torch priming codec.

The stop-map codec of :mod:`codecbench.codecs.learned.recurrent.adaptive` running the
network and weights of ``torch/johnston2018-priming``
(:class:`~codecbench.codecs.learned.recurrent.torch.codecs.TorchRecurrentCodec`), its
codes and stop map range coded with CompressAI's rANS
(:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`). Imports torch
only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.codecs.learned.models import AdaptiveRecurrentModel
from codecbench.codecs.learned.recurrent.adaptive import AdaptiveRecurrentCodec
from codecbench.codecs.learned.recurrent.torch.codecs import TorchRecurrentCodec
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np


class TorchAdaptiveCodec(TorchFramework, AdaptiveRecurrentCodec):
    """A spatially adaptive recurrent codec of the table, in PyTorch."""

    coder = RansIndexCoder()

    def __init__(self, entry: AdaptiveRecurrentModel, fixed: TorchRecurrentCodec):
        super().__init__(entry, fixed)

    def _context(self):
        import torch

        return torch.no_grad()

    def _tensor(self, array: np.ndarray):
        import numpy as np
        import torch

        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(0, 3, 1, 2)

    def _array(self, tensor) -> np.ndarray:
        return tensor.permute(0, 2, 3, 1).numpy()
