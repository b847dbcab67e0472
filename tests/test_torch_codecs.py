"""The torch learned codecs: exact latents, any size, real vs estimated rate, shipped RD."""

import numpy as np
import pytest

from codecbench.api.images import load_rgb
from codecbench.codecs.learned.container import ContainerError, parse

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from codecbench.api.metric import Measurement  # noqa: E402
from codecbench.codecs.learned import weights_locator  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.codecs import (  # noqa: E402
    CompressAIZooCodec,
    TorchLearnedCodec,
)
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402

PHOTOS = sorted(SAMPLE_DIR.glob("*.webp"))


def _photo(index=0, height=97, width=131):
    return np.ascontiguousarray(load_rgb(PHOTOS[index])[40:40 + height, 60:60 + width])


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """Randomly initialised tiny models (N=M=16) of every architecture, qualities 1 and 2."""
    folder = tmp_path_factory.mktemp("tiny-weights")
    for slug, entry in LEARNED_MODELS.items():
        for quality in (1, 2):
            torch.manual_seed(quality)
            model = weights_io.build_model(entry.compressai_class, 16, 16)
            metadata = {"model": slug, "class": entry.compressai_class, "N": "16", "M": "16",
                        "quality": str(quality), "lambda": "0.01", "metric": "mse"}
            weights_io.save_model(model, folder / weights_locator.weights_filename("torch", slug, quality),
                                  metadata)
    return folder


@pytest.fixture
def tiny(monkeypatch, tiny_weights):
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tiny_weights))
    return lambda slug: TorchLearnedCodec(LEARNED_MODELS[slug])


def _expected_latent(model, prior, y, params):
    """The quantised latent ŷ the encoder coded, computed independently of the codec."""
    if prior == "factorized":
        eb = model.entropy_bottleneck
        return eb.quantize(y, "dequantize", eb._get_medians())
    if prior == "hyperprior":
        return model.gaussian_conditional.quantize(y, "dequantize")
    scales, means = params.chunk(2, 1)
    return model.gaussian_conditional.quantize(y, "dequantize", means)


@pytest.mark.parametrize("slug", ["bls2017-factorized", "bmshj2018-hyperprior", "mbt2018-mean"])
def test_decoded_latents_equal_the_quantised_latents_exactly(tiny, slug):
    codec = tiny(slug)
    model, _ = codec._model(2)
    seen = {}
    hooks = [model.g_a.register_forward_hook(lambda m, i, o: seen.__setitem__("y", o)),
             model.g_s.register_forward_pre_hook(lambda m, i: seen.__setitem__("y_hat", i[0]))]
    if hasattr(model, "h_s"):
        hooks.append(model.h_s.register_forward_hook(lambda m, i, o: seen.__setitem__("p", o)))
    data = codec.encode(_photo(), 2)
    expected = _expected_latent(model, codec.prior, seen["y"], seen.get("p"))
    codec.decode(data)
    for hook in hooks:
        hook.remove()
    assert seen["y_hat"].shape == expected.shape
    assert torch.equal(seen["y_hat"], expected)


def test_autoregressive_latents_round_trip_exactly(tiny):
    codec = tiny("mbt2018")
    model, _ = codec._model(1)
    seen = []
    original = model._compress_ar

    def keep(y_hat, *args):
        string = original(y_hat, *args)
        seen.append(y_hat.clone())
        return string

    model._compress_ar = keep
    decoded = {}
    hook = model.g_s.register_forward_pre_hook(lambda m, i: decoded.__setitem__("y_hat", i[0]))
    try:
        codec.decode(codec.encode(_photo(height=64, width=70), 1))
    finally:
        del model._compress_ar
        hook.remove()
    encoded = seen[0][:, :, 2:-2, 2:-2]
    assert torch.equal(decoded["y_hat"], encoded)


@pytest.mark.parametrize("size", [(97, 131), (64, 65), (13, 200), (1, 1)])
def test_any_image_size_decodes_to_the_input_shape(tiny, size):
    codec = tiny("bmshj2018-hyperprior")
    image = _photo(height=size[0], width=size[1])
    data = codec.encode(image, 1)
    file = parse(data)
    assert (file.height, file.width) == size
    # latents of the 64-padded image: y at 1/16, z at 1/64
    padded = [-(-side // 64) * 64 for side in size]
    assert file.latents[0].shape == (16, padded[0] // 16, padded[1] // 16)
    assert file.latents[1].shape == (16, padded[0] // 64, padded[1] // 64)
    assert codec.decode(data).shape == image.shape


def test_a_fresh_codec_decodes_from_the_bytes_alone(tiny):
    image = _photo()
    data = tiny("mbt2018-mean").encode(image, 2)
    first = tiny("mbt2018-mean").decode(data)
    assert np.array_equal(first, tiny("mbt2018-mean").decode(data))


def test_files_for_other_weights_or_codecs_are_refused(tiny, tiny_weights, tmp_path, monkeypatch):
    data = tiny("bmshj2018-hyperprior").encode(_photo(), 1)
    with pytest.raises(ContainerError, match="written by codec 'torch/bmshj2018-hyperprior'"):
        tiny("mbt2018-mean").decode(data)
    # same name, other weights: the weights id in the file no longer matches
    other = tmp_path / "other"
    other.mkdir()
    torch.manual_seed(99)
    entry = LEARNED_MODELS["bmshj2018-hyperprior"]
    weights_io.save_model(weights_io.build_model(entry.compressai_class, 16, 16),
                          other / "bmshj2018-hyperprior-q1.safetensors",
                          {"model": entry.slug, "class": entry.compressai_class, "N": "16",
                           "M": "16", "quality": "1", "lambda": "0.01", "metric": "mse"})
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(other))
    with pytest.raises(ContainerError, match="encoded with weights"):
        TorchLearnedCodec(entry).decode(data)


def test_encode_reports_the_entropy_model_estimate(tiny):
    data = tiny("bmshj2018-hyperprior").encode(_photo(), 2)
    assert data.estimated_bits > 0
    assert np.isfinite(data.estimated_bits)


def test_without_weights_the_codec_is_unavailable_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(weights_locator, "shipped_weights_folder", lambda: None)
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(tmp_path))
    codec = TorchLearnedCodec(LEARNED_MODELS["bmshj2018-hyperprior"])
    available, reason = codec.availability()
    assert not available and "codecbench train torch/bmshj2018-hyperprior" in reason
    assert codec.qualities == (1, 2, 3, 4, 5)  # listed from the table, not empty


# -- shipped weights -----------------------------------------------------------------------

SHIPPED = ["bls2017-factorized", "bmshj2018-hyperprior", "mbt2018-mean"]


def _shipped(monkeypatch, slug):
    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    codec = TorchLearnedCodec(LEARNED_MODELS[slug])
    assert codec.availability() == (True, "")
    return codec


SERIAL_SHIPPED = ["mbt2018"]
"""Shipped too, left out of the slower checks: its context model decodes serially."""


def test_shipped_models_have_five_rate_points_and_cards(monkeypatch):
    for slug in [*SHIPPED, *SERIAL_SHIPPED]:
        assert _shipped(monkeypatch, slug).qualities == (1, 2, 3, 4, 5)
        assert (weights_locator.shipped_weights_folder() / f"{slug}.md").exists()
        files = {_shipped(monkeypatch, slug).weights_file(quality) for quality in (1, 2, 3, 4, 5)}
        assert len(files) == 1  # one variable-rate network for every rate point
        # float16 kernels: ≈ 3.6 MB; 6.0 MB with the context and entropy-parameter networks
        assert files.pop().stat().st_size < (5_000_000 if slug in SHIPPED else 6_500_000)


@pytest.mark.parametrize("slug", SHIPPED)
def test_shipped_models_pass_the_codec_conformance_checks(monkeypatch, slug):
    from codecbench.testing import check_codec

    report = check_codec(_shipped(monkeypatch, slug))
    for sizes in report.sizes.values():  # rate grows along the five rate points
        assert list(sizes.values()) == sorted(sizes.values())


@pytest.mark.slow
def test_shipped_models_real_bpp_is_close_to_the_estimate_on_photos(monkeypatch):
    """The real size exceeds Σ −log2 p(ŷ): by the container's header and the coder's
    overhead, which is at most 5 % of the strings (measured on the sample photos: +1.1 to
    +4.1 % for the whole file at rate points 1–5)."""
    from codecbench.codecs.learned.container import parse

    image = load_rgb(PHOTOS[1])
    pixels = image.shape[0] * image.shape[1]
    for slug in SHIPPED:
        codec = _shipped(monkeypatch, slug)
        for quality in (1, 5):
            data = codec.encode(image, quality)
            strings = sum(len(latent.string) for latent in parse(data).latents)
            assert len(data) * 8 > data.estimated_bits, (slug, quality)
            gap = strings * 8 / data.estimated_bits - 1
            assert gap < 0.05, (slug, quality, gap, len(data) * 8 / pixels)


@pytest.mark.slow
def test_shipped_models_beat_jpeg_at_low_rates_on_the_sample_set(monkeypatch):
    """At their lowest rate point every shipped CNN model is above JPEG's PSNR at the same
    bpp (linear between JPEG's points; below JPEG's lowest rate, above that point, which
    spends more bits). Their BD-rates over the whole range are in their model cards (some
    are worse than JPEG's)."""
    from codecbench.codecs.classic.pillow_codecs import PillowJpeg
    from codecbench.metrics.basic import PSNR

    images = [load_rgb(path) for path in PHOTOS]
    psnr = PSNR()

    def curve(codec, qualities):
        rates, qualities_db = [], []
        for quality in qualities:
            bits = distortion = 0.0
            for image in images:
                data = codec.encode(image, quality)
                bits += 8 * len(data) / (image.shape[0] * image.shape[1])
                distortion += psnr.compute(Measurement(image, codec.decode(data), len(data)))
            rates.append(bits / len(images))
            qualities_db.append(distortion / len(images))
        return rates, qualities_db

    jpeg_rates, jpeg_psnr = curve(PillowJpeg(), (5, 10, 20, 30, 40, 50, 60, 70))
    for slug in SHIPPED:
        codec = _shipped(monkeypatch, slug)
        (rate,), (value,) = curve(codec, codec.qualities[:1])
        assert value > np.interp(rate, jpeg_rates, jpeg_psnr), (slug, rate, value)


# -- CompressAI zoo adapter ---------------------------------------------------------------

@pytest.mark.parametrize("zoo_name, suffix", [("bmshj2018-hyperprior", ".pth.tar"),
                                              ("bmshj2018-factorized", ".safetensors")])
def test_zoo_adapter_is_bit_identical_to_compressai(monkeypatch, tmp_path, zoo_name, suffix):
    from compressai.zoo import image_models

    from codecbench.codecs.learned.hyperprior.torch.pipeline import image_to_tensor

    torch.manual_seed(0)
    reference = image_models[zoo_name](quality=1, pretrained=False).eval()
    path = tmp_path / f"{zoo_name}-1{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    else:
        torch.save(reference.state_dict(), path)
    monkeypatch.setenv("CODECBENCH_COMPRESSAI_WEIGHTS", str(tmp_path))
    codec = CompressAIZooCodec(zoo_name)
    assert codec.availability() == (True, "") and codec.qualities == (1,)

    image = _photo()
    ours = parse(codec.encode(image, 1))
    reference.update(force=True)
    with torch.inference_mode():
        theirs = reference.compress(image_to_tensor(image, 64))
    assert [latent.string for latent in ours.latents] == [s[0] for s in theirs["strings"]]
    assert codec.decode(codec.encode(image, 1)).shape == image.shape


def test_zoo_adapter_without_weights_is_unavailable(monkeypatch):
    monkeypatch.delenv("CODECBENCH_COMPRESSAI_WEIGHTS", raising=False)
    monkeypatch.delenv("CODECBENCH_COMPRESSAI_DOWNLOAD", raising=False)
    available, reason = CompressAIZooCodec("mbt2018-mean").availability()
    assert not available
    assert "CODECBENCH_COMPRESSAI_WEIGHTS" in reason and "CODECBENCH_COMPRESSAI_DOWNLOAD" in reason


@pytest.mark.slow
def test_run_puts_learned_and_classical_codecs_in_one_leaderboard(small_photo_dir, tmp_path,
                                                                   monkeypatch):
    """Learned and classical codecs in one run and one leaderboard, on small real photos and
    two worker processes."""
    import pandas as pd

    from helpers import run_cli

    monkeypatch.delenv("CODECBENCH_TORCH_WEIGHTS", raising=False)
    out = tmp_path / "run"
    completed = run_cli("run", "--codec", "torch/bls2017-factorized", "--codec",
                        "torch/bmshj2018-hyperprior", "--codec", "jpeg", "--quality", "1",
                        "--quality", "5", "--quality", "20", "--quality", "50", "--dataset",
                        str(small_photo_dir),
                        "--metric", "bpp", "--metric", "bpp-estimate", "--metric", "psnr",
                        "-j", "2", "--out", str(out), "--no-progress")
    assert completed.returncode == 0, completed.stderr
    board = pd.read_csv(out / "leaderboard.csv").set_index(["codec", "quality"])
    assert set(board.index.get_level_values(0)) == {
        "torch/bls2017-factorized", "torch/bmshj2018-hyperprior", "jpeg"}
    learned = board.loc[["torch/bls2017-factorized", "torch/bmshj2018-hyperprior"]]
    assert (learned["n_images"] == 3).all()
    assert (learned["bpp"] > learned["bpp-estimate"]).all()
    # on these ~180 px crops the ~60-byte header alone is ~0.015 bpp
    assert (learned["bpp"] - learned["bpp-estimate"] < 0.03 + 0.03 * learned["bpp-estimate"]).all()
    assert board.loc["jpeg", "bpp-estimate"].isna().all()
    assert "bpp-estimate" in completed.stdout
    # ... and the published view: BD-rate against JPEG (a number or its reason) for each
    views = run_cli("leaderboard", str(out), "--format", "md")
    assert views.returncode == 0, views.stderr
    assert "BD-rate against jpeg" in views.stdout
    for codec in ("torch/bls2017-factorized", "torch/bmshj2018-hyperprior"):
        line = next(line for line in views.stdout.splitlines() if line.startswith(f"| {codec} |"))
        psnr_cell = line.split("|")[3].strip()
        assert psnr_cell[0] in "+-–", line
