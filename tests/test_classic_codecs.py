"""Every classical codec: contract, rate sweep and quality on real photos, corrupted input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from codecbench.api.images import load_rgb
from codecbench.api.metric import Measurement
from codecbench.api.registry import Registry
from codecbench.metrics.basic import PSNR
from codecbench.testing import check_codec
from helpers import SAMPLE_DIR

pytestmark = pytest.mark.no_frameworks

CLASSIC_PLUGINS = ["classic-pillow", "classic-heif", "classic-jpegxl", "classic-ffmpeg"]
CLASSIC_CODECS = ["jpeg", "jpeg-444", "jpeg2000", "webp", "avif", "hevc-intra", "hevc-intra-420",
                  "jpegxl", "ffmpeg-x265", "ffmpeg-av1"]
OPTIONAL = {"ffmpeg-x265", "ffmpeg-av1"}  # need the ffmpeg binary


@pytest.fixture(scope="module")
def registry():
    registry = Registry(strict=True)
    registry.load_entry_points(only=CLASSIC_PLUGINS)
    return registry


def get_codec(registry, name):
    codec = registry.get("codecs", name)
    available, reason = codec.availability()
    if not available:
        if name in OPTIONAL:
            assert "not installed" in reason
            pytest.skip(reason)
        pytest.fail(f"{name} unavailable: {reason}")
    return codec


def test_all_classical_codecs_are_registered(registry):
    assert sorted(registry.names("codecs")) == sorted(CLASSIC_CODECS)


@pytest.mark.parametrize("name", CLASSIC_CODECS)
def test_conforms_to_the_contract(registry, name):
    check_codec(get_codec(registry, name))


@pytest.fixture(scope="module")
def photo_full():
    """A whole real photo (451×300: odd width, so no codec gets an easy size)."""
    return load_rgb(SAMPLE_DIR / "chelsea.webp")


@pytest.mark.parametrize("name", CLASSIC_CODECS)
def test_rate_sweep_on_a_real_photo(registry, name, photo_full):
    codec = get_codec(registry, name)
    pixels = photo_full.shape[0] * photo_full.shape[1]
    bpp, psnr = [], []
    for quality in codec.qualities:
        data = codec.encode(photo_full, quality)
        decoded = codec.decode(data)
        assert decoded.shape == photo_full.shape and decoded.dtype == np.uint8
        bpp.append(8 * len(data) / pixels)
        psnr.append(PSNR().compute(Measurement(photo_full, decoded, len(data))))
    assert all(b2 > b1 for b1, b2 in zip(bpp, bpp[1:], strict=False)), bpp
    assert bpp[0] <= 0.4 and bpp[-1] >= 1.5, f"sweep {bpp[0]:.3f}-{bpp[-1]:.3f} bpp"
    assert psnr[-1] > 38.0, f"highest quality only {psnr[-1]:.2f} dB"
    assert psnr[-1] > psnr[0] + 8


CORRUPTION_PROBE = r"""
import json, sys
import numpy as np
from codecbench.api.registry import Registry
registry = Registry(strict=True)
registry.load_entry_points(only=sys.argv[2].split(","))
codec = registry.get("codecs", sys.argv[1])
results = []
for path in sys.argv[3:]:
    data = open(path, "rb").read()
    try:
        image = codec.decode(data)
        results.append("image" if isinstance(image, np.ndarray) else f"returned {type(image)}")
    except Exception as exc:
        results.append("error: " + type(exc).__name__)
print(json.dumps(results))
"""


@pytest.mark.parametrize("name", CLASSIC_CODECS)
def test_corrupted_files_give_an_error_or_an_image_never_a_crash(registry, name, photo_full,
                                                                 tmp_path):
    codec = get_codec(registry, name)
    data = codec.encode(photo_full, codec.qualities[len(codec.qualities) // 2])
    rng = np.random.default_rng(7)
    variants = {
        "truncated-half": data[: len(data) // 2],
        "truncated-header": data[:10],
        "empty": b"",
    }
    for i in range(3):
        flipped = bytearray(data)
        for position in rng.integers(len(data) // 4, len(data), 8):
            flipped[position] ^= 1 << int(rng.integers(0, 8))
        variants[f"bitflips-{i}"] = bytes(flipped)
    paths = []
    for label, payload in variants.items():
        path = tmp_path / label
        path.write_bytes(payload)
        paths.append(str(path))
    result = subprocess.run(
        [sys.executable, "-c", CORRUPTION_PROBE, name, ",".join(CLASSIC_PLUGINS), *paths],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"decoder crashed the process: {result.returncode} {result.stderr[-500:]}"
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(outcomes) == len(variants)
    assert all(o == "image" or o.startswith("error: ") for o in outcomes), outcomes
    assert outcomes[2].startswith("error: "), "an empty file must be an error"


@pytest.mark.slow
def test_known_ordering_at_matched_rate(registry, tmp_path):
    """On two real photos at 0.5 bpp: HEVC intra > JPEG 2000 and WebP > JPEG (PSNR)."""
    from codecbench.datasets.folder import FolderDataset
    from codecbench.harness.runner import run_evaluation
    from codecbench.metrics.basic import BitsPerPixel
    from codecbench.report.rd import value_at_rate

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("coffee.webp", "tulips.webp"):
        (photos / name).write_bytes((SAMPLE_DIR / name).read_bytes())
    names = ["hevc-intra", "jpeg2000", "webp", "jpeg"]
    summary = run_evaluation([registry.get("codecs", n) for n in names], FolderDataset(photos),
                             [BitsPerPixel(), PSNR()], tmp_path / "run", jobs=2, progress=False)
    assert summary.errors == 0
    board = summary.leaderboard
    at = {n: value_at_rate(board[board.codec == n]["bpp"], board[board.codec == n]["psnr"], 0.5)
          for n in names}
    assert at["hevc-intra"] > at["jpeg2000"] > at["jpeg"], at
    assert at["hevc-intra"] > at["webp"] > at["jpeg"], at
