"""Torch weights files: a ``state_dict`` written as safetensors with codecbench's metadata
(format: :mod:`codecbench.codecs.learned.weights_format`). Imports torch only inside
:func:`save_tensors`."""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.api.atomic import atomic_path
from codecbench.codecs.learned.weights_format import FORMAT


def save_tensors(state: dict, path: Path, metadata: dict[str, str],
                 half_kernels: bool = False) -> None:
    """Write a ``state_dict`` (plus any extra tensors in it) with ``metadata`` and this
    module's format, atomically; ``half_kernels`` stores 4-D kernels as float16."""
    from safetensors.torch import save_file

    tensors = {}
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        if half_kernels and tensor.ndim == 4 and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata={"format": FORMAT, **metadata})
        os.chmod(partial, 0o644)
