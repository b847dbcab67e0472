"""Tiled-codec weights files, read without a framework.

``minnen2017-tiled.safetensors`` (kind ``tiled``; one network for every rate point): the
torch network's ``state_dict`` plus ``context.probabilities`` (the binary context table of
the code bits, iterations × channels × 19) and ``counts.probabilities`` (the per-tile
iteration counts' distribution of each rate point, rate points × (iterations + 1)); its
TF-layout conversion ``minnen2017-tiled.tf.safetensors`` holds the same tables.
Metadata: ``model``, ``predictor_width``, ``coder_width``, ``code_channels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.models import TiledModel
from codecbench.codecs.learned.tf.weights import read_either_layout

if TYPE_CHECKING:
    import numpy as np

BITS_KEY = "context.probabilities"
COUNTS_KEY = "counts.probabilities"
KIND = "tiled"
WIDTH_KEYS = ("predictor_width", "coder_width", "code_channels")


@dataclass(frozen=True)
class TiledWeights:
    """A weights file's network arrays, widths, tables and metadata."""

    arrays: dict
    widths: tuple[int, int, int]
    bit_table: np.ndarray
    count_table: np.ndarray
    metadata: dict[str, str]


def read_tiled(path: Path, entry: TiledModel) -> TiledWeights:
    """The contents of a tiled weights file in either layout (torch ``.safetensors`` or
    TF ``.tf.safetensors``); refuses a file of another model or with bad tables."""
    import numpy as np

    from codecbench.codecs.learned.entropy.binary_codes import CONTEXT_STATES

    arrays, metadata = read_either_layout(path, KIND)
    check_model_slug(path, metadata, entry.slug)
    for key in WIDTH_KEYS:
        if not metadata.get(key, "").isdigit():
            raise ValueError(f"{path} has no valid {key!r} metadata ({metadata.get(key)!r})")
    widths = (int(metadata["predictor_width"]), int(metadata["coder_width"]),
              int(metadata["code_channels"]))
    bit_table, count_table = arrays.pop(BITS_KEY, None), arrays.pop(COUNTS_KEY, None)
    expected = {BITS_KEY: (entry.iterations, widths[2], CONTEXT_STATES),
                COUNTS_KEY: (len(entry.qualities), entry.iterations + 1)}
    for key, table in ((BITS_KEY, bit_table), (COUNTS_KEY, count_table)):
        if table is None or tuple(table.shape) != expected[key]:
            shape = None if table is None else tuple(table.shape)
            raise ValueError(f"{path}: {key} of shape {shape}, expected {expected[key]}")
        if not np.all((table > 0) & (table < 1)):
            raise ValueError(f"{path}: {key} holds values outside (0, 1)")
    assert bit_table is not None and count_table is not None  # checked above
    return TiledWeights(arrays, widths, bit_table, count_table, metadata)
