"""tf/agustsson2019-gc and tf/hific: the TF twins of the GAN codecs on converted weights.

Measured on the shipped GC weights (sample photos, rate points 1 and 3): symbols 100 %
identical, reconstructions within ±1 on 100 % of the pixels, TF files 7–11 bytes
smaller (tfc's range coder flushes 1–2 bytes, rANS 4). Tested bounds: symbols ≥ 99.9 %,
pixels within ±1 ≥ 99.9 %, sizes within 1 % + 16 bytes. (tf/hific's parity is in
``test_tf_parity.py`` with the CNN models: the same architecture.)"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.api.images import load_rgb  # noqa: E402
from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.container import parse  # noqa: E402
from codecbench.codecs.learned.generative.tf.codecs import TFGenerativeCodec  # noqa: E402
from codecbench.codecs.learned.generative.torch.codecs import TorchGenerativeCodec  # noqa: E402
from codecbench.codecs.learned.image_batches import padded_batch  # noqa: E402
from codecbench.codecs.learned.models import GENERATIVE_MODELS  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from helpers import invoke_cli  # noqa: E402

GC = GENERATIVE_MODELS["agustsson2019-gc"]
PHOTOS = sorted(SAMPLE_DIR.glob("*.webp"))


@pytest.fixture(autouse=True)
def _shipped_weights_only(monkeypatch):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)


@pytest.mark.parametrize("quality,photo", [(1, PHOTOS[0]), (3, PHOTOS[3])], ids=["q1", "q3"])
def test_shipped_gc_agrees_across_frameworks(quality, photo):
    torch_codec, tf_codec = TorchGenerativeCodec(GC), TFGenerativeCodec(GC)
    image = load_rgb(photo)
    torch_loaded, _ = torch_codec._model(quality)
    tf_loaded, _ = tf_codec._model(quality)
    batch = padded_batch(image, GC.padding_multiple)
    symbols = (torch_codec._symbols(torch_loaded.network, batch),
               tf_codec._symbols(tf_loaded.network, batch))
    assert (symbols[0] == symbols[1]).mean() >= 0.999
    torch_data, tf_data = torch_codec.encode(image, quality), tf_codec.encode(image, quality)
    assert abs(len(tf_data) - len(torch_data)) <= 0.01 * len(torch_data) + 16
    difference = np.abs(TFGenerativeCodec(GC).decode(bytes(tf_data)).astype(int)
                        - torch_codec.decode(bytes(torch_data)).astype(int))
    assert (difference <= 1).mean() >= 0.999


def test_converted_file_codes_like_load_time_conversion(tmp_path, monkeypatch):
    result = invoke_cli("convert", "torch/agustsson2019-gc", "tf/agustsson2019-gc",
                        "--quality", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = tmp_path / weights_locator.weights_filename("tensorflow", GC.slug, 2)
    assert written.is_file()
    image = load_rgb(PHOTOS[1])[:96, :130]
    at_load_time = TFGenerativeCodec(GC).encode(image, 2)
    monkeypatch.setenv(weights_locator.weights_env("tensorflow"), str(tmp_path))
    converted = TFGenerativeCodec(GC)
    assert converted.weights_file(2) == written
    data = bytes(converted.encode(image, 2))
    assert parse(data).latents == parse(bytes(at_load_time)).latents  # the same symbols
    assert parse(data).weights_id != parse(bytes(at_load_time)).weights_id  # another file
    assert converted.decode(data).shape == image.shape


def test_gan_twins_without_weights_point_to_conversion_not_tf_training(monkeypatch, tmp_path):
    from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec
    from codecbench.codecs.learned.models import LEARNED_MODELS

    monkeypatch.setattr(weights_locator, "shipped_weights_folder", lambda: None)
    hific = TFLearnedCodec(LEARNED_MODELS["hific"]).no_weights_reason
    assert "codecbench convert" in hific and "codecbench train" not in hific
    plain = TFLearnedCodec(LEARNED_MODELS["bls2017-factorized"]).no_weights_reason
    assert "'codecbench train tf/bls2017-factorized'" in plain
