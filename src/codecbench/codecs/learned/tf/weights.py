"""TensorFlow-layout weights files (``<slug>[-q<q>].tf.safetensors``, format
:data:`~codecbench.codecs.learned.weights_format.TF_FORMAT`), written by ``codecbench
convert`` from the torch file they name in their ``source`` metadata (its weights id).

Needs only numpy and safetensors.
"""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.api.atomic import atomic_path
from codecbench.codecs.learned.weights_format import (
    TF_FORMAT,
    read_metadata,
    read_tensors,
    weights_id,
)
from codecbench.codecs.learned.weights_locator import is_tf_layout


def read_tf_weights(path: Path, kind: str) -> tuple[dict, dict[str, str]]:
    """``(arrays in TF layouts, metadata)`` of a converted weights file of ``kind``."""
    from safetensors.numpy import load_file

    metadata = read_metadata(path, TF_FORMAT)
    if metadata.get("kind") != kind:
        raise ValueError(f"{path} is not a {kind} TF weights file")
    return dict(load_file(str(path))), metadata


def read_either_layout(path: Path, kind: str) -> tuple[dict, dict[str, str]]:
    """``(arrays, metadata)`` of a weights file of ``kind`` in either layout: the torch
    ``.safetensors`` (:func:`~codecbench.codecs.learned.weights_format.read_tensors`) or its
    TF conversion ``.tf.safetensors`` (:func:`read_tf_weights`)."""
    if is_tf_layout(path):
        return read_tf_weights(path, kind)
    return read_tensors(path, kind)


def write_tf_weights(arrays: dict, metadata: dict[str, str], path: Path,
                     source: Path | None = None) -> None:
    """Write TF-layout ``arrays`` with ``metadata`` (its ``format`` set to TF_FORMAT and,
    for a conversion, ``source`` the weights id of the torch file), atomically."""
    from safetensors.numpy import save_file

    metadata = {**metadata, "format": TF_FORMAT}
    if source is not None:
        metadata["source"] = weights_id(source).hex()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        save_file(arrays, str(partial), metadata=metadata)
        os.chmod(partial, 0o644)
