"""tf/rippel2017-waveone: the TF twin of WaveOne on converted weights.

Measured on the shipped weights (three sample photos cropped to 257×301, 2 and 6
bitplanes): bitplanes 100 % identical, reconstructions within ±1 on every pixel, PSNR
equal to 0.001 dB, TF files 0.8–1.1 % smaller (tfc's range coder framing). Tested bounds:
bits ≥ 99.9 %, pixels within ±1 ≥ 99.9 %, sizes within 2 % + 16 bytes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.api.images import load_rgb  # noqa: E402
from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.container import ContainerError, parse  # noqa: E402
from codecbench.codecs.learned.models import WAVEONE_MODELS  # noqa: E402
from codecbench.codecs.learned.progressive import truncate  # noqa: E402
from codecbench.codecs.learned.waveone.tf.codecs import TFWaveOneCodec  # noqa: E402
from codecbench.codecs.learned.waveone.torch.codecs import TorchWaveOneCodec  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from helpers import invoke_cli  # noqa: E402

ENTRY = WAVEONE_MODELS["rippel2017-waveone"]
PHOTOS = sorted(SAMPLE_DIR.glob("*.webp"))

pytestmark = pytest.mark.skipif(
    weights_locator.find_weights("torch", ENTRY.slug) is None,
    reason="the codecbench-models weights are not installed")


@pytest.fixture(autouse=True)
def _shipped_weights_only(monkeypatch):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)


def _photo(index: int) -> np.ndarray:
    return np.ascontiguousarray(load_rgb(PHOTOS[index])[:301, :257])


@pytest.mark.parametrize("planes,index", [(2, 0), (6, 3)], ids=["2-planes", "6-planes"])
def test_waveone_agrees_across_frameworks(planes, index):
    image = _photo(index)
    torch_codec, tf_codec = TorchWaveOneCodec(ENTRY), TFWaveOneCodec(ENTRY)
    torch_file, tf_file = bytes(torch_codec.encode(image, planes)), bytes(tf_codec.encode(image, planes))
    torch_bits = np.stack(torch_codec.decode_grids(torch_codec._network(), parse(torch_file)))
    tf_bits = np.stack(tf_codec.decode_grids(tf_codec._network(), parse(tf_file)))
    assert (torch_bits == tf_bits).mean() >= 0.999
    within_one = np.abs(torch_codec.decode(torch_file).astype(int)
                        - tf_codec.decode(tf_file).astype(int)) <= 1
    assert within_one.mean() >= 0.999
    assert abs(len(tf_file) - len(torch_file)) <= 0.02 * len(torch_file) + 16
    assert tf_codec.version.startswith("tensorflow-compression ")
    assert tf_codec.version.split("weights ")[1] == torch_codec.version.split("weights ")[1]


def test_tf_files_truncate_and_are_refused_by_the_torch_twin():
    image = _photo(1)[:67, :45]  # odd sizes, padded to 8 inside
    tf_codec = TFWaveOneCodec(ENTRY)
    full = bytes(tf_codec.encode(image, 6))
    assert truncate(full, 3) == bytes(tf_codec.encode(image, 3))
    assert TFWaveOneCodec(ENTRY).decode(truncate(full, 3)).shape == image.shape
    with pytest.raises(ContainerError, match="written by codec 'tf/rippel2017-waveone'"):
        TorchWaveOneCodec(ENTRY).decode(full)


def test_converted_file_codes_like_load_time_conversion(tmp_path, monkeypatch):
    image = _photo(2)[:96, :128]
    at_load = bytes(TFWaveOneCodec(ENTRY).encode(image, 4))
    completed = invoke_cli("convert", "torch/rippel2017-waveone", "tf/rippel2017-waveone",
                           "--quality", "1", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    written = tmp_path / "rippel2017-waveone.tf.safetensors"
    assert written.is_file() and "CODECBENCH_TF_WEIGHTS" in completed.stdout
    monkeypatch.setenv("CODECBENCH_TF_WEIGHTS", str(tmp_path))
    converted = TFWaveOneCodec(ENTRY)
    assert converted.weights_file() == written
    data = bytes(converted.encode(image, 4))
    assert parse(data).latents == parse(at_load).latents  # the same codes, other weights id
    assert converted.decode(data).shape == image.shape


def test_a_weights_file_without_its_widths_is_refused_by_name(tmp_path, monkeypatch):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    source = weights_locator.find_weights("torch", ENTRY.slug)
    with safe_open(str(source), framework="numpy") as handle:
        metadata = dict(handle.metadata())
    del metadata["code_channels"]
    broken = tmp_path / source.name
    save_file(load_file(str(source)), str(broken), metadata=metadata)
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tmp_path))
    with pytest.raises(ValueError, match="has no valid 'code_channels' metadata"):
        TFWaveOneCodec(ENTRY).encode(_photo(0)[:16, :16], 1)
