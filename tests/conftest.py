"""Shared fixtures: real photos, fresh registries, fake plugin distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

TESTS_DIR = Path(__file__).parent
REPO_ROOT = TESTS_DIR.parent
SAMPLE_DIR = REPO_ROOT / "src" / "codecbench" / "datasets" / "sample"

# Test-only codecs live in an importable module so that spawned workers can unpickle them.
sys.path.insert(0, str(TESTS_DIR))


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
    from codecbench.core.images import load_rgb

    return np.ascontiguousarray(load_rgb(SAMPLE_DIR / "coffee.png")[60:157, 200:331])


@pytest.fixture
def small_photo_dir(tmp_path) -> Path:
    """Three small real-photo crops saved as PNG (fast full runs; >= 161 px for MS-SSIM)."""
    from PIL import Image

    from codecbench.core.images import load_rgb

    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (y, x, h, w) in {
        "astronaut.png": (40, 120, 176, 192),
        "chelsea.png": (30, 100, 162, 201),
        "tulips.png": (200, 150, 170, 168),
    }.items():
        image = load_rgb(SAMPLE_DIR / name)[y : y + h, x : x + w]
        Image.fromarray(np.ascontiguousarray(image)).save(folder / name)
    return folder


def make_distribution(root: Path, dist_name: str, entry_points: dict[str, str],
                      modules: dict[str, str], version: str = "1.0") -> Path:
    """Write an installed-looking distribution (dist-info + modules) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    dist_info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n"
    )
    lines = ["[codecbench]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


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


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m codecbench ARGS`` in a subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "codecbench", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def invoke_cli(*args: str, env: dict | None = None) -> SimpleNamespace:
    """Run ``codecbench ARGS`` in this process (click's test runner): for commands whose
    heavy imports (torch, TensorFlow) the test process already paid for."""
    from click.testing import CliRunner

    from codecbench.core.cli import cli

    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr)
