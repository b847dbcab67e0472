"""GC weights files, read without a framework.

``agustsson2019-gc-q<q>.safetensors`` (kind ``generative``): the torch network's
``state_dict`` plus ``symbols.probabilities`` (C × L); its TF-layout conversion
``…-q<q>.tf.safetensors`` holds the same table. Metadata: ``model``, ``quality``,
``channels``, ``widths`` (comma-separated), ``residual_blocks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.tf.weights import read_either_layout

if TYPE_CHECKING:
    import numpy as np

PROBABILITIES_KEY = "symbols.probabilities"
KIND = "generative"


def split_table(arrays: dict, metadata: dict[str, str], path: Path, entry: GenerativeModel,
                quality: int) -> np.ndarray:
    """Check that ``path`` holds ``entry`` at rate point ``quality`` and take out its
    symbol table."""
    if metadata.get("model") != entry.slug or metadata.get("quality") != str(quality):
        raise ValueError(f"{path} holds {metadata.get('model')!r} quality "
                         f"{metadata.get('quality')}, not {entry.slug!r} quality {quality}")
    probabilities = arrays.pop(PROBABILITIES_KEY, None)
    if probabilities is None:
        raise ValueError(f"{path} has no {PROBABILITIES_KEY} table")
    return probabilities


def read_generative(path: Path, entry: GenerativeModel, quality: int):
    """``(state arrays, probabilities, metadata)`` of a GC weights file in either layout
    (torch ``.safetensors`` or TF ``.tf.safetensors``)."""
    arrays, metadata = read_either_layout(path, KIND)
    return arrays, split_table(arrays, metadata, path, entry, quality), metadata


def widths(metadata: dict[str, str]) -> tuple[int, ...]:
    """The encoder/generator widths a weights file was trained with."""
    return tuple(int(w) for w in metadata["widths"].split(","))
