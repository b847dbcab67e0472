"""The core distribution stays small; the shipped weights are their own distribution,
checked against its SHA-256 manifest when loaded."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from codecbench.codecs.learned import weights_format, weights_locator
from codecbench.frameworks.files import WeightsFileError

pytestmark = pytest.mark.no_frameworks

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "codecbench"
MODELS_WEIGHTS = REPO / "models" / "src" / "codecbench_models" / "weights"


def test_the_core_package_compresses_to_under_2_mb_and_holds_no_weights():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in PACKAGE.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(PACKAGE.parent))
    assert buffer.tell() < 2_000_000, f"{buffer.tell()} bytes"
    assert not list(PACKAGE.rglob("*.safetensors"))


def test_the_manifest_lists_every_shipped_weights_file_with_its_hash():
    entries = dict(reversed(line.split("  ")) for line in
                   (MODELS_WEIGHTS / "SHA256SUMS").read_text().splitlines())
    files = {path.name for path in MODELS_WEIGHTS.glob("*.safetensors")}
    assert set(entries) == files
    for name in sorted(files)[:3]:
        assert hashlib.sha256((MODELS_WEIGHTS / name).read_bytes()).hexdigest() == entries[name]


def _shipped_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the distribution's weights folder (two files and the manifest), made the
    shipped folder."""
    folder = tmp_path / "codecbench_models" / "weights"
    folder.mkdir(parents=True)
    names = ["bls2017-factorized.safetensors", "mbt2018-mean.safetensors"]
    for name in names:
        shutil.copy(MODELS_WEIGHTS / name, folder / name)
    (folder / "SHA256SUMS").write_text("\n".join(
        line for line in (MODELS_WEIGHTS / "SHA256SUMS").read_text().splitlines()
        if line.endswith(tuple(names))) + "\n")
    monkeypatch.setattr(weights_locator, "shipped_weights_folder", lambda: folder)
    weights_format.shipped_manifest.cache_clear()
    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    return folder


def test_a_shipped_file_that_differs_from_the_manifest_is_refused(tmp_path, monkeypatch):
    folder = _shipped_copy(tmp_path, monkeypatch)
    good = weights_locator.find_weights("torch", "bls2017-factorized", 1, variable_rate=True)
    assert good == folder / "bls2017-factorized.safetensors"
    assert len(weights_format.weights_id(good)) == 8
    damaged = folder / "mbt2018-mean.safetensors"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 1
    damaged.write_bytes(bytes(data))
    with pytest.raises(WeightsFileError, match="mbt2018-mean.safetensors has SHA-256"):
        weights_format.weights_id(damaged)
    weights_format.shipped_manifest.cache_clear()


def test_a_file_missing_from_the_manifest_is_refused(tmp_path, monkeypatch):
    folder = _shipped_copy(tmp_path, monkeypatch)
    extra = folder / "bmshj2018-hyperprior.safetensors"
    shutil.copy(MODELS_WEIGHTS / extra.name, extra)
    with pytest.raises(WeightsFileError, match="is not in its manifest"):
        weights_format.weights_id(extra)
    weights_format.shipped_manifest.cache_clear()


def test_without_the_models_distribution_learned_codecs_say_where_weights_come_from(
        monkeypatch):
    monkeypatch.setattr(weights_locator, "shipped_weights_folder", lambda: None)
    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    assert weights_locator.find_weights("torch", "bls2017-factorized", 1) is None
    hint = weights_locator.no_weights_hint("torch", "codecbench train torch/x")
    assert "codecbench-models" in hint and "CODECBENCH_TORCH_WEIGHTS" in hint
