"""``codecbench train`` for the GAN family: the discriminator learns, a resumed run is the
uninterrupted run, the perceptual term is chosen and recorded, wrong options are refused,
and what a run exports is a working codec."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from codecbench.api.training import TrainingConfig  # noqa: E402
from codecbench.codecs.learned.generative.torch.codecs import TorchGenerativeCodec  # noqa: E402
from codecbench.codecs.learned.generative.torch.network import GenerativeCompressor  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec  # noqa: E402
from codecbench.codecs.learned.models import GENERATIVE_MODELS, LEARNED_MODELS  # noqa: E402
from codecbench.codecs.learned.torch import adversarial as gan  # noqa: E402
from codecbench.codecs.learned.torch.training import load_training_images, sample_batch  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from codecbench.metrics import perceptual_weights as pw  # noqa: E402
from perceptual_fixtures import write_random_perceptual_weights  # noqa: E402
from rnn_fixtures import photo  # noqa: E402
from training_helpers import curves  # noqa: E402

GC = GENERATIVE_MODELS["agustsson2019-gc"]


@pytest.fixture(autouse=True)
def _no_perceptual_weights(monkeypatch, tmp_path):
    monkeypatch.setenv(pw.WEIGHTS_ENV, str(tmp_path / "no-weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def gan_config(out, **changes) -> TrainingConfig:
    """A tiny GAN run on the sample photos: 192² crops (five MS-SSIM scales), batch 2."""
    options = dict(data=SAMPLE_DIR, out=out, quality=1, steps=4, batch_size=2, patch_size=192,
                   learning_rate=1e-3, log_every=1, checkpoint_every=2, lr_milestones=(),
                   progress=False, warmup=0.0)
    options.update(changes)
    return TrainingConfig(**options)


def test_discriminator_separates_real_from_generated_better_than_chance(small_photo_dir,
                                                                      tmp_path):
    """GC, 20 steps with D from the start; then on a fixed batch of real crops and their
    reconstructions the trained D is right on most patch decisions (measured 0.69), a
    freshly initialised D at chance level (0.50)."""
    out = tmp_path / "gc"
    result = TorchGenerativeCodec(GC).train(gan_config(out, steps=20,
                                                       channels=(4, 1)))
    assert result.finished
    rows = curves(out)
    assert all(row["d_loss"] for row in rows) and float(rows[-1]["d_accuracy"]) > 0.5

    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    network = GenerativeCompressor(GC, GC.channels_of(1), (4, 8, 16, 32, 32), 1)
    network.load_state_dict(checkpoint["model"])
    trained = gan.build_discriminator(GC.adversarial, 2)
    trained.load_state_dict(checkpoint["discriminator"])
    torch.manual_seed(0)
    untrained = gan.build_discriminator(GC.adversarial, 2)
    images = load_training_images(small_photo_dir, 160, torch.device("cpu"))
    batch = sample_batch(images, torch.Generator().manual_seed(7), 4, 160)
    with torch.no_grad():
        fake = network(batch)[0]
        accuracy = [gan.real_vs_fake_accuracy("least-squares", d(batch), d(fake))
                    for d in (trained, untrained)]
    assert accuracy[0] > 0.6 and accuracy[0] > accuracy[1] + 0.1, accuracy

    # the exported weights are a working codec
    codec = TorchGenerativeCodec(GC)
    codec.weights_file = lambda quality: result.weights if quality == 1 else None
    image = photo(1, 75, 99)
    assert codec.decode(bytes(codec.encode(image, 1))).shape == image.shape


def test_a_resumed_run_is_the_uninterrupted_run(small_photo_dir, tmp_path):
    """HiFiC-OMGD (teacher, student, D, three optimisers): 2 steps then 2 more from the
    checkpoint give bit-identical weights (student, teacher) and the same curves."""
    entry = LEARNED_MODELS["hific-omgd"]
    codec = TorchLearnedCodec(entry)
    straight = codec.train(gan_config(tmp_path / "a", channels=(8, 12)))
    codec.train(gan_config(tmp_path / "b", steps=2, channels=(8, 12)))
    resumed = codec.train(gan_config(tmp_path / "b", channels=(8, 12)))
    assert straight.finished and resumed.finished
    for name in ("hific-omgd-q1.safetensors", "hific-omgd-teacher-q1.safetensors"):
        a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)
    assert [row["step"] for row in curves(tmp_path / "b")] == ["1", "2", "3", "4"]
    assert curves(tmp_path / "a")[-1] | {"elapsed_s": ""} == \
        curves(tmp_path / "b")[-1] | {"elapsed_s": ""}
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["decoder_N"] == 4 and record["perceptual"] == "1-ms-ssim"
    _, metadata = weights_io.load_model(tmp_path / "b" / "hific-omgd-q1.safetensors")
    assert metadata["decoder_N"] == "4" and metadata["perceptual"] == "1-ms-ssim"


def test_perceptual_term_is_lpips_when_its_weights_are_present(small_photo_dir, tmp_path,
                                                               monkeypatch):
    from codecbench.metrics.torch import networks as perceptual

    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv(pw.WEIGHTS_ENV, str(write_random_perceptual_weights(folder, ("alex",))))
    perceptual.lpips_network.cache_clear()
    try:
        out = tmp_path / "hific"
        TorchLearnedCodec(LEARNED_MODELS["hific"]).train(
            gan_config(out, steps=1, patch_size=64, channels=(8, 12)))
    finally:
        perceptual.lpips_network.cache_clear()
    assert json.loads((out / "training.json").read_text())["perceptual"] == "lpips-alex"
    assert float(curves(out)[-1]["perceptual"]) > 0


def test_wrong_options_are_refused_with_the_reason(small_photo_dir, tmp_path):
    hific = TorchLearnedCodec(LEARNED_MODELS["hific"])
    with pytest.raises(TrainingError, match="--patch-size ≥ 161"):
        hific.train(gan_config(tmp_path / "a", patch_size=128))
    with pytest.raises(TrainingError, match="--metric ms-ssim does not apply"):
        hific.train(gan_config(tmp_path / "b", metric="ms-ssim"))
    gc = TorchGenerativeCodec(GC)
    with pytest.raises(TrainingError, match="set by C"):
        gc.train(gan_config(tmp_path / "c", lmbda=0.01))
    with pytest.raises(TrainingError, match="give the rate point"):
        gc.train(gan_config(tmp_path / "d", quality=None))
    with pytest.raises(TrainingError, match="torch/hific.*codecbench convert"):
        TFLearnedCodec(LEARNED_MODELS["hific"]).train(gan_config(tmp_path / "e"))
    with pytest.raises(TrainingError, match="--warmup applies to GAN-family models"):
        TorchLearnedCodec(LEARNED_MODELS["mbt2018-mean"]).train(
            gan_config(tmp_path / "f"))
    assert not np.any([(tmp_path / name / "checkpoint.pt").exists() for name in "abcdef"])
