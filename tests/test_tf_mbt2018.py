"""``tf/mbt2018``: Minnen 2018's context model in TensorFlow — layers against CompressAI's,
serial coding against CompressAI's, exact latents, any size, conversion and training.

Small crops throughout: the context model is decoded position by position. The shipped
rate points are compared with ``torch/mbt2018`` in ``tests/test_tf_parity.py``.
"""

import dataclasses

import numpy as np
import pytest

from codecbench.api.images import load_rgb
from codecbench.codecs.learned.container import ContainerError, Latent, parse

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.codecs.learned.hyperprior.tf import autoregressive, convert  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.network import CNNModel  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.pipeline import EntropyCoders  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.training import train  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from tf_fixtures import TINY_M, TINY_N, perturbed_model, write_tiny_torch_weights  # noqa: E402
from training_helpers import curves, tiny_config  # noqa: E402

ENTRY = LEARNED_MODELS["mbt2018"]
CODEC = "tf/mbt2018"
PHOTOS = sorted(SAMPLE_DIR.glob("*.webp"))


def _photo(index=0, height=97, width=131):
    return np.ascontiguousarray(load_rgb(PHOTOS[index])[40:40 + height, 60:60 + width])


def _nhwc(tensor):
    return tensor.detach().numpy().transpose(0, 2, 3, 1)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return write_tiny_torch_weights(tmp_path_factory.mktemp("tiny-torch-weights"))


@pytest.fixture
def tiny(monkeypatch, tiny_weights):
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tiny_weights))
    monkeypatch.delenv("CODECBENCH_TF_WEIGHTS", raising=False)
    return {"tf": lambda: TFLearnedCodec(ENTRY), "torch": lambda: TorchLearnedCodec(ENTRY)}


@pytest.fixture(scope="module")
def converted():
    """A perturbed tiny CompressAI model (its masked-out context taps non-zero too) and its
    TF conversion."""
    source = perturbed_model(ENTRY, seed=3)
    model = CNNModel("autoregressive", TINY_N, TINY_M)
    convert.assign_compressai_state(
        model, {k: v.detach().numpy() for k, v in source.state_dict().items()})
    return source, model


def test_context_model_and_entropy_parameters_compute_what_compressai_computes(converted):
    source, model = converted
    rng = np.random.default_rng(0)
    y_hat = np.round(rng.normal(0, 3, (1, TINY_M, 6, 9))).astype(np.float32)
    psi = rng.normal(0, 1, (1, 2 * TINY_M, 6, 9)).astype(np.float32)
    with torch.no_grad():
        context = source.context_prediction(torch.tensor(y_hat))  # masks its weight
        expected = source.entropy_parameters(torch.cat((torch.tensor(psi), context), 1))
    scales, means = model.context_parameters(psi.transpose(0, 2, 3, 1),
                                             y_hat.transpose(0, 2, 3, 1))
    actual = np.concatenate([scales.numpy(), means.numpy()], axis=-1)
    expected = _nhwc(expected)
    assert np.abs(actual - expected).max() <= 1e-5 * max(np.abs(expected).max(), 1.0)
    assert np.abs(model.context_prediction(y_hat.transpose(0, 2, 3, 1)).numpy()
                  - _nhwc(context)).max() <= 1e-5 * max(np.abs(context.numpy()).max(), 1.0)


def test_serial_coding_quantises_as_compressai_compress_ar(converted):
    """The serial ŷ (raster order, context of the decoded neighbours only) and its range
    string decode back exactly; ŷ agrees with CompressAI's ``_compress_ar`` on the same
    ``y`` and ``ψ`` up to float rounding."""
    source, model = converted
    x = _photo(height=64, width=128).astype(np.float32)[None] / 255.0
    with torch.no_grad():
        y = source.g_a(torch.tensor(x).permute(0, 3, 1, 2))
        psi = source.h_s(source.h_a(y))
        padded = torch.nn.functional.pad(y, (2, 2, 2, 2))
        source._compress_ar(padded, psi, y.shape[2], y.shape[3], 5, 2)  # fills padded
    expected = _nhwc(padded[:, :, 2:-2, 2:-2])[0]
    coder = EntropyCoders(model).context
    assert isinstance(coder, autoregressive.SerialContextCoder)
    string, y_hat = coder.compress(_nhwc(y)[0], _nhwc(psi)[0])
    assert y_hat.shape == expected.shape == (4, 8, TINY_M)
    close = np.abs(y_hat - expected) <= 1e-4
    assert close.mean() >= 0.999
    assert np.array_equal(coder.decompress(string, _nhwc(psi)[0]), y_hat)


def test_tiny_models_agree_across_frameworks_end_to_end(tiny):
    image = _photo()
    torch_data, tf_data = tiny["torch"]().encode(image, 2), tiny["tf"]().encode(image, 2)
    tf_strings = [len(latent.string) for latent in parse(tf_data).latents]
    torch_strings = [len(latent.string) for latent in parse(torch_data).latents]
    assert abs(sum(tf_strings) - sum(torch_strings)) <= 0.02 * sum(torch_strings) + 8 * len(
        tf_strings)
    assert tf_data.estimated_bits == pytest.approx(torch_data.estimated_bits, rel=1e-3)
    difference = np.abs(tiny["tf"]().decode(tf_data).astype(int)
                        - tiny["torch"]().decode(torch_data).astype(int))
    assert difference.max() <= 1
    assert (difference == 0).mean() >= 0.99


def test_decoded_latents_equal_the_encoded_latents_exactly(tiny, monkeypatch):
    seen = {}
    compress, decompress = (autoregressive.SerialContextCoder.compress,
                            autoregressive.SerialContextCoder.decompress)

    def keep_compressed(self, y, psi):
        string, y_hat = compress(self, y, psi)
        seen["encoded"] = y_hat
        return string, y_hat

    def keep_decompressed(self, string, psi):
        seen["decoded"] = decompress(self, string, psi)
        return seen["decoded"]

    monkeypatch.setattr(autoregressive.SerialContextCoder, "compress", keep_compressed)
    monkeypatch.setattr(autoregressive.SerialContextCoder, "decompress", keep_decompressed)
    codec = tiny["tf"]()
    codec.decode(codec.encode(_photo(index=3, height=70, width=64), 1))
    assert seen["encoded"].shape == (8, 4, TINY_M)  # 128×64 padded, /16
    assert np.array_equal(seen["decoded"], seen["encoded"])
    assert np.abs(seen["encoded"]).max() > 0


@pytest.mark.parametrize("size", [(1, 1), (13, 200), (64, 65)])
def test_any_image_size_decodes_to_the_input_shape(tiny, size):
    codec = tiny["tf"]()
    image = _photo(height=size[0], width=size[1])
    data = codec.encode(image, 1)
    file = parse(data)
    padded = [-(-side // 64) * 64 for side in size]
    assert file.latents[0].shape == (TINY_M, padded[0] // 16, padded[1] // 16)
    assert file.latents[1].shape == (TINY_N, padded[0] // 64, padded[1] // 64)
    assert codec.decode(data).shape == image.shape


def test_a_fresh_codec_decodes_from_the_bytes_alone_and_refuses_broken_strings(tiny):
    """A string with bytes after its end is refused (tfc's end-of-stream check); a cut one
    decodes, as tfc's range decoder reads missing bytes as zeros, to an image of the
    header's size, the same one every time."""
    image = _photo()
    data = tiny["tf"]().encode(image, 2)
    first = tiny["tf"]().decode(data)
    assert first.dtype == np.uint8 and first.shape == image.shape
    assert np.array_equal(first, tiny["tf"]().decode(data))
    with pytest.raises(ContainerError, match="written by codec 'tf/mbt2018'"):
        tiny["torch"]().decode(data)
    file = parse(data)
    y = file.latents[0]

    def with_y_string(string):
        latents = (Latent(y.shape, string), *file.latents[1:])
        return dataclasses.replace(file, latents=latents).to_bytes()

    with pytest.raises(ContainerError, match="corrupt y string"):
        tiny["tf"]().decode(with_y_string(y.string + b"\x00\x01"))
    cut = with_y_string(y.string[:len(y.string) // 2])
    assert tiny["tf"]().decode(cut).shape == image.shape
    assert np.array_equal(tiny["tf"]().decode(cut), tiny["tf"]().decode(cut))


def test_conversion_refuses_a_context_mask_other_than_type_a():
    state = {k: v.detach().numpy() for k, v in perturbed_model(ENTRY, 1).state_dict().items()}
    mask = state["context_prediction.mask"].copy()
    mask[:, :, 2, 2] = 1  # the centre tap: ŷ[h, w] would predict itself
    model = CNNModel("autoregressive", TINY_N, TINY_M)
    with pytest.raises(convert.ConversionError, match="context_prediction.mask is not the "
                                                      "type-A mask of a 5×5 kernel"):
        convert.assign_compressai_state(model, {**state, "context_prediction.mask": mask})
    del state["context_prediction.weight"]
    with pytest.raises(convert.ConversionError, match="missing context_prediction.weight"):
        convert.assign_compressai_state(model, state)


def test_converted_tf_weights_file_codes_like_load_time_conversion(tiny, tiny_weights,
                                                                   tmp_path, monkeypatch):
    from helpers import invoke_cli

    result = invoke_cli("convert", "torch/mbt2018", CODEC, "--quality", "1",
                        "--out", str(tmp_path),
                        env={"CODECBENCH_TORCH_WEIGHTS": str(tiny_weights)})
    assert result.returncode == 0, result.stderr
    written = tmp_path / "mbt2018-q1.tf.safetensors"
    assert str(written) in result.stdout
    metadata = convert.read_tf_metadata(written)
    assert metadata["model"] == "mbt2018" and metadata["prior"] == "autoregressive"
    image = _photo(height=64, width=80)
    at_load = tiny["tf"]().encode(image, 1)
    monkeypatch.setenv("CODECBENCH_TF_WEIGHTS", str(tmp_path))
    codec = tiny["tf"]()
    assert codec.weights_file(1) == written
    from_file = codec.encode(image, 1)
    assert [latent.string for latent in parse(from_file).latents] == \
        [latent.string for latent in parse(at_load).latents]
    assert parse(from_file).weights_id != parse(at_load).weights_id
    assert np.array_equal(codec.decode(from_file), tiny["tf"]().decode(from_file))


def _config(data, out, **changes):
    return tiny_config(data, out, **{"steps": 8, "log_every": 2, "checkpoint_every": 2,
                                     "learning_rate": 3e-3, **changes})


def _weights(path):
    from safetensors.numpy import load_file

    return load_file(str(path))


def test_tf_training_learns_resumes_exactly_and_exports_a_serial_codec(small_photo_dir,
                                                                      tmp_path, monkeypatch):
    straight = train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "straight"))
    assert straight.finished and straight.step == 8
    rows = curves(tmp_path / "straight")
    assert float(rows[-1]["loss"]) < 0.9 * float(rows[0]["loss"]), rows
    train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "split", steps=4))
    resumed = train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "split"))
    assert resumed.step == 8
    expected, actual = _weights(straight.weights), _weights(resumed.weights)
    assert expected.keys() == actual.keys()
    assert "context_prediction.kernel" in expected and "entropy_parameters.4.kernel" in expected
    for key in expected:
        assert np.array_equal(expected[key], actual[key]), key
    assert [r["loss"] for r in curves(tmp_path / "split")] == [r["loss"] for r in rows]
    assert straight.weights.name == "mbt2018-q3.tf.safetensors"
    monkeypatch.setenv("CODECBENCH_TF_WEIGHTS", str(tmp_path / "straight"))
    codec = TFLearnedCodec(ENTRY)
    assert codec.weights_file(3) == straight.weights
    image = _photo(index=2, height=64, width=96)
    data = codec.encode(image, 3)
    assert TFLearnedCodec(ENTRY).decode(data).shape == image.shape
    assert data.estimated_bits > 0
