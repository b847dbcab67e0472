"""Where downloaded datasets live: ``$CODECBENCH_DATA``, else the user cache directory.

The user cache directory follows the XDG base-directory rule on Linux
(``$XDG_CACHE_HOME/codecbench``, default ``~/.cache/codecbench``), ``~/Library/Caches/codecbench``
on macOS and ``%LOCALAPPDATA%\\codecbench`` on Windows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_dir() -> Path:
    """The root of the dataset cache (not created here)."""
    override = os.environ.get("CODECBENCH_DATA")
    if override:
        return Path(override).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "codecbench"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "codecbench"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "codecbench"
