"""GAN-family codecs on the shipped weights: torch/hific, torch/hific-omgd,
torch/agustsson2019-gc — real files, any size, rate rising with the rate point on real
photos, GC's coded symbols, OMGD's student vs its teacher, and the family next to the CNN
hyperprior and JPEG in one run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

import torch  # noqa: E402

from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.container import ContainerError, parse  # noqa: E402
from codecbench.codecs.learned.entropy import categorical_codes  # noqa: E402
from codecbench.codecs.learned.generative.torch.codecs import TorchGenerativeCodec  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.codecs import TorchLearnedCodec  # noqa: E402
from codecbench.codecs.learned.models import GENERATIVE_MODELS, LEARNED_MODELS  # noqa: E402
from helpers import invoke_cli  # noqa: E402
from rnn_fixtures import photo  # noqa: E402

GC = GENERATIVE_MODELS["agustsson2019-gc"]


@pytest.fixture(autouse=True)
def _shipped_weights_only(monkeypatch):
    monkeypatch.delenv(weights_locator.weights_env("torch"), raising=False)


def codec(name: str):
    slug = name.split("/", 1)[1]
    if slug in GENERATIVE_MODELS:
        return TorchGenerativeCodec(GENERATIVE_MODELS[slug])
    return TorchLearnedCodec(LEARNED_MODELS[slug])


def test_gan_codecs_are_gan_family_with_shipped_rate_points():
    assert codec("torch/hific").qualities == (1, 2, 3)
    assert codec("torch/hific-omgd").qualities == (2,)
    assert codec("torch/agustsson2019-gc").qualities == (1, 2, 3)
    assert {codec(n).family for n in ("torch/hific", "torch/hific-omgd",
                                      "torch/agustsson2019-gc")} == {"gan"}


@pytest.mark.parametrize("name,quality", [("torch/agustsson2019-gc", 1),
                                          ("torch/hific", 1), ("torch/hific-omgd", 2)])
@pytest.mark.parametrize("size", [(33, 47), (75, 99)])
def test_round_trip_from_bytes_alone_at_odd_sizes(name, quality, size):
    image = photo(2, *size)
    data = codec(name).encode(image, quality)
    decoded = codec(name).decode(bytes(data))  # a fresh instance: nothing but the bytes
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    file = parse(bytes(data))
    assert (file.codec, file.quality, file.height, file.width) == (name, quality, *size)
    # the estimate covers the latents only; the file adds the container header
    assert 0 < data.estimated_bits / 8 < len(data)


def test_rate_grows_with_the_rate_point_on_real_photos():
    for name in ("torch/agustsson2019-gc", "torch/hific"):
        for index in (0, 3):
            image = photo(index, 256, 256, 100, 100)
            sizes = [len(codec(name).encode(image, q)) for q in (1, 2, 3)]
            assert sizes[0] < sizes[1] < sizes[2], (name, index, sizes)


def test_gc_file_holds_the_range_coded_symbols_of_its_table():
    gc = codec("torch/agustsson2019-gc")
    image = photo(1, 160, 208, 50, 80)
    loaded, _ = gc._model(3)
    symbols = gc._symbols(loaded.network, image[None].astype(np.float32) / 255)
    assert symbols.shape == (GC.channels_of(3), 10, 13)
    data = gc.encode(image, 3)
    latent = parse(bytes(data)).latents[0]
    decoded = gc.decode_symbols(loaded, latent)
    np.testing.assert_array_equal(decoded, symbols)
    estimate = categorical_codes.estimated_bits(symbols, loaded.probabilities)
    assert data.estimated_bits == pytest.approx(estimate)
    # rANS: within 1 % of the model's code length plus its 4-byte flush
    assert abs(len(latent.string) * 8 - estimate) <= 0.01 * estimate + 40
    # and below the paper's C·log2(L) bound on the padded grid
    assert len(latent.string) * 8 < symbols.size * np.log2(GC.centres)


def test_gc_refuses_files_that_do_not_match():
    gc = codec("torch/agustsson2019-gc")
    data = bytes(gc.encode(photo(0, 48, 64), 1))
    with pytest.raises(ContainerError, match="written by codec"):
        codec("torch/hific").decode(data)
    with pytest.raises(ValueError, match="no quality 4"):
        gc.encode(photo(0, 48, 64), 4)


def test_categorical_frequencies_sum_to_the_coder_precision():
    probabilities = np.array([[0.97, 0.01, 0.01, 0.005, 0.005], [1e-9, 1e-9, 1.0, 1e-9, 1e-9]])
    freq = categorical_codes.frequencies(probabilities)
    assert (freq.sum(axis=1) == 1 << categorical_codes.PRECISION).all()
    assert freq.min() >= 1
    counts = categorical_codes.SymbolCounts(2, 5)
    counts.add(np.array([[[0, 0], [1, 4]], [[2, 2], [2, 2]]]))
    p = counts.probabilities()
    np.testing.assert_allclose(p[0], np.array([2.5, 1.5, 0.5, 0.5, 1.5]) / 6.5, rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def _teacher_and_student_outputs(image):
    from codecbench.codecs.learned.hyperprior.torch import pipeline

    teacher, _ = weights_io.load_model(weights_locator.shipped_weights_folder() /
                                       "hific-omgd-teacher-q2.safetensors")
    student, metadata = weights_io.load_model(weights_locator.find_weights("torch", "hific-omgd", 2))
    x = pipeline.image_to_tensor(image, 64)
    with torch.no_grad():
        y = teacher.g_a(x)
        z = teacher.h_a(y)
        means = teacher.h_s(torch.round(z)).chunk(2, 1)[1]
        y_hat = torch.round(y - means) + means
        return teacher, student, teacher.g_s(y_hat), student.g_s(y_hat), metadata


def test_omgd_student_is_smaller_and_tracks_its_teacher():
    """OMGD: fewer decoder parameters and MACs (measured), outputs close to the teacher's.

    Measured on the shipped q2 weights over the six sample photos: PSNR(student, teacher)
    26.5–32.8 dB; against the original the student is 1.3–2.9 dB (mean 2.1 dB) below
    its teacher. Checked here on the astronaut and coastal-rock photos."""
    from codecbench.api.images import load_rgb
    from codecbench.codecs.learned.complexity import complexity
    from codecbench.datasets.builtin import SAMPLE_DIR

    def to_image(tensor, height, width):
        return (tensor.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round()[:height, :width]

    def psnr(a, b):
        return 10 * np.log10(255**2 / np.mean((a - b) ** 2))

    photos = sorted(SAMPLE_DIR.glob("*.webp"))
    for path in (photos[0], photos[3]):
        image = load_rgb(path)
        teacher, student, x_t, x_s, metadata = _teacher_and_student_outputs(image)
        assert int(metadata["decoder_N"]) < teacher.g_s[0].out_channels
        student_params = sum(p.numel() for p in student.g_s.parameters())
        teacher_params = sum(p.numel() for p in teacher.g_s.parameters())
        assert student_params < 0.5 * teacher_params
        # the encoder and entropy models are the teacher's, tensor for tensor
        for name, tensor in teacher.state_dict().items():
            if not name.startswith("g_s."):
                assert torch.equal(tensor, student.state_dict()[name]), name
        a, b = to_image(x_t, *image.shape[:2]), to_image(x_s, *image.shape[:2])
        assert psnr(a, b) > 25.0, path.name
        assert psnr(a, image) - psnr(b, image) < 3.5, path.name
    measured = complexity("hific-omgd")["2"], complexity("hific")["2"]
    assert measured[0]["decoder_params"] < measured[1]["decoder_params"]
    assert measured[0]["decoder_kmacs_per_pixel"] < 0.5 * measured[1]["decoder_kmacs_per_pixel"]
    assert measured[0]["encoder_kmacs_per_pixel"] == measured[1]["encoder_kmacs_per_pixel"]


@pytest.mark.slow
def test_gan_family_next_to_cnn_and_jpeg_in_one_leaderboard(small_photo_dir, tmp_path):
    """GAN codecs next to the CNN hyperprior and JPEG in one run (on three sample crops) and
    the survey-style summary."""
    out = tmp_path / "run"
    result = invoke_cli("run", "--codec", "torch/*gc*", "--codec", "torch/hific*", "--codec",
                     "torch/bmshj2018-hyperprior", "--codec", "jpeg", "--dataset",
                     str(small_photo_dir), "--metric", "bpp", "--metric", "psnr", "--metric",
                     "ms-ssim", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    board = pd.read_csv(out / "leaderboard.csv")
    families = board.groupby("codec")["family"].first().to_dict()
    assert families["torch/hific"] == families["torch/agustsson2019-gc"] == "gan"
    assert families["torch/bmshj2018-hyperprior"] == "cnn" and families["jpeg"] == "classical"
    assert board["n_errors"].sum() == 0
    gc = board[board["codec"] == "torch/agustsson2019-gc"].sort_values("bpp")
    assert gc["bpp"].max() < 0.1  # extreme compression: C·log2(5)/256 ≤ 0.073 bpp + header
    table = invoke_cli("leaderboard", str(out), "--format", "md")
    assert table.returncode == 0, table.stderr
    assert "| gan" in table.stdout and "| cnn" in table.stdout and "| classical" in table.stdout
