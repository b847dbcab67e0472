"""Code-space predictor weights files, read without a framework.

``klopp2018-codespace.safetensors`` (kind ``codespace``; one network for every rate
point): the torch network's ``state_dict`` (convolutions, the coarsest grid's mean and
log-scale, the log gains of every rate point); its TF-layout conversion
``klopp2018-codespace.tf.safetensors`` holds the same arrays in TF layouts. Metadata:
``model``, ``width``, ``code_channels``, ``predictor_width``, ``levels``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.codecs.learned.codec import check_model_slug
from codecbench.codecs.learned.codespace import layers
from codecbench.codecs.learned.codespace.layers import CodeSpacePlan, codespace_plan
from codecbench.codecs.learned.models import CodeSpaceModel
from codecbench.codecs.learned.tf.weights import read_either_layout

if TYPE_CHECKING:
    import numpy as np

KIND = "codespace"
WIDTH_KEYS = ("width", "code_channels", "predictor_width", "levels")
MAX_WIDTH = 4096


def widths(path: Path, metadata: dict[str, str]) -> dict[str, int]:
    """The widths a weights file was trained with (each a positive integer)."""
    values = {}
    for key in WIDTH_KEYS:
        value = metadata.get(key, "")
        if not value.isdigit() or not 0 < int(value) <= MAX_WIDTH:
            raise ValueError(f"{path} has no valid {key!r} metadata ({metadata.get(key)!r})")
        values[key] = int(value)
    return values


def plan_of(entry: CodeSpaceModel, sizes: dict[str, int]) -> CodeSpacePlan:
    """The plan of a network of ``sizes`` (:func:`widths`) for ``entry``'s rate points."""
    return codespace_plan(sizes["width"], sizes["code_channels"], sizes["predictor_width"],
                          sizes["levels"], len(entry.qualities))


def read_codespace(path: Path, entry: CodeSpaceModel) -> tuple[dict, dict[str, int], dict[str, str]]:
    """``(state arrays, widths, metadata)`` of a weights file in either layout (torch
    ``.safetensors`` or TF ``.tf.safetensors``); the plain vectors are checked here."""
    import numpy as np

    arrays, metadata = read_either_layout(path, KIND)
    check_model_slug(path, metadata, entry.slug)
    sizes = widths(path, metadata)
    if sizes["levels"] != entry.levels:
        raise ValueError(f"{path} predicts {sizes['levels']} levels, the model table "
                         f"{entry.levels}")
    for name, shape in plan_of(entry, sizes).vectors().items():
        array = arrays.get(name)
        if array is None or tuple(array.shape) != shape or not np.isfinite(array).all():
            found = None if array is None else tuple(array.shape)
            raise ValueError(f"{path}: {name} of shape {found}, expected finite {shape}")
    return arrays, sizes, metadata


def vectors(arrays: dict) -> dict[str, np.ndarray]:
    """The plain vectors of checked state arrays, as float64."""
    import numpy as np

    return {name: np.asarray(arrays[name], dtype=np.float64)
            for name in (layers.PRIOR_MEAN, layers.PRIOR_LOG_SCALE, layers.ENCODE_GAIN,
                         layers.DECODE_GAIN)}
