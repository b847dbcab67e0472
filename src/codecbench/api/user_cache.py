"""codecbench's user cache directory, the one place that says where it is.

The XDG base-directory rule on Linux (``$XDG_CACHE_HOME/codecbench``, default
``~/.cache/codecbench``; an empty variable counts as unset, as the rule says),
``~/Library/Caches/codecbench`` on macOS and ``%LOCALAPPDATA%\\codecbench`` on Windows.
Downloaded datasets (:mod:`codecbench.datasets.cache`) and the entry-point index
(:mod:`codecbench.api.entry_point_index`) live there unless their own variable says
otherwise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_cache_dir() -> Path:
    """The user cache directory (not created here)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "codecbench"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "codecbench"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codecbench"
