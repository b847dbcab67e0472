"""Where TF weights files are and what they are called (no tensorflow import)."""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_ENV = "CODECBENCH_TF_WEIGHTS"


def tf_weights_filename(slug: str, quality: int) -> str:
    return f"{slug}-q{quality}.tf.safetensors"


def find_tf_weights(slug: str, quality: int) -> Path | None:
    """A TF weights file of ``slug``/``quality`` in ``CODECBENCH_TF_WEIGHTS``, or ``None``."""
    name = tf_weights_filename(slug, quality)
    for folder in os.environ.get(WEIGHTS_ENV, "").split(os.pathsep):
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    return None
