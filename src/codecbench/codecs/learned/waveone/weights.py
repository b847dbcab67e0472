"""WaveOne weights files, read without a framework.

``rippel2017-waveone.safetensors`` (kind ``waveone``; one network for every rate point):
the torch network's ``state_dict`` plus ``context.probabilities`` (the binary context
table of the bitplanes, planes × channels × 19); its TF-layout conversion
``rippel2017-waveone.tf.safetensors`` holds the same table. Metadata: ``model``,
``width``, ``code_channels``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.tf.weights import read_either_layout

if TYPE_CHECKING:
    import numpy as np

CONTEXT_KEY = "context.probabilities"
KIND = "waveone"


def read_waveone(path: Path, entry: WaveOneModel) -> tuple[dict, np.ndarray, dict[str, str]]:
    """``(state arrays, context probabilities, metadata)`` of a WaveOne weights file in
    either layout (torch ``.safetensors`` or TF ``.tf.safetensors``)."""
    arrays, metadata = read_either_layout(path, KIND)
    check_model_slug(path, metadata, entry.slug)
    for key in ("width", "code_channels"):
        if not metadata.get(key, "").isdigit():
            raise ValueError(f"{path} has no valid {key!r} metadata ({metadata.get(key)!r})")
    probabilities = arrays.pop(CONTEXT_KEY, None)
    if probabilities is None:
        raise ValueError(f"{path} has no {CONTEXT_KEY} table")
    expected = (entry.bitplanes, int(metadata["code_channels"]))
    if tuple(probabilities.shape[:2]) != expected:
        raise ValueError(f"{path}: context table of shape {probabilities.shape}, expected "
                         f"{expected} × contexts")
    return arrays, probabilities, metadata
