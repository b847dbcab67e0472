"""``codecbench train --variable-rate``: one hyperprior network with gain units serves every
rate point of the model table (Cui et al. 2021)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from codecbench.codecs.learned import weights_format  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.gains import GainUnits  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.training import train  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.testing import sample_crops  # noqa: E402
from training_helpers import tiny_config  # noqa: E402

CODEC = "torch/bmshj2018-hyperprior"
ENTRY = LEARNED_MODELS["bmshj2018-hyperprior"]


def variable_rate_config(data, out, **changes):
    options = {"quality": None, "variable_rate": True, "channels": (16, 16), **changes}
    return tiny_config(data, out, **options)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from PIL import Image

    from codecbench.datasets.builtin import sample_dataset

    data = tmp_path_factory.mktemp("photos")
    sample = sample_dataset()
    for image_id in sample.image_ids()[:2]:
        image = sample.load(image_id)[:192, :192]
        Image.fromarray(image).save(data / f"{image_id}.png")
    out = tmp_path_factory.mktemp("run")
    return data, train(ENTRY, CODEC, variable_rate_config(data, out, steps=120))


def test_one_file_for_every_rate_point(trained):
    _, result = trained
    assert result.finished and result.weights.name == "bmshj2018-hyperprior.safetensors"
    metadata = weights_format.read_metadata(result.weights)
    assert metadata["rate_points"] == str(len(ENTRY.lambdas))
    assert [float(v) for v in metadata["lambda"].split(",")] == list(ENTRY.lambdas)


def test_the_codec_serves_every_rate_point_from_it_with_rising_rate(trained, monkeypatch):
    _, result = trained
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(result.weights.parent))
    monkeypatch.setattr("codecbench.codecs.learned.weights_locator.shipped_weights_folder",
                        lambda: None)
    codec = TorchLearnedCodec(ENTRY)
    assert codec.qualities == ENTRY.qualities
    assert {codec.weights_file(q) for q in codec.qualities} == {result.weights}
    image = sample_crops()[0][1]
    sizes, errors = [], []
    for quality in codec.qualities:
        data = bytes(codec.encode(image, quality))
        decoded = codec.decode(data)
        assert decoded.shape == image.shape
        sizes.append(len(data))
        errors.append(float(np.mean((decoded.astype(float) - image) ** 2)))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes
    assert errors[-1] < errors[0], errors


def test_a_rate_point_file_of_its_own_wins_over_the_variable_rate_file(trained, tmp_path,
                                                                      monkeypatch):
    data, result = trained
    own = train(ENTRY, CODEC, tiny_config(data, tmp_path / "q2", quality=2, steps=5,
                                          channels=(16, 16)))
    (tmp_path / "weights").mkdir()
    for path in (result.weights, own.weights):
        (tmp_path / "weights" / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr("codecbench.codecs.learned.weights_locator.shipped_weights_folder",
                        lambda: None)
    codec = TorchLearnedCodec(ENTRY)
    assert codec.weights_file(2).name == "bmshj2018-hyperprior-q2.safetensors"
    assert codec.weights_file(4).name == "bmshj2018-hyperprior.safetensors"


def test_variable_rate_runs_resume_exactly(small_photo_dir, tmp_path):
    straight = train(ENTRY, CODEC, variable_rate_config(small_photo_dir, tmp_path / "a",
                                                        steps=20))
    train(ENTRY, CODEC, variable_rate_config(small_photo_dir, tmp_path / "b", steps=10))
    resumed = train(ENTRY, CODEC, variable_rate_config(small_photo_dir, tmp_path / "b",
                                                       steps=20))
    from safetensors.torch import load_file

    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and "gain_units.gain" in a
    assert all(torch.equal(a[name], b[name]) for name in a)
    # the gains moved away from their initial ladder: they are trained
    assert not torch.equal(a["gain_units.gain"], GainUnits(5, 16).gain.detach())


def test_variable_rate_refuses_a_rate_point_and_other_families(small_photo_dir, tmp_path):
    with pytest.raises(TrainingError, match="--quality and --lambda do not apply"):
        train(ENTRY, CODEC, variable_rate_config(small_photo_dir, tmp_path / "x", quality=2))
    from codecbench.codecs.learned.hyperprior.torch.adversarial_training import (
        train as train_gan,
    )

    with pytest.raises(TrainingError, match="--variable-rate applies to the λ-trained"):
        train_gan(LEARNED_MODELS["hific"], "torch/hific",
                  variable_rate_config(small_photo_dir, tmp_path / "y"))


def test_your_variable_rate_file_wins_over_a_shipped_file_of_the_rate_point(trained, tmp_path,
                                                                           monkeypatch):
    _, result = trained
    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    shipped, yours = tmp_path / "shipped", tmp_path / "yours"
    shipped.mkdir()
    yours.mkdir()
    (shipped / "bmshj2018-hyperprior-q2.safetensors").write_bytes(result.weights.read_bytes())
    (yours / result.weights.name).write_bytes(result.weights.read_bytes())
    monkeypatch.setattr("codecbench.codecs.learned.weights_locator.shipped_weights_folder",
                        lambda: shipped)
    codec = TorchLearnedCodec(ENTRY)
    assert codec.weights_file(2) == shipped / "bmshj2018-hyperprior-q2.safetensors"
    assert codec.weights_file(3) is None
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(yours))
    assert codec.weights_file(2) == codec.weights_file(3) == yours / result.weights.name
