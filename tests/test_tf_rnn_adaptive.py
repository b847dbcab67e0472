"""``tf/johnston2018-adaptive``: parity with the torch twin, files from bytes alone."""

import numpy as np
import pytest

from codecbench.codecs.learned.container import parse

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")
torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from codecbench.codecs.learned.models import (  # noqa: E402
    ADAPTIVE_RECURRENT_MODELS,
    RECURRENT_MODELS,
)
from codecbench.codecs.learned.recurrent.tf.adaptive import TFAdaptiveCodec  # noqa: E402
from codecbench.codecs.learned.recurrent.tf.codecs import TFRecurrentCodec  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.adaptive import TorchAdaptiveCodec  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.codecs import TorchRecurrentCodec  # noqa: E402
from rnn_fixtures import photo, write_tiny_weights  # noqa: E402

ENTRY = ADAPTIVE_RECURRENT_MODELS["johnston2018-adaptive"]
BASE = RECURRENT_MODELS[ENTRY.base]
RANS_FLUSH_BYTES = 8
"""Per-string overhead allowed between the coders (as tests/test_tf_rnn.py)."""


def twins():
    return (TorchAdaptiveCodec(ENTRY, TorchRecurrentCodec(BASE)),
            TFAdaptiveCodec(ENTRY, TFRecurrentCodec(BASE)))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny-rnn-adaptive-tf"))


@pytest.fixture
def tiny_twins(monkeypatch, tiny_weights):
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tiny_weights))
    monkeypatch.delenv("CODECBENCH_TF_WEIGHTS", raising=False)
    return twins()


def parity(torch_codec, tf_codec, image, quality):
    """(same stop map fraction, same bits fraction where both coded, pixels within ±1
    fraction, TF − torch bytes, torch bytes, strings)."""
    torch_file, tf_file = (bytes(codec.encode(image, quality)) for codec in (torch_codec,
                                                                             tf_codec))
    torch_bits, torch_stops = torch_codec.decode_codes(torch_codec._model(quality)[0],
                                                       parse(torch_file))
    tf_bits, tf_stops = tf_codec.decode_codes(tf_codec._model(quality)[0], parse(tf_file))
    both = min(len(torch_bits), len(tf_bits))
    coded = np.stack([np.broadcast_to((torch_stops > t) & (tf_stops > t), torch_bits.shape[1:])
                      for t in range(both)])
    same_bits = float(np.mean(torch_bits[:both][coded] == tf_bits[:both][coded]))
    difference = np.abs(torch_codec.decode(torch_file).astype(int) - tf_codec.decode(tf_file))
    return (float(np.mean(torch_stops == tf_stops)), same_bits, float(np.mean(difference <= 1)),
            len(tf_file) - len(torch_file), len(torch_file), len(parse(torch_file).latents))


def test_tiny_models_agree_across_frameworks(tiny_twins):
    same_stops, same_bits, close_pixels, size_difference, torch_size, strings = parity(
        *tiny_twins, photo(0, 64, 80), 3)
    assert same_stops == 1.0
    assert same_bits >= 0.9999
    assert close_pixels >= 0.999
    assert abs(size_difference) <= 0.01 * torch_size + RANS_FLUSH_BYTES * strings


def test_tf_files_decode_from_bytes_alone(tiny_twins):
    _, tf_codec = tiny_twins
    image = photo(2, 37, 53)
    data = bytes(tf_codec.encode(image, 5))
    loaded, _ = tf_codec._model(5)
    decided = tf_codec.decide(loaded, image)
    fresh = TFAdaptiveCodec(ENTRY, TFRecurrentCodec(BASE))
    decoded = fresh.decode(data)
    assert np.array_equal(decoded, decided.image)
    assert np.array_equal(fresh.decode_codes(fresh._model(5)[0], parse(data))[1], decided.stops)


@pytest.mark.slow
def test_shipped_weights_parity_on_a_real_photo(monkeypatch):
    """Stop maps identical on ≥ 99 % of positions (a decision at the threshold may flip
    with a ±1 pixel difference), ≥ 99.99 % identical bits where both code, ≥ 99.9 % of
    pixels within ±1, TF files within 2 % (+ the coders' flush bytes) of the torch files."""
    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    monkeypatch.delenv("CODECBENCH_TF_WEIGHTS", raising=False)
    torch_codec, tf_codec = twins()
    if torch_codec.weights_file() is None:
        pytest.skip("no shipped johnston2018-priming weights")
    same_stops, same_bits, close_pixels, size_difference, torch_size, strings = parity(
        torch_codec, tf_codec, photo(3, 192, 256, 0, 0), 4)
    assert same_stops >= 0.99
    assert same_bits >= 0.9999
    assert close_pixels >= 0.999
    assert abs(size_difference) <= 0.02 * torch_size + RANS_FLUSH_BYTES * strings
