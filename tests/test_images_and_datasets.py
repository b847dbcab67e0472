"""Image loading policy, folder and sample datasets, content hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codecbench.api.images import ImageLoadError, load_rgb
from codecbench.datasets.builtin import sample_dataset
from codecbench.datasets.folder import DatasetNotFoundError, FolderDataset
from helpers import SAMPLE_DIR

pytestmark = pytest.mark.no_frameworks


def test_sample_dataset_is_the_six_bundled_photos():
    dataset = sample_dataset()
    assert len(dataset) == 6
    manifest = (SAMPLE_DIR / "manifest.csv").read_text()
    for image_id, path in dataset.files().items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() in manifest
        image = dataset.load(image_id)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert 300 <= min(image.shape[:2]) and max(image.shape[:2]) <= 600
    assert (SAMPLE_DIR / "LICENSES.md").is_file()


def test_content_hash_is_stable_and_changes_with_pixels(small_photo_dir):
    first = FolderDataset(small_photo_dir).content_hash()
    assert first == FolderDataset(small_photo_dir).content_hash()
    assert first.startswith("sha256:")
    image = load_rgb(small_photo_dir / "chelsea.png")
    image[5, 5, 1] ^= 1
    Image.fromarray(image).save(small_photo_dir / "chelsea.png")
    assert FolderDataset(small_photo_dir).content_hash() != first


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "nope").image_ids()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetNotFoundError, match="no image files in"):
        FolderDataset(tmp_path).image_ids()


def test_recursive_and_glob(small_photo_dir):
    nested = small_photo_dir / "sub"
    nested.mkdir()
    (nested / "x.png").write_bytes((small_photo_dir / "tulips.png").read_bytes())
    assert "sub/x.png" not in FolderDataset(small_photo_dir).image_ids()
    assert "sub/x.png" in FolderDataset(small_photo_dir, recursive=True).image_ids()
    assert FolderDataset(str(small_photo_dir) + "/t*.png").image_ids() == ["tulips.png"]


def test_loading_policy(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb[:, :, 0], "L").save(tmp_path / "gray.png")
    gray = load_rgb(tmp_path / "gray.png")
    assert gray.shape == (9, 7, 3) and (gray == rgb[:, :, :1]).all()
    rgba = np.dstack([rgb, np.full((9, 7), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    assert (load_rgb(tmp_path / "alpha.png") == rgb).all()  # alpha discarded, colours kept
    wide = (rgb[:, :, 0].astype(np.uint16) * 257)
    wide[0, 0], wide[0, 1] = 65535, 128  # 128/257 rounds to 0
    Image.fromarray(wide).save(tmp_path / "sixteen.png")
    sixteen = load_rgb(tmp_path / "sixteen.png")
    assert sixteen[0, 0, 0] == 255 and sixteen[0, 1, 0] == 0
    assert (sixteen[1:, :, 0] == rgb[1:, :, 0]).all()
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "p.png")
    assert load_rgb(tmp_path / "p.png").shape == (9, 7, 3)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(ImageLoadError, match="bad.png"):
        load_rgb(tmp_path / "bad.png")


def test_folder_subsets_are_deterministic(small_photo_dir):
    for i in range(5):
        (small_photo_dir / f"extra{i}.png").write_bytes((small_photo_dir / "tulips.png").read_bytes())
    everything = FolderDataset(small_photo_dir).image_ids()
    assert FolderDataset(small_photo_dir, max_images=3).image_ids() == everything[:3]
    first = FolderDataset(small_photo_dir, max_images=4, subset_seed=7).image_ids()
    assert first == FolderDataset(small_photo_dir, max_images=4, subset_seed=7).image_ids()
    assert len(first) == 4 and set(first) <= set(everything)
    assert first != FolderDataset(small_photo_dir, max_images=4, subset_seed=8).image_ids()


def test_folder_crops(small_photo_dir):
    full = FolderDataset(small_photo_dir).load("astronaut.png")
    center = FolderDataset(small_photo_dir, crop=(64, 80)).load("astronaut.png")
    top, left = (full.shape[0] - 64) // 2, (full.shape[1] - 80) // 2
    assert np.array_equal(center, full[top : top + 64, left : left + 80])
    random_a = FolderDataset(small_photo_dir, crop=(64, 80), crop_mode="random", subset_seed=1)
    random_b = FolderDataset(small_photo_dir, crop=(64, 80), crop_mode="random", subset_seed=1)
    assert np.array_equal(random_a.load("astronaut.png"), random_b.load("astronaut.png"))
    assert random_a.load("astronaut.png").shape == (64, 80, 3)
    assert random_a.content_hash() != FolderDataset(small_photo_dir).content_hash()
    with pytest.raises(ValueError, match="smaller than the 400×300 crop"):
        FolderDataset(small_photo_dir, crop=(300, 400)).load("tulips.png")


SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "sample-photos"


@pytest.mark.skipif(not SHARED_SAMPLE.is_dir(), reason="the source PNGs are not on this machine")
def test_bundled_webp_photos_hold_the_pixels_of_the_source_pngs():
    """The sample set is stored as lossless WebP: pixel for pixel the source photos."""
    dataset = sample_dataset()
    for image_id in dataset.image_ids():
        source = SHARED_SAMPLE / image_id.replace(".webp", ".png")
        assert np.array_equal(dataset.load(image_id), load_rgb(source)), image_id
