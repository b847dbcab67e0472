"""Load and save the recurrent codecs' torch weights files (format: :mod:`..weights`)."""

from __future__ import annotations

from pathlib import Path

from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent.weights import (
    CONTEXT_KEY,
    KIND,
    read_tensors,
    split_context,
    widths,
)
from codecbench.codecs.learned.torch import weights as weights_io


def load_recurrent(path: Path, entry: RecurrentModel):
    """``(network, context probabilities or None, metadata)``, the network in eval mode."""
    import torch

    from codecbench.codecs.learned.recurrent.torch.network import RecurrentCompressor

    arrays, metadata = read_tensors(path)
    probabilities = split_context(arrays, metadata, path, entry)
    network = RecurrentCompressor(entry, widths(metadata, "encoder_widths"),
                                  widths(metadata, "decoder_widths"))
    network.load_state_dict({name: torch.from_numpy(array) for name, array in arrays.items()})
    network.eval()
    return network, probabilities, metadata


def save_recurrent(network, probabilities, path: Path, metadata: dict[str, str],
                   half_kernels: bool = False) -> None:
    """Write ``network`` (and the context table) as a weights file, atomically."""
    import torch

    state = dict(network.state_dict())
    if probabilities is not None:
        state[CONTEXT_KEY] = torch.as_tensor(probabilities, dtype=torch.float32)
    weights_io.save_tensors(state, path, {
        "kind": KIND, "encoder_widths": ",".join(map(str, network.encoder_widths)),
        "decoder_widths": ",".join(map(str, network.decoder_widths)), **metadata},
        half_kernels)
