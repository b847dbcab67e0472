"""Where downloaded datasets live: ``$CODECBENCH_DATA``, else the user cache directory
(:func:`codecbench.api.user_cache.user_cache_dir`)."""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.api.user_cache import user_cache_dir


def data_dir() -> Path:
    """The root of the dataset cache (not created here)."""
    override = os.environ.get("CODECBENCH_DATA")
    if override:
        return Path(override).expanduser()
    return user_cache_dir()
