"""Weights files of the recurrent codecs (``<slug>.safetensors``, one file for every rate point).

A recurrent model codes every iteration count with the same network, so one file holds
it: the :class:`~codecbench.codecs.learned.recurrent.torch.network.RecurrentCompressor` ``state_dict``
plus, for entropy-coded models, ``context.probabilities`` (the learned binary context
table of :mod:`codecbench.codecs.learned.entropy.binary_codes`, iterations × channels × 19). Metadata::

    format          "codecbench-torch-weights/1" (as the CNN weights)
    kind            "recurrent"
    model           table slug, e.g. "toderici2017-gru"
    encoder_widths  e.g. "16,32,64,64"
    decoder_widths  e.g. "64,64,32,16"
    steps, codec    what trained it

Looked up like the CNN weights (``CODECBENCH_TORCH_WEIGHTS`` folders, then the package).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.torch import weights as weights_io

CONTEXT_KEY = "context.probabilities"


def widths(metadata: dict[str, str], key: str) -> tuple[int, ...]:
    return tuple(int(part) for part in metadata[key].split(","))


def read_tensors(path: Path) -> tuple[dict, dict[str, str]]:
    """``(numpy arrays, metadata)`` of a recurrent weights file (no torch needed)."""
    return weights_format.read_tensors(path, "recurrent")


def split_context(arrays: dict, metadata: dict[str, str], path: Path,
                  entry: RecurrentModel) -> np.ndarray | None:
    """Check that the arrays of ``path`` are ``entry``'s and take out its context table
    (``None`` for a raw-bits model; required when the model entropy codes its bits)."""
    check_model_slug(path, metadata, entry.slug)
    probabilities = arrays.pop(CONTEXT_KEY, None)
    if entry.entropy_coded and probabilities is None:
        raise ValueError(f"{path} has no {CONTEXT_KEY} table ({entry.slug} entropy codes "
                         "its bits)")
    return probabilities


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
        "kind": "recurrent", "encoder_widths": ",".join(map(str, network.encoder_widths)),
        "decoder_widths": ",".join(map(str, network.decoder_widths)), **metadata},
        half_kernels)
