"""tf/mentzer2018-context: the TF twin of Mentzer et al. (2018) on converted weights.

Both twins quantise ``z`` and the importance map in numpy and turn their own context
model's floats into 16-bit rows, so their files differ only where the frameworks'
float rounding moves a value across a centre boundary or a probability across a
rounding step. Measured on the shipped weights (three sample photos cropped to 257×301,
rate points 2 and 6): levels and symbols 100 % identical, reconstructions within ±1 on
every pixel, PSNR equal, TF files 1.9–6.6 % smaller (≈ 6 bytes per slice string:
CompressAI's rANS flushes more state per string than tfc's range coder). Tested bounds: levels and symbols ≥ 99.9 % identical, pixels within ±1
≥ 99.9 %, sizes within 3 % + 8 bytes per latent (tfc's range coder ends a string in
fewer bytes than CompressAI's rANS)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.api.training import TrainingConfig  # noqa: E402
from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.container import ContainerError, parse  # noqa: E402
from codecbench.codecs.learned.context.tf.codecs import TFConditionalCodec  # noqa: E402
from codecbench.codecs.learned.context.torch.codecs import TorchConditionalCodec  # noqa: E402
from codecbench.codecs.learned.models import CONDITIONAL_MODELS  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from helpers import invoke_cli  # noqa: E402
from rnn_fixtures import photo  # noqa: E402

ENTRY = CONDITIONAL_MODELS["mentzer2018-context"]
SHIPPED = weights_locator.find_weights("torch", ENTRY.slug)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A folder holding a tiny model trained for a few steps on the sample photos."""
    out = tmp_path_factory.mktemp("context-tiny")
    TorchConditionalCodec(ENTRY).train(TrainingConfig(
        data=SAMPLE_DIR, out=out, steps=6, batch_size=2, patch_size=64, learning_rate=1e-3,
        channels=(8, 6), log_every=1, checkpoint_every=6, lr_milestones=(), progress=False))
    return out


def _agree(torch_codec, tf_codec, image, quality):
    torch_file = bytes(torch_codec.encode(image, quality))
    tf_file = bytes(tf_codec.encode(image, quality))
    torch_loaded, tf_loaded = torch_codec._model(quality)[0], tf_codec._model(quality)[0]
    torch_levels, torch_symbols = torch_codec.decode_volume(torch_loaded, parse(torch_file))
    tf_levels, tf_symbols = tf_codec.decode_volume(tf_loaded, parse(tf_file))
    assert (torch_levels == tf_levels).mean() >= 0.999
    assert (torch_symbols == tf_symbols).mean() >= 0.999
    within_one = np.abs(torch_codec.decode(torch_file).astype(int)
                        - tf_codec.decode(tf_file).astype(int)) <= 1
    assert within_one.mean() >= 0.999
    latents = len(parse(torch_file).latents)
    assert abs(len(tf_file) - len(torch_file)) <= 0.03 * len(torch_file) + 8 * latents
    return torch_file, tf_file


@pytest.mark.parametrize("quality", [1, 6])
def test_twins_agree_on_tiny_weights(tiny_folder, monkeypatch, quality):
    monkeypatch.setenv(weights_locator.weights_env("torch"), str(tiny_folder))
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)
    torch_codec, tf_codec = TorchConditionalCodec(ENTRY), TFConditionalCodec(ENTRY)
    _, tf_file = _agree(torch_codec, tf_codec, photo(2, 67, 45), quality)
    assert tf_codec.version.split("weights ")[1] == torch_codec.version.split("weights ")[1]
    with pytest.raises(ContainerError, match="written by codec 'tf/mentzer2018-context'"):
        torch_codec.decode(tf_file)


def test_converted_file_codes_like_load_time_conversion(tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setenv(weights_locator.weights_env("torch"), str(tiny_folder))
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)
    image = photo(1, 48, 64)
    at_load = bytes(TFConditionalCodec(ENTRY).encode(image, 4))
    completed = invoke_cli("convert", "torch/mentzer2018-context", "tf/mentzer2018-context",
                           "--quality", "1", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    written = tmp_path / "mentzer2018-context.tf.safetensors"
    assert written.is_file()
    monkeypatch.setenv(weights_locator.weights_env("tensorflow"), str(tmp_path))
    converted = TFConditionalCodec(ENTRY)
    assert converted.weights_file() == written
    data = bytes(converted.encode(image, 4))
    assert parse(data).latents == parse(at_load).latents  # the same codes, other weights id
    assert converted.decode(data).shape == image.shape


@pytest.mark.skipif(SHIPPED is None, reason="the codecbench-models weights are not installed")
@pytest.mark.parametrize("quality,index", [(2, 0), (6, 3)])
def test_twins_agree_on_the_shipped_weights(monkeypatch, quality, index):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)
    _agree(TorchConditionalCodec(ENTRY), TFConditionalCodec(ENTRY),
           photo(index, 301, 257, 0, 0), quality)
