"""Weights files of the recurrent codecs, read without a framework.

A recurrent model codes every iteration count with the same network, so one file
(``<slug>.safetensors``, kind ``recurrent``) holds it: the torch network's ``state_dict``
plus, for entropy-coded models, ``context.probabilities`` (the learned binary context
table of :mod:`codecbench.codecs.learned.entropy.binary_codes`, iterations × channels ×
19); its TF-layout conversion ``<slug>.tf.safetensors`` holds the same table. Metadata::

    format          "codecbench-torch-weights/1" (as the CNN weights)
    kind            "recurrent"
    model           table slug, e.g. "toderici2017-gru"
    encoder_widths  e.g. "16,32,64,64"
    decoder_widths  e.g. "64,64,32,16"
    steps, codec    what trained it

Looked up like every weights file (:mod:`codecbench.codecs.learned.weights_locator`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned import weights_format
from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.models import RecurrentModel

if TYPE_CHECKING:
    import numpy as np

CONTEXT_KEY = "context.probabilities"
KIND = "recurrent"


def widths(metadata: dict[str, str], key: str) -> tuple[int, ...]:
    """The encoder or decoder widths (``key``) a weights file was trained with."""
    return tuple(int(part) for part in metadata[key].split(","))


def read_tensors(path: Path) -> tuple[dict, dict[str, str]]:
    """``(numpy arrays, metadata)`` of a recurrent weights file in the torch layout."""
    return weights_format.read_tensors(path, KIND)


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
