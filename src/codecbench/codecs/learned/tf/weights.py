"""TensorFlow-layout weights files (``<slug>[-q<q>].tf.safetensors``, format
:data:`~codecbench.codecs.learned.weights_format.TF_FORMAT`), written by ``codecbench
convert`` from the torch file they name in their ``source`` metadata (its weights id).

Needs only numpy and safetensors.
"""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.api.atomic import atomic_path
from codecbench.codecs.learned.weights_format import TF_FORMAT, read_metadata


def read_tf_weights(path: Path, kind: str) -> tuple[dict, dict[str, str]]:
    """``(arrays in TF layouts, metadata)`` of a converted weights file of ``kind``."""
    from safetensors.numpy import load_file

    metadata = read_metadata(path, TF_FORMAT)
    if metadata.get("kind") != kind:
        raise ValueError(f"{path} is not a {kind} TF weights file")
    return dict(load_file(str(path))), metadata


def write_tf_weights(arrays: dict, metadata: dict[str, str], path: Path) -> None:
    """Write TF-layout ``arrays`` with ``metadata`` (its ``format`` set to TF_FORMAT),
    atomically."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        save_file(arrays, str(partial), metadata={**metadata, "format": TF_FORMAT})
        os.chmod(partial, 0o644)
