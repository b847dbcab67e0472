"""SSIM / MS-SSIM / PSNR-Y against independent implementations on real photos."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image
from scipy.signal import convolve2d

from codecbench.api.images import load_rgb
from codecbench.api.metric import Measurement
from codecbench.metrics.basic import PSNRY
from codecbench.metrics.structural import (
    MS_SSIM_MIN_SIDE,
    ImageTooSmallError,
    MSSSIMDecibels,
    gaussian_window,
    ms_ssim,
    ssim,
)
from helpers import SAMPLE_DIR

# (photo, top, left, height, width): odd and even sizes, sides divisible by 16 or not
CASES = [
    ("astronaut.png", 0, 0, 512, 512),
    ("coffee.png", 0, 0, 400, 600),
    ("chelsea.png", 0, 0, 300, 451),
    ("tulips.png", 7, 3, 333, 451),
    ("coastal_rock.png", 11, 5, 161, 207),
    ("cherry_blossom.png", 0, 0, 480, 320),
]


def jpeg_roundtrip(image, quality):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[3]}x{c[4]}")
def pair(request):
    name, top, left, height, width = request.param
    reference = np.ascontiguousarray(load_rgb((SAMPLE_DIR / name).with_suffix(".webp"))[top : top + height, left : left + width])
    assert reference.shape[:2] == (height, width)
    return reference, jpeg_roundtrip(reference, 25)


def reference_ssim_float64(x, y):
    """Textbook SSIM: 2-D Gaussian window, valid convolution, float64 (independent code)."""
    window = np.outer(gaussian_window(), gaussian_window())
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for c in range(3):
        a, b = x[:, :, c].astype(np.float64), y[:, :, c].astype(np.float64)
        f = lambda z: convolve2d(z, window, mode="valid")  # noqa: E731 - symmetric window
        mu_a, mu_b = f(a), f(b)
        var_a, var_b, cov = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
        ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
            (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        values.append(ssim_map.mean())
    return float(np.mean(values))


def test_ssim_matches_float64_textbook_version(pair):
    reference, decoded = pair
    assert ssim(reference, decoded) == pytest.approx(reference_ssim_float64(reference, decoded), abs=1e-5)


def test_ssim_matches_scikit_image(pair):
    metrics = pytest.importorskip("skimage.metrics")
    reference, decoded = pair
    expected = metrics.structural_similarity(
        reference, decoded, channel_axis=2, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255,
    )
    assert ssim(reference, decoded) == pytest.approx(expected, abs=1e-5)


def test_ms_ssim_matches_tensorflow(pair):
    tf = pytest.importorskip("tensorflow")
    reference, decoded = pair
    expected = float(tf.image.ssim_multiscale(
        tf.constant(reference[None], tf.float64), tf.constant(decoded[None], tf.float64), 255.0))
    assert ms_ssim(reference, decoded) == pytest.approx(expected, abs=1e-4)
    expected_ssim = float(tf.image.ssim(
        tf.constant(reference[None], tf.float64), tf.constant(decoded[None], tf.float64), 255.0))
    assert ssim(reference, decoded) == pytest.approx(expected_ssim, abs=1e-4)


def test_ms_ssim_vs_pytorch_msssim(pair):
    """Same value where every scale has even sides; a bounded border difference otherwise."""
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    reference, decoded = pair

    def theirs(x, y):
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].double()  # noqa: E731
        return float(pytorch_msssim.ms_ssim(to(x), to(y), data_range=255))

    height, width = reference.shape[:2]
    ours = ms_ssim(reference, decoded)
    if height % 16 == 0 and width % 16 == 0:
        assert ours == pytest.approx(theirs(reference, decoded), abs=1e-4)
    else:
        # pytorch_msssim zero-pads odd sides (avg_pool2d, count_include_pad); Wang/TF repeat
        # the edge. The difference is a border effect: small, and gone on a /16 crop.
        assert abs(ours - theirs(reference, decoded)) < 1e-2
        h16, w16 = height // 16 * 16, width // 16 * 16
        if min(h16, w16) >= MS_SSIM_MIN_SIDE:
            crop = (slice(0, h16), slice(0, w16))
            assert ms_ssim(reference[crop], decoded[crop]) == pytest.approx(
                theirs(reference[crop], decoded[crop]), abs=1e-4)


def test_ms_ssim_size_limit_is_a_clear_error():
    image = load_rgb(SAMPLE_DIR / "chelsea.webp")
    noisy = jpeg_roundtrip(image, 30)
    ms_ssim(image[:161, :161], noisy[:161, :161])
    with pytest.raises(ImageTooSmallError, match="at least 161 px.*got 200×160"):
        ms_ssim(image[:160, :200], noisy[:160, :200])


def test_identical_images_and_decibels(photo):
    big = load_rgb(SAMPLE_DIR / "coffee.webp")
    assert ssim(big, big) == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim(big, big) == pytest.approx(1.0, abs=1e-6)
    noisy = jpeg_roundtrip(big, 40)
    value = ms_ssim(big, noisy)
    assert MSSSIMDecibels().compute(Measurement(big, noisy, 0)) == pytest.approx(-10 * math.log10(1 - value))
    assert 0.9 < value < 1.0


def test_psnr_y_is_bt601_luma_psnr(photo):
    noisy = jpeg_roundtrip(photo, 30)
    y = lambda im: 0.299 * im[..., 0] + 0.587 * im[..., 1] + 0.114 * im[..., 2]  # noqa: E731
    mse = np.mean((y(photo.astype(float)) - y(noisy.astype(float))) ** 2)
    assert PSNRY().compute(Measurement(photo, noisy, 0)) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)


def test_quality_orders_the_metrics():
    image = load_rgb(SAMPLE_DIR / "tulips.webp")
    low, high = jpeg_roundtrip(image, 10), jpeg_roundtrip(image, 80)
    assert ssim(image, low) < ssim(image, high)
    assert ms_ssim(image, low) < ms_ssim(image, high)


def test_ssim_shared_with_ms_ssim_is_exact(pair):
    from codecbench.metrics import structural

    reference, decoded = pair
    alone = ssim(reference.copy(), decoded.copy())  # other objects: computed on its own
    ms_ssim(reference, decoded)
    assert structural._LastPair.get(reference, decoded, "ssim") == pytest.approx(alone, abs=1e-12)
    assert ssim(reference, decoded) == pytest.approx(alone, abs=1e-12)
