"""tf/minnen2017-tiled: the TF twin of the tiled codec on converted weights.

Both twins make the same per-tile decisions from the same networks; a tile whose PSNR
lies within float rounding of a target may take another count in one framework, and
its neighbours then see a slightly different context. Measured on the shipped weights
(three sample photos cropped to 257×301, rate points 1, 3, 5): counts and bits 100 %
identical, decoded pixels within ±1 (max 1), PSNR equal to 0.00001 dB, TF files 0.8–1.0 %
smaller (tfc's range coder framing). Tested bounds (tiny random weights and the shipped
ones): counts ≥ 98 % identical, bits ≥ 99 %, decoded pixels within ±2 levels ≥ 99 %, file
sizes within 3 % + 64 bytes; a decoder of either framework decodes its own files to the
encoder's own decode."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.codecs.learned.container import ContainerError, parse  # noqa: E402
from codecbench.codecs.learned.image_batches import to_image  # noqa: E402
from codecbench.codecs.learned.tiled.tf.codecs import TFTiledCodec  # noqa: E402
from codecbench.codecs.learned.tiled.torch.codecs import TorchTiledCodec  # noqa: E402
from helpers import invoke_cli  # noqa: E402
from rnn_fixtures import photo  # noqa: E402
from tiled_fixtures import ENTRY, write_tiny_weights  # noqa: E402


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiled-weights"), seed=1)


def _twins(path=None):
    torch_codec, tf_codec = TorchTiledCodec(ENTRY), TFTiledCodec(ENTRY)
    if path is not None:
        torch_codec.weights_file = lambda quality=None: path
        tf_codec.weights_file = lambda quality=None: path
    elif torch_codec.weights_file() is None:
        pytest.skip("no minnen2017-tiled weights here")
    return torch_codec, tf_codec


def _assert_twins_agree(torch_codec, tf_codec, image, quality):
    torch_file = bytes(torch_codec.encode(image, quality))
    tf_file = bytes(tf_codec.encode(image, quality))
    torch_counts, torch_bits = torch_codec.decode_codes(torch_codec._model(quality)[0],
                                                        parse(torch_file))
    tf_counts, tf_bits = tf_codec.decode_codes(tf_codec._model(quality)[0], parse(tf_file))
    assert (torch_counts == tf_counts).mean() >= 0.98
    assert (torch_bits == tf_bits).mean() >= 0.99
    within = np.abs(torch_codec.decode(torch_file).astype(int)
                    - tf_codec.decode(tf_file).astype(int)) <= 2
    assert within.mean() >= 0.99
    assert abs(len(tf_file) - len(torch_file)) <= 0.03 * len(torch_file) + 64
    return tf_file


@pytest.mark.parametrize("quality", [1, 4])
def test_twins_agree_on_tiny_weights(tiny_path, quality):
    torch_codec, tf_codec = _twins(tiny_path)
    image = photo(2, 75, 99)
    tf_file = _assert_twins_agree(torch_codec, tf_codec, image, quality)
    loaded, _ = tf_codec._model(quality)
    coded = tf_codec.allocate(loaded, image)
    np.testing.assert_array_equal(tf_codec.decode(tf_file), to_image(coded.decoded[None], 75, 99))
    assert tf_codec.version.split("weights ")[1] == torch_codec.version.split("weights ")[1]
    with pytest.raises(ContainerError, match="written by codec 'tf/minnen2017-tiled'"):
        torch_codec.decode(tf_file)


@pytest.mark.parametrize("quality,index", [(2, 0), (5, 3)], ids=["q2", "q5"])
def test_twins_agree_on_the_shipped_weights(quality, index):
    torch_codec, tf_codec = _twins()
    _assert_twins_agree(torch_codec, tf_codec, photo(index, 160, 224, 60, 60), quality)


def test_converted_file_codes_like_load_time_conversion(tiny_path, tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tiny_path.parent))
    monkeypatch.delenv("CODECBENCH_TF_WEIGHTS", raising=False)
    image = photo(1, 64, 96)
    at_load = bytes(TFTiledCodec(ENTRY).encode(image, 3))
    completed = invoke_cli("convert", "torch/minnen2017-tiled", "tf/minnen2017-tiled",
                           "--quality", "1", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    written = tmp_path / "minnen2017-tiled.tf.safetensors"
    assert written.is_file()
    monkeypatch.setenv("CODECBENCH_TF_WEIGHTS", str(tmp_path))
    converted = TFTiledCodec(ENTRY)
    assert converted.weights_file() == written
    data = bytes(converted.encode(image, 3))
    assert parse(data).latents == parse(at_load).latents  # the same codes, other weights id
    assert converted.decode(data).shape == image.shape
