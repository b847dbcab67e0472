"""Shared fixtures: real photos, fresh registries, fake plugin distributions.

Plain helpers and constants (``run_cli``, ``invoke_cli``, ``make_distribution``,
``SAMPLE_DIR``...) are in helpers.py: test modules import them from there.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from helpers import SAMPLE_DIR, TESTS_DIR, make_distribution

# The tests' own cache (the entry-point index), not the user's; subprocesses inherit it.
os.environ["CODECBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="codecbench-test-cache-")
atexit.register(shutil.rmtree, os.environ["CODECBENCH_CACHE_DIR"], True)

# Test-only codecs live in an importable module so that spawned workers can unpickle them.
sys.path.insert(0, str(TESTS_DIR))

# ``weights_dir`` / ``with_weights``: random perceptual-network weights (torch imported only
# by the tests that use them)
pytest_plugins = ["perceptual_fixtures"]


@pytest.fixture
def server():
    """A local HTTP file server (see ``http_files.FileServer``), stopped after the test."""
    from http_files import FileServer

    running = FileServer()
    yield running
    running.close()


@pytest.fixture
def photo() -> np.ndarray:
    """A real photo crop with odd dimensions (97×131)."""
    from codecbench.api.images import load_rgb

    return np.ascontiguousarray(load_rgb(SAMPLE_DIR / "coffee.webp")[60:157, 200:331])


@pytest.fixture
def small_photo_dir(tmp_path) -> Path:
    """Three small real-photo crops saved as PNG (fast full runs; >= 161 px for MS-SSIM)."""
    from PIL import Image

    from codecbench.api.images import load_rgb

    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (y, x, h, w) in {
        "astronaut.png": (40, 120, 176, 192),
        "chelsea.png": (30, 100, 162, 201),
        "tulips.png": (200, 150, 170, 168),
    }.items():
        image = load_rgb((SAMPLE_DIR / name).with_suffix(".webp"))[y : y + h, x : x + w]
        Image.fromarray(np.ascontiguousarray(image)).save(folder / name)
    return folder


@pytest.fixture
def fake_dists(tmp_path, monkeypatch):
    """Factory: add fake plugin distributions to sys.path and PYTHONPATH (for subprocesses)."""
    root = tmp_path / "site"

    def add(dist_name, entry_points, modules, version="1.0"):
        make_distribution(root, dist_name, entry_points, modules, version)
        return root

    monkeypatch.syspath_prepend(str(root))
    root.mkdir()
    paths = [str(root), str(TESTS_DIR)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return add
