"""Weights files of Mentzer et al. (2018), read without a framework.

``mentzer2018-context.safetensors`` (kind ``conditional``; one network for every rate
point): the torch network's ``state_dict`` (encoder, decoder, the learned ``centres``
and the context model) plus ``importance.probabilities``, the categorical table of the
importance levels ``0 … K``, one row per rate point; its TF-layout conversion
``mentzer2018-context.tf.safetensors`` holds the same tensors. Metadata: ``model``,
``width``, ``residual_blocks``, ``code_channels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.models import ConditionalModel
from codecbench.codecs.learned.tf.weights import read_either_layout

if TYPE_CHECKING:
    import numpy as np

IMPORTANCE_KEY = "importance.probabilities"
CENTRES_KEY = "centres"
KIND = "conditional"
SIZES = ("width", "residual_blocks", "code_channels")


@dataclass(frozen=True)
class ConditionalWeights:
    """What a weights file holds besides the networks' kernels."""

    arrays: dict
    centres: np.ndarray
    importance: np.ndarray
    width: int
    residual_blocks: int
    code_channels: int
    metadata: dict


def read_conditional(path: Path, entry: ConditionalModel) -> ConditionalWeights:
    """The arrays (the layout of the file: torch ``.safetensors`` or TF
    ``.tf.safetensors``), centres, importance table and sizes of a weights file; refuses a
    file of another model, without its sizes or with tables of other shapes."""
    import numpy as np

    arrays, metadata = read_either_layout(path, KIND)
    check_model_slug(path, metadata, entry.slug)
    for key in SIZES:
        if not metadata.get(key, "").isdigit() or int(metadata[key]) < 1:
            raise ValueError(f"{path} has no valid {key!r} metadata ({metadata.get(key)!r})")
    width, blocks, channels = (int(metadata[key]) for key in SIZES)
    importance = arrays.pop(IMPORTANCE_KEY, None)
    if importance is None:
        raise ValueError(f"{path} has no {IMPORTANCE_KEY} table")
    expected = (len(entry.qualities), channels + 1)
    if tuple(importance.shape) != expected:
        raise ValueError(f"{path}: importance table of shape {importance.shape}, "
                         f"expected {expected}")
    centres = arrays.get(CENTRES_KEY)
    if centres is None or tuple(centres.shape) != (entry.centres,):
        shape = None if centres is None else centres.shape
        raise ValueError(f"{path}: centres of shape {shape}, expected ({entry.centres},)")
    return ConditionalWeights(arrays, np.asarray(centres, np.float32),
                              np.asarray(importance, np.float32), width, blocks, channels,
                              metadata)
