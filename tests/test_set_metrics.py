"""Set metrics FID and KID: the distances equal direct computations, HiFiC's patches, and a
run stores features per image and shows one value per codec × quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from codecbench.metrics import perceptual_weights as pw
from codecbench.metrics.distribution import (
    FIDMetric,
    ImageTooSmallForPatchesError,
    frechet_distance,
    hific_patches,
    kernel_inception_distance,
)


def _features(seed, n, d=16, shift=0.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mixing + shift


@pytest.mark.parametrize("n", [200, 9])  # full-rank and singular (n < d) covariances
def test_frechet_distance_equals_the_direct_formula(n):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    x, y = _features(0, n), _features(1, n, shift=0.3)
    sigma_x, sigma_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy_linalg.sqrtm(sigma_x @ sigma_y).real
    direct = (np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(sigma_x) + np.trace(sigma_y)
              - 2 * np.trace(root))
    scale = np.trace(sigma_x) + np.trace(sigma_y)  # float error grows with the traces
    assert frechet_distance(x, y) == pytest.approx(direct, rel=1e-6, abs=1e-8 * scale)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8 * scale)


def test_frechet_distance_equals_pytorch_fid():
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    x, y = _features(2, 300), _features(3, 300, shift=-0.5)
    theirs = fid_score.calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False),
                                                  y.mean(0), np.cov(y, rowvar=False))
    assert frechet_distance(x, y) == pytest.approx(theirs, rel=1e-6)


def test_kid_is_the_unbiased_polynomial_mmd(monkeypatch):
    x, y = _features(4, 12, d=5), _features(5, 15, d=5, shift=0.2)

    def kernel(a, b):
        return (a @ b / 5 + 1) ** 3

    xx = np.mean([kernel(x[i], x[j]) for i in range(12) for j in range(12) if i != j])
    yy = np.mean([kernel(y[i], y[j]) for i in range(15) for j in range(15) if i != j])
    xy = np.mean([kernel(a, b) for a in x for b in y])
    assert kernel_inception_distance(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-9)
    # more samples than a subset: the mean over seeded random subsets, reproducible
    from codecbench.metrics import distribution

    monkeypatch.setattr(distribution, "KID_SUBSET", 40)
    monkeypatch.setattr(distribution, "KID_SUBSETS", 5)
    big_x, big_y = _features(6, 110, d=4), _features(7, 120, d=4, shift=0.5)
    value = kernel_inception_distance(big_x, big_y)
    assert value == kernel_inception_distance(big_x, big_y)
    assert value > 0 and kernel_inception_distance(big_x, big_x) < value


def test_hific_patches_are_the_grid_and_the_half_shifted_grid():
    image = np.arange(451 * 600 * 3, dtype=np.uint32).reshape(451, 600, 3).astype(np.uint8)
    patches = hific_patches(image)
    assert patches.shape == (3, 256, 256, 3)
    np.testing.assert_array_equal(patches[0], image[:256, :256])
    np.testing.assert_array_equal(patches[1], image[:256, 256:512])
    np.testing.assert_array_equal(patches[2], image[128:384, 128:384])
    with pytest.raises(ImageTooSmallForPatchesError, match="200×300 px"):
        hific_patches(np.zeros((300, 200, 3), np.uint8))


def test_unavailable_without_the_inception_weights(monkeypatch, tmp_path):
    monkeypatch.setenv(pw.WEIGHTS_ENV, str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    available, reason = FIDMetric().availability()
    assert not available
    assert "pt_inception-2015-12-05-6726825d.pth" in reason or "needs" in reason


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """pytorch-fid's FID Inception architecture, randomly initialised, saved as its file."""
    torch = pytest.importorskip("torch")
    fid_module = pytest.importorskip("pytorch_fid.inception")
    torch.manual_seed(0)
    network = fid_module._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    network.Mixed_5b = fid_module.FIDInceptionA(192, pool_features=32)
    network.Mixed_5c = fid_module.FIDInceptionA(256, pool_features=64)
    network.Mixed_5d = fid_module.FIDInceptionA(288, pool_features=64)
    network.Mixed_6b = fid_module.FIDInceptionC(768, channels_7x7=128)
    network.Mixed_6c = fid_module.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6d = fid_module.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6e = fid_module.FIDInceptionC(768, channels_7x7=192)
    network.Mixed_7b = fid_module.FIDInceptionE_1(1280)
    network.Mixed_7c = fid_module.FIDInceptionE_2(2048)
    folder = tmp_path_factory.mktemp("inception")
    torch.save(network.state_dict(), folder / pw.BACKBONES["inception"].name)
    return folder


def test_a_run_shows_one_fid_and_kid_per_codec_and_quality(inception_weights, monkeypatch,
                                                          tmp_path):
    """FID/KID in the leaderboard equal the distances computed directly on the features
    of the same patches; per-image cells stay empty; ``codecbench leaderboard`` agrees."""
    from codecbench.api.images import load_rgb
    from codecbench.codecs.classic.pillow_codecs import PillowJpeg
    from codecbench.datasets.builtin import SAMPLE_DIR
    from codecbench.metrics.torch import inception
    from helpers import invoke_cli

    monkeypatch.setenv(pw.WEIGHTS_ENV, str(inception_weights))
    inception.fid_inception.cache_clear()
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted(SAMPLE_DIR.glob("*.webp"))[:1]:  # one 512² photo: 4 + 1 patches
        (photos / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "run"
    result = invoke_cli("run", "--codec", "jpeg", "--quality", "20",
                        "--dataset", str(photos), "--metric", "bpp",
                        "--metric", "fid", "--metric", "kid", "--out", str(out),
                        "--no-progress")
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(out / "rows.csv")
    assert rows["error"].isna().all() and rows["fid"].isna().all()
    board = pd.read_csv(out / "leaderboard.csv").set_index("quality")

    chosen = sorted(rows["image_id"].unique())
    jpeg = PillowJpeg()
    for quality in (20,):
        real, fake = [], []
        for image_id in chosen:
            image = load_rgb(photos / image_id)
            decoded = jpeg.decode(jpeg.encode(image, quality))
            real.append(inception.inception_features(hific_patches(image)))
            fake.append(inception.inception_features(hific_patches(decoded)))
        real, fake = np.concatenate(real), np.concatenate(fake)
        assert board.loc[quality, "fid"] == pytest.approx(frechet_distance(real, fake),
                                                          rel=1e-6)
        assert board.loc[quality, "kid"] == pytest.approx(
            kernel_inception_distance(real, fake), rel=1e-6, abs=1e-9)
    shown = invoke_cli("leaderboard", str(out), "--format", "csv", "--out",
                       str(tmp_path / "views"))
    assert shown.returncode == 0, shown.stderr
    again = pd.read_csv(tmp_path / "views" / "leaderboard.csv").set_index("quality")
    np.testing.assert_allclose(again.loc[[20], "fid"], board.loc[[20], "fid"])
    inception.fid_inception.cache_clear()
