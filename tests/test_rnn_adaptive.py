"""Spatially adaptive bit rates (``torch/johnston2018-adaptive``): stop maps, files, behaviour."""

import numpy as np
import pytest

from codecbench.codecs.learned.container import ContainerError, Latent, LearnedFile, parse
from codecbench.codecs.learned.models import ADAPTIVE_RECURRENT_MODELS, RECURRENT_MODELS
from codecbench.codecs.learned.recurrent import stop_maps
from codecbench.codecs.learned.recurrent.tiling import Tiling
from codecbench.metrics.basic import psnr_from_mse

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from codecbench.codecs.learned.recurrent.torch.adaptive import TorchAdaptiveCodec  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.codecs import TorchRecurrentCodec  # noqa: E402
from codecbench.codecs.learned.torch.entropy_coding import RansIndexCoder  # noqa: E402
from rnn_fixtures import photo, write_tiny_weights  # noqa: E402

ENTRY = ADAPTIVE_RECURRENT_MODELS["johnston2018-adaptive"]


def adaptive_codec() -> TorchAdaptiveCodec:
    return TorchAdaptiveCodec(ENTRY, TorchRecurrentCodec(RECURRENT_MODELS[ENTRY.base]))


def psnr(reference, reconstruction):
    difference = reference.astype(np.float64) - reconstruction
    return psnr_from_mse(float(np.mean(difference**2)))


def bpp(data: bytes, image) -> float:
    return 8 * len(data) / image.shape[0] / image.shape[1]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny-rnn-adaptive"))


@pytest.fixture
def tiny(monkeypatch, tiny_weights):
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tiny_weights))
    return adaptive_codec()


@pytest.fixture
def shipped(monkeypatch):
    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    codec = adaptive_codec()
    if codec.weights_file() is None:
        pytest.skip("no shipped johnston2018-priming weights")
    return codec


# --- stop maps (no network) ----------------------------------------------------------------

def test_stop_map_round_trip_and_its_cost():
    coder = RansIndexCoder()
    rng = np.random.default_rng(0)
    stops = rng.integers(1, 17, size=(7, 11))
    string, estimate = stop_maps.encode(stops, 16, coder)
    assert np.array_equal(stop_maps.decode(string, (7, 11), 16, int(stops.max()), coder), stops)
    assert abs(8 * len(string) - estimate) <= 64  # rANS flush
    one_value, _ = stop_maps.encode(np.full((40, 60), 5), 16, coder)
    assert len(one_value) == 15 + 2  # the counts alone: 15 zeros and 2400 in two bytes


def test_stop_map_refuses_counts_that_do_not_fit():
    coder = RansIndexCoder()
    stops = np.array([[1, 2], [2, 3]])
    string, _ = stop_maps.encode(stops, 16, coder)
    with pytest.raises(ContainerError, match="add up to 4, expected 6"):
        stop_maps.decode(string, (2, 3), 16, 3, coder)
    with pytest.raises(ContainerError, match="reaches iteration 3 but the file holds 4"):
        stop_maps.decode(string, (2, 2), 16, 4, coder)
    with pytest.raises(ContainerError, match="longer than 5 bytes"):
        stop_maps.decode(b"\xff" * 6, (2, 2), 16, 3, coder)
    with pytest.raises(ContainerError, match="truncated"):
        stop_maps.decode(string[:3], (2, 2), 16, 3, coder)
    with pytest.raises(ValueError, match="1…16"):
        stop_maps.encode(np.array([[0, 1]]), 16, coder)


def test_block_mse_counts_only_the_images_pixels():
    tiling = Tiling(20, 17, 0)  # 2×2 code positions, padded to 32×32
    original = np.zeros((20, 17, 3), np.uint8)
    decoded = original.copy()
    decoded[0, 0] = 16  # one pixel of position (0, 0), block (0, 0)
    decoded[19, 16] = 8  # the last pixel: position (1, 1), a 4×1-pixel 8×8 block
    per_16 = stop_maps.block_mse(original, decoded, tiling, 16)
    assert per_16[0, 0] == pytest.approx(16**2 * 3 / (256 * 3))
    assert per_16[1, 1] == pytest.approx(8**2 * 3 / (4 * 1 * 3))
    assert per_16[0, 1] == per_16[1, 0] == 0
    per_8 = stop_maps.block_mse(original, decoded, tiling, 8)  # the worst 8×8 block
    assert per_8[0, 0] == pytest.approx(16**2 / 64)
    assert stop_maps.target_mse(20.0) == pytest.approx(255**2 / 100)


# --- files (tiny weights) ------------------------------------------------------------------

@pytest.mark.parametrize("size", [(16, 16), (33, 47), (75, 99)])
def test_round_trip_from_bytes_alone_is_the_encoders_reconstruction(tiny, size):
    image = photo(2, *size)
    loaded, _ = tiny._model(3)
    decided = tiny.decide(loaded, image)
    data = bytes(tiny.encode(image, 3))
    fresh = adaptive_codec()  # nothing cached from encode
    decoded = fresh.decode(data)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.array_equal(decoded, decided.image)


def test_the_file_carries_the_encoders_stop_map_and_the_active_bits(tiny):
    image = photo(0, 64, 96)
    loaded, _ = tiny._model(6)
    decided = tiny.decide(loaded, image)
    file = parse(bytes(tiny.encode(image, 6)))
    assert len(file.latents) == 1 + decided.stops.max()
    assert file.latents[0].shape == (1, 4, 6)
    assert all(latent.shape == (32, 4, 6) for latent in file.latents[1:])
    bits, stops = tiny.decode_codes(loaded, file)
    assert np.array_equal(stops, decided.stops)
    assert np.array_equal(bits, decided.bits)
    for t in range(len(bits)):  # stopped positions send nothing and read as 0
        assert not bits[t][:, stops < t + 1].any()


def test_the_weights_are_the_priming_codecs(tiny, tiny_weights):
    priming = TorchRecurrentCodec(RECURRENT_MODELS["johnston2018-priming"])
    assert tiny.weights_file() == priming.weights_file()
    assert tiny.weights_file().parent == tiny_weights
    assert not list(tiny_weights.glob("*adaptive*"))
    assert tiny.qualities == (1, 2, 3, 4, 5, 6) and tiny.family == "rnn"


def test_unavailable_without_weights_names_the_priming_training(monkeypatch, tmp_path):
    from codecbench.codecs.learned import weights_locator

    monkeypatch.setattr(weights_locator, "shipped_weights_folder", lambda: None)
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tmp_path))
    available, reason = adaptive_codec().availability()
    assert not available and "codecbench train torch/johnston2018-priming" in reason


def _with_latents(file: LearnedFile, latents, quality=None) -> bytes:
    return LearnedFile(file.codec, file.weights_id, file.quality if quality is None else quality,
                       file.height, file.width, tuple(latents)).to_bytes()


def test_refusals_name_the_problem(tiny):
    image = photo(1, 48, 64)
    data = bytes(tiny.encode(image, 2))
    file = parse(data)
    with pytest.raises(ContainerError, match="encoded with weights"):
        tiny.decode(_with_latents(file, file.latents, quality=5))  # another target
    if len(file.latents) > 2:
        with pytest.raises(ContainerError, match="stop map reaches iteration"):
            tiny.decode(_with_latents(file, file.latents[:-1]))
    with pytest.raises(ContainerError, match="latent count 18: expected 2 to 17"):
        tiny.decode(_with_latents(file, [*file.latents, *[file.latents[-1]] * (18 - len(
            file.latents))]))
    with pytest.raises(ContainerError, match="latent count 1"):
        tiny.decode(_with_latents(file, file.latents[:1]))
    counts = stop_maps._varints([0] * 16)  # counts that add up to nothing
    with pytest.raises(ContainerError, match="stop map counts add up to 0"):
        tiny.decode(_with_latents(file, [Latent(file.latents[0].shape, counts),
                                         *file.latents[1:]]))
    with pytest.raises(ContainerError, match=r"latent 1 \(stop map\) has shape"):
        tiny.decode(_with_latents(file, [Latent((2, 3, 4), b""), *file.latents[1:]]))
    with pytest.raises(ContainerError, match="written by codec"):
        TorchRecurrentCodec(RECURRENT_MODELS["johnston2018-priming"]).decode(data)


# --- behaviour (shipped weights) -----------------------------------------------------------

def test_flat_regions_stop_earlier_than_textured_ones(shipped):
    textured = photo(1, 64, 64, 100, 150)
    flat = np.empty_like(textured)
    flat[:] = textured.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    image = np.concatenate([flat, textured], axis=1)  # 4×8 positions: flat left, textured right
    loaded, _ = shipped._model(4)
    stops = shipped.decide(loaded, image).stops
    assert stops[:, :4].max() < stops[:, 4:].mean()
    assert stops[:, :4].mean() <= 2


def test_a_higher_target_costs_more_bits_and_gives_a_better_image(shipped):
    image = photo(1, 128, 128, 0, 0)
    rates, qualities, iterations = [], [], []
    for quality in shipped.qualities:
        data = bytes(shipped.encode(image, quality))
        rates.append(bpp(data, image))
        qualities.append(psnr(image, shipped.decode(data)))
        iterations.append(np.mean(shipped.decode_codes(shipped._model(quality)[0],
                                                       parse(data))[1]))
    assert all(a < b for a, b in zip(rates, rates[1:], strict=False)), rates
    assert all(a <= b for a, b in zip(iterations, iterations[1:], strict=False)), iterations
    assert all(a < b for a, b in zip(qualities, qualities[1:], strict=False)), qualities


def test_the_estimate_is_the_file_size_within_the_coders_flush(shipped):
    image = photo(3, 96, 128, 0, 0)
    bitstream = shipped.encode(image, 3)
    file = parse(bytes(bitstream))
    string_bits = 8 * sum(len(latent.string) for latent in file.latents)
    assert abs(string_bits - bitstream.estimated_bits) <= (
        0.01 * bitstream.estimated_bits + 64 * len(file.latents))
