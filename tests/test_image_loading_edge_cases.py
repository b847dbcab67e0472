"""Image loading edge cases: 16-bit colour PNGs, and entries of a folder that are not files."""

from __future__ import annotations

import os
import shutil
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from codecbench.api.images import ImageLoadError, load_rgb
from codecbench.datasets.folder import FolderDataset
from helpers import SAMPLE_DIR

pytestmark = pytest.mark.no_frameworks

# round(v / 257) against the high byte (what truncation keeps): 0x10FF → 17 (16),
# 0xF000 → 239 (240), 0x0081 → 1 (0), 0xFE00 → 253 (254); equal for the others.
SAMPLES = np.array([[0x10FF, 0xF000, 0x80FF, 0xFFFF, 0x0000, 0x7F80, 0x0081, 0xFE00]],
                   dtype=np.uint16)
ROUNDED = np.array([[17, 239, 128, 255, 0, 127, 1, 253]], dtype=np.uint8)
COLOUR_TYPES = {"gray": 0, "gray+alpha": 4, "RGB": 2, "RGBA": 6}


def write_png16(path, samples: np.ndarray, colour_type: int) -> None:
    """A 16-bit PNG written by hand (no filter), so the samples are exactly ``samples``."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    height, width = samples.shape[:2]
    raw = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _rgb_samples() -> np.ndarray:
    return np.stack([SAMPLES, SAMPLES[:, ::-1], np.full_like(SAMPLES, 0x10FF)], axis=2)


def test_the_samples_tell_truncation_from_rounding():
    assert ((SAMPLES >> 8).astype(np.uint8) != ROUNDED).sum() == 4
    assert [round(int(v) / 257) for v in SAMPLES[0]] == ROUNDED[0].tolist()


def test_16_bit_gray_png_is_rounded(tmp_path):
    write_png16(tmp_path / "gray.png", SAMPLES, COLOUR_TYPES["gray"])
    image = load_rgb(tmp_path / "gray.png")
    assert image.dtype == np.uint8 and image.shape == (1, 8, 3)
    assert np.array_equal(image, np.repeat(ROUNDED[:, :, None], 3, axis=2))


@pytest.mark.parametrize("alpha", [False, True])
def test_16_bit_rgb_png_is_rounded_not_truncated(tmp_path, alpha):
    pytest.importorskip("imagecodecs")
    rgb = _rgb_samples()
    samples = np.concatenate([rgb, np.full_like(rgb[:, :, :1], 0x1234)], axis=2) if alpha else rgb
    write_png16(tmp_path / "colour.png", samples, COLOUR_TYPES["RGBA" if alpha else "RGB"])
    image = load_rgb(tmp_path / "colour.png")
    assert image.dtype == np.uint8 and image.shape == (1, 8, 3) and image.flags.c_contiguous
    expected = np.stack([ROUNDED, ROUNDED[:, ::-1], np.full_like(ROUNDED, 17)], axis=2)
    assert np.array_equal(image, expected)


def test_16_bit_gray_alpha_png_is_rounded_like_gray(tmp_path):
    pytest.importorskip("imagecodecs")
    samples = np.stack([SAMPLES, np.full_like(SAMPLES, 0xFFFF)], axis=2)
    write_png16(tmp_path / "la.png", samples, COLOUR_TYPES["gray+alpha"])
    write_png16(tmp_path / "gray.png", SAMPLES, COLOUR_TYPES["gray"])
    assert np.array_equal(load_rgb(tmp_path / "la.png"), load_rgb(tmp_path / "gray.png"))


def test_16_bit_rgb_png_without_imagecodecs_is_a_clear_error(tmp_path, monkeypatch):
    write_png16(tmp_path / "colour.png", _rgb_samples(), COLOUR_TYPES["RGB"])
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import fails
    with pytest.raises(ImageLoadError, match="colour.png.*16-bit RGB PNG.*imagecodecs"):
        load_rgb(tmp_path / "colour.png")


def test_8_bit_png_is_unchanged(tmp_path):
    from PIL import Image

    photo = load_rgb(SAMPLE_DIR / "coffee.webp")[:40, :50]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert np.array_equal(load_rgb(tmp_path / "photo.png"), photo)


# -- folder datasets: entries that are not readable image files --------------------------


@pytest.fixture
def folder(tmp_path):
    """A folder with one real image ``good.png``."""
    root = tmp_path / "images"
    root.mkdir()
    Image.fromarray(load_rgb(SAMPLE_DIR / "coffee.webp")).save(root / "good.png")
    return root


def _listed_and_warned(dataset, capsys):
    ids = dataset.image_ids()
    return ids, capsys.readouterr().err


def test_symlink_loop_is_skipped_with_a_warning(folder, capsys):
    os.symlink("loop-b.png", folder / "loop-a.png")
    os.symlink("loop-a.png", folder / "loop-b.png")
    ids, err = _listed_and_warned(FolderDataset(folder), capsys)
    assert ids == ["good.png"]
    for name in ("loop-a.png", "loop-b.png"):
        assert f"skipping {str(folder / name)!r}: symbolic link loop" in err


def test_broken_symlink_is_skipped_with_a_warning(folder, capsys):
    os.symlink("missing.png", folder / "broken.png")
    ids, err = _listed_and_warned(FolderDataset(folder), capsys)
    assert ids == ["good.png"] and "broken.png" in err and "broken symbolic link" in err


def test_fifo_is_skipped_with_a_warning_and_never_opened(folder, capsys, monkeypatch):
    fifo = folder / "pipe.png"
    os.mkfifo(fifo)
    real_open = os.open

    def guarded_open(path, flags, *args, **kwargs):
        assert os.fspath(path) != str(fifo), "the FIFO was opened"
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    dataset = FolderDataset(folder)
    ids, err = _listed_and_warned(dataset, capsys)
    assert ids == ["good.png"]
    assert f"skipping {str(fifo)!r}: a FIFO" in err
    assert dataset.content_hash().startswith("sha256:")


def test_device_is_skipped_with_a_warning(folder, capsys):
    if not os.path.exists(os.devnull) or os.name != "posix":
        pytest.skip("needs /dev/null")
    os.symlink(os.devnull, folder / "null.png")
    ids, err = _listed_and_warned(FolderDataset(folder), capsys)
    assert ids == ["good.png"] and "null.png" in err and "a device" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file_is_skipped_with_a_warning(folder, capsys):
    locked = folder / "locked.png"
    shutil.copy(folder / "good.png", locked)
    locked.chmod(0)
    try:
        ids, err = _listed_and_warned(FolderDataset(folder), capsys)
    finally:
        locked.chmod(0o644)
    assert ids == ["good.png"] and "locked.png" in err and "unreadable" in err


def test_file_refused_by_the_system_is_skipped_with_a_warning(folder, capsys, monkeypatch):
    """The unreadable case where permissions cannot be used (running as root): the
    operating system refuses to open the file."""
    locked = folder / "locked.png"
    shutil.copy(folder / "good.png", locked)
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    ids, err = _listed_and_warned(FolderDataset(folder), capsys)
    assert ids == ["good.png"]
    assert f"skipping {str(locked)!r}: unreadable (Permission denied)" in err


def test_recursive_folder_reports_a_folder_link_loop_and_follows_other_links(
        folder, tmp_path, capsys):
    (folder / "sub").mkdir()
    shutil.copy(folder / "good.png", folder / "sub" / "inner.png")
    os.symlink("..", folder / "sub" / "up")  # loop
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(folder / "good.png", outside / "linked.png")
    os.symlink(outside, folder / "more")
    ids, err = _listed_and_warned(FolderDataset(folder, recursive=True), capsys)
    assert ids == ["good.png", "more/linked.png", "sub/inner.png"]
    assert f"skipping {str(folder / 'sub' / 'up')!r}: symbolic link loop" in err


def test_recursive_glob_does_not_repeat_images_through_a_loop(folder, capsys):
    (folder / "sub").mkdir()
    shutil.copy(folder / "good.png", folder / "sub" / "inner.png")
    os.symlink("..", folder / "sub" / "up")
    ids, err = _listed_and_warned(FolderDataset(f"{folder}/**/*.png", recursive=True), capsys)
    assert ids == ["good.png", "sub/inner.png"]
    assert err.count("symbolic link loop") == 1 and str(folder / "sub" / "up") in err


def test_warnings_are_given_once(folder, capsys):
    import pickle

    os.mkfifo(folder / "pipe.png")
    dataset = FolderDataset(folder)
    dataset.image_ids()
    assert "pipe.png" in capsys.readouterr().err
    copy = pickle.loads(pickle.dumps(dataset))  # as sent to a worker process
    assert copy.image_ids() == ["good.png"] and capsys.readouterr().err == ""


def test_ordinary_non_image_files_stay_silent(folder, capsys):
    (folder / "README.txt").write_text("notes")
    (folder / "nested").mkdir()
    ids, err = _listed_and_warned(FolderDataset(folder), capsys)
    assert ids == ["good.png"] and err == ""
