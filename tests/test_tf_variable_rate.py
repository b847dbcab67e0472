"""``tf/<model>`` on one variable-rate torch network (gain units, Cui et al. 2021): the same
file serves every rate point in both frameworks, converted at load time or by
``codecbench convert``."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")

from codecbench.api.images import load_rgb  # noqa: E402
from codecbench.codecs.learned import weights_format  # noqa: E402
from codecbench.codecs.learned.container import parse  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf import convert  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from codecbench.frameworks.files import WeightsFileError  # noqa: E402
from tf_fixtures import write_tiny_variable_rate_weights  # noqa: E402

SLUGS = ["bls2017-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018"]
PHOTO = sorted(SAMPLE_DIR.glob("*.webp"))[3]


def _photo(size=96):
    return np.ascontiguousarray(load_rgb(PHOTO)[50:50 + size, 70:70 + size + 17])


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny_variable_rate_weights(tmp_path_factory.mktemp("vr-weights"), SLUGS)


@pytest.fixture
def only(monkeypatch, weights):
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(weights))
    monkeypatch.delenv("CODECBENCH_TF_WEIGHTS", raising=False)
    monkeypatch.setattr("codecbench.codecs.learned.weights_locator.shipped_weights_folder",
                        lambda: None)
    return weights


@pytest.mark.parametrize("slug", SLUGS)
def test_one_variable_rate_file_codes_every_rate_point_alike_in_both_frameworks(only, slug):
    entry = LEARNED_MODELS[slug]
    torch_codec, tf_codec = TorchLearnedCodec(entry), TFLearnedCodec(entry)
    assert tf_codec.qualities == entry.qualities
    assert {tf_codec.weights_file(q) for q in entry.qualities} == {
        only / f"{slug}.safetensors"}
    image = _photo(64 if entry.prior == "autoregressive" else 96)
    decoded = []
    for quality in (entry.qualities[0], entry.qualities[-1]):
        torch_data, tf_data = torch_codec.encode(image, quality), tf_codec.encode(image, quality)
        tf_strings = sum(len(latent.string) for latent in parse(tf_data).latents)
        torch_strings = sum(len(latent.string) for latent in parse(torch_data).latents)
        assert abs(tf_strings - torch_strings) <= 0.02 * torch_strings + 16, quality
        if quality == entry.qualities[0]:
            # at the top point the random density leaves symbols far in its tails, whose
            # −log2 p CompressAI bounds (likelihood ≥ 10⁻⁹) and tfc does not
            assert tf_data.estimated_bits == pytest.approx(torch_data.estimated_bits, rel=1e-3)
        decoded.append(tf_codec.decode(tf_data))
        difference = np.abs(decoded[-1].astype(int)
                            - torch_codec.decode(torch_data).astype(int))
        assert difference.max() <= 1 and (difference == 0).mean() >= 0.99
    # each point's own gains: the lowest (×0.25) and the top (×1) reconstruct differently
    assert not np.array_equal(*decoded)


def test_convert_writes_one_variable_rate_tf_file_that_codes_as_load_time_conversion(
        only, tmp_path, monkeypatch):
    from helpers import invoke_cli

    slug = "bmshj2018-hyperprior"
    result = invoke_cli("convert", f"torch/{slug}", f"tf/{slug}", "--out", str(tmp_path),
                        env={"CODECBENCH_TORCH_WEIGHTS": str(only)})
    assert result.returncode == 0, result.stderr
    written = tmp_path / f"{slug}.tf.safetensors"
    # every rate point is the one converted file
    assert [line for line in result.stdout.splitlines() if line.startswith("tf/")] == [
        f"tf/{slug} q{q}: {written}" for q in range(1, 6)]
    metadata = convert.read_tf_metadata(written)
    assert metadata["rate_points"] == "5"
    image = _photo()
    at_load = {q: TFLearnedCodec(LEARNED_MODELS[slug]).encode(image, q) for q in (1, 4)}
    monkeypatch.setenv("CODECBENCH_TF_WEIGHTS", str(tmp_path))
    codec = TFLearnedCodec(LEARNED_MODELS[slug])
    assert codec.weights_file(1) == written == codec.weights_file(4)
    for quality, expected in at_load.items():
        data = codec.encode(image, quality)
        assert [latent.string for latent in parse(data).latents] == \
            [latent.string for latent in parse(expected).latents]
        assert codec.decode(data).shape == image.shape


def test_a_file_whose_gain_rows_do_not_fit_the_rate_points_is_refused(only, tmp_path,
                                                                      monkeypatch):
    from safetensors.numpy import load_file, save_file

    slug = "mbt2018-mean"
    source = only / f"{slug}.safetensors"
    tensors, metadata = load_file(str(source)), weights_format.read_metadata(source)
    (tmp_path / "three").mkdir()
    (tmp_path / "one").mkdir()
    save_file({**tensors, "gain_units.gain": tensors["gain_units.gain"][:3],
               "gain_units.inverse_gain": tensors["gain_units.inverse_gain"][:3]},
              str(tmp_path / "three" / source.name), metadata={**metadata, "rate_points": "3"})
    save_file(tensors, str(tmp_path / "one" / source.name),
              metadata={**metadata, "rate_points": "1"})
    image = _photo(64)
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tmp_path / "three"))
    with pytest.raises(WeightsFileError, match="gain units for 3 rate points; tf/mbt2018-mean "
                                               "has 5"):
        TFLearnedCodec(LEARNED_MODELS[slug]).encode(image, 1)
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tmp_path / "one"))
    with pytest.raises(WeightsFileError, match="invalid 'rate_points' metadata '1'"):
        TFLearnedCodec(LEARNED_MODELS[slug]).encode(image, 1)


def test_a_tf_run_of_one_rate_point_does_not_start_from_a_variable_rate_file(only,
                                                                             small_photo_dir,
                                                                             tmp_path):
    from codecbench.codecs.learned.hyperprior.tf.training import train
    from codecbench.codecs.learned.training_loop import TrainingError
    from training_helpers import tiny_config

    slug = "bmshj2018-hyperprior"
    config = tiny_config(small_photo_dir, tmp_path / "run", quality=2, channels=(8, 12),
                         init_from=only / f"{slug}.safetensors")
    with pytest.raises(TrainingError, match="a variable-rate network"):
        train(LEARNED_MODELS[slug], f"tf/{slug}", config)
