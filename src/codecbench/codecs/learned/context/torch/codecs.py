"""``torch/mentzer2018-context``: Mentzer et al. (2018) (:mod:`.network`) in the codec of
:mod:`codecbench.codecs.learned.context.codec`, the importance levels and symbols range
coded with CompressAI's rANS
(:class:`~codecbench.codecs.learned.torch.entropy_coding.RansIndexCoder`). Weights:
``mentzer2018-context.safetensors`` (:mod:`codecbench.codecs.learned.context.weights`),
looked up like every torch weights file. Runs on the CPU; imports torch only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.context import weights as context_weights
from codecbench.codecs.learned.context.codec import ConditionalCodec
from codecbench.codecs.learned.models import ConditionalModel
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder
from codecbench.frameworks.torch_runtime import TorchFramework

if TYPE_CHECKING:
    import numpy as np


def read_network(path: Path, entry: ConditionalModel):
    """``(network in eval mode, weights)`` of a torch weights file."""
    import torch

    from codecbench.codecs.learned.context.torch.network import ConditionalNetwork

    weights = context_weights.read_conditional(path, entry)
    network = ConditionalNetwork(entry, weights.width, weights.code_channels,
                                 weights.residual_blocks)
    try:
        network.load_state_dict({k: torch.from_numpy(v) for k, v in weights.arrays.items()})
    except RuntimeError as exc:
        raise ValueError(f"{path}: {str(exc).splitlines()[0]}") from None
    return network.eval(), weights


def save_network(network, importance: np.ndarray, path: Path, metadata: dict[str, str],
                 half_kernels: bool = False) -> None:
    import torch

    state = dict(network.state_dict())
    state[context_weights.IMPORTANCE_KEY] = torch.as_tensor(importance, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": context_weights.KIND, "width": str(network.width),
        "residual_blocks": str(network.residual_blocks),
        "code_channels": str(network.code_channels), **metadata}, half_kernels)


class TorchConditionalCodec(TorchFramework, ConditionalCodec):
    """Mentzer et al. (2018) in PyTorch on our weights."""

    coder = RansIndexCoder()

    def _load_network(self, path: Path):
        from codecbench.codecs.learned.context.layers import reach

        network, weights = read_network(path, self.entry)
        return (network, weights.centres, weights.importance, weights.code_channels,
                reach(network.plan.context))

    def _analysis(self, network, batch: np.ndarray):
        import torch

        with torch.no_grad():
            z, y = network.analysis(torch.from_numpy(batch).permute(0, 3, 1, 2))
        return z[0].numpy(), y[0].numpy()

    def _context_logits(self, network, values: np.ndarray, mask: np.ndarray,
                        depth: int) -> np.ndarray:
        import torch

        with torch.no_grad():
            logits = network.context(torch.from_numpy(values)[None],
                                     torch.from_numpy(mask)[None])
        return logits[0, :, depth].numpy()

    def _synthesis(self, network, z_hat: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x_hat = network.synthesis(torch.from_numpy(z_hat)[None])
        return x_hat.permute(0, 2, 3, 1).numpy()

    def train(self, config):
        """Train with ``codecbench train`` (see :mod:`.training`)."""
        from codecbench.codecs.learned.context.torch.training import train

        return train(self.entry, self.name, config)


def codecs() -> list[TorchConditionalCodec]:
    """The family's PyTorch codec, one per model of the table."""
    from codecbench.codecs.learned.models import CONDITIONAL_MODELS

    return [TorchConditionalCodec(entry) for entry in CONDITIONAL_MODELS.values()]
