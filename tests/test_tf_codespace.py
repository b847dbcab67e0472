"""tf/klopp2018-codespace: the TF twin of the code-space predictor on converted weights.

Both twins compute every table index in the same numpy code from their predictors'
outputs, so a prediction can differ only where float32 convolutions summed in another
order move a value across a rounding boundary of ``round(g ⊙ y)``, ``round(μ)`` or a
table bin. Tested bounds (tiny random weights and, where present, the trained ones):
integer codes ≥ 99.9 % identical, reconstructions within ±1 on ≥ 99.9 % of the pixels,
coded strings within 2 % + 8 bytes per
level (the coders' framing of each string), estimates within 1 %; a converted TF weights file codes
exactly as the load-time conversion."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.codespace.tf.codecs import TFCodeSpaceCodec  # noqa: E402
from codecbench.codecs.learned.codespace.torch.codecs import TorchCodeSpaceCodec  # noqa: E402
from codecbench.codecs.learned.container import ContainerError, parse  # noqa: E402
from codespace_fixtures import ENTRY, trained_weights, write_tiny_weights  # noqa: E402
from rnn_fixtures import photo  # noqa: E402


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    write_tiny_weights(tmp_path / "weights", seed=1)
    monkeypatch.setenv(weights_locator.weights_env("torch"), str(tmp_path / "weights"))
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)


def _agree(image: np.ndarray, quality: int) -> None:
    torch_codec, tf_codec = TorchCodeSpaceCodec(ENTRY), TFCodeSpaceCodec(ENTRY)
    torch_bits, tf_bits = torch_codec.encode(image, quality), tf_codec.encode(image, quality)
    torch_file, tf_file = bytes(torch_bits), bytes(tf_bits)
    torch_q = torch_codec.decode_code(torch_codec._model(quality)[0], parse(torch_file))
    tf_q = tf_codec.decode_code(tf_codec._model(quality)[0], parse(tf_file))
    assert (torch_q == tf_q).mean() >= 0.999
    within_one = np.abs(torch_codec.decode(torch_file).astype(int)
                        - tf_codec.decode(tf_file).astype(int)) <= 1
    assert within_one.mean() >= 0.999
    torch_payload, tf_payload = (sum(len(latent.string) for latent in parse(data).latents)
                                 for data in (torch_file, tf_file))
    assert abs(tf_payload - torch_payload) <= 0.02 * torch_payload + 8 * (ENTRY.levels + 1)
    assert tf_bits.estimated_bits == pytest.approx(torch_bits.estimated_bits, rel=0.01)
    assert tf_codec.version.startswith("tensorflow-compression ")
    assert tf_codec.version.split("weights ")[1] == torch_codec.version.split("weights ")[1]


@pytest.mark.parametrize("quality,size", [(1, (67, 45)), (5, (96, 128))])
def test_twins_agree_on_tiny_weights(tiny, quality, size):
    _agree(photo(0, *size), quality)


@pytest.mark.parametrize("quality,index", [(1, 0), (3, 3), (5, 4)])
def test_twins_agree_on_trained_weights(quality, index, monkeypatch):
    if trained_weights() is None:
        pytest.skip("no trained klopp2018-codespace weights here")
    monkeypatch.delenv(weights_locator.weights_env("tensorflow"), raising=False)
    _agree(photo(index, 257, 301, 0, 0), quality)


def test_tf_files_are_refused_by_the_torch_twin(tiny):
    data = bytes(TFCodeSpaceCodec(ENTRY).encode(photo(1, 33, 47), 2))
    assert TFCodeSpaceCodec(ENTRY).decode(data).shape == (33, 47, 3)
    with pytest.raises(ContainerError, match="written by codec 'tf/klopp2018-codespace'"):
        TorchCodeSpaceCodec(ENTRY).decode(data)


def test_converted_file_codes_like_load_time_conversion(tiny, tmp_path, monkeypatch):
    image = photo(2, 64, 80)
    at_load = bytes(TFCodeSpaceCodec(ENTRY).encode(image, 4))
    written = TFCodeSpaceCodec(ENTRY).convert_from(TorchCodeSpaceCodec(ENTRY), 1,
                                                   tmp_path / "tf")
    assert written.name == "klopp2018-codespace.tf.safetensors"
    monkeypatch.setenv(weights_locator.weights_env("tensorflow"), str(tmp_path / "tf"))
    converted = TFCodeSpaceCodec(ENTRY)
    assert converted.weights_file() == written
    data = bytes(converted.encode(image, 4))
    assert parse(data).latents == parse(at_load).latents  # the same codes, other weights id
    assert converted.decode(data).shape == image.shape


def test_check_codec_passes_on_tiny_weights(tiny):
    from codecbench.testing import check_codec

    check_codec(TFCodeSpaceCodec(ENTRY), qualities=(1, 5))
