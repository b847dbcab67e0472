"""The fixed train / held-out split of folder datasets (``--split`` of ``run`` and ``train``)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from codecbench.codecs.learned.training_loop import TrainingError, load_training_images
from codecbench.datasets.folder import DatasetNotFoundError, FolderDataset
from codecbench.datasets.split import in_split, is_held_out
from helpers import run_cli

NAMES = [f"photo_{i:02d}.png" for i in range(30)]


def independent_rule(name: str) -> bool:
    """The documented rule, written out again: SHA-256 of the file name, first 8 bytes, mod 6."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return int(digest[:16], 16) % 6 == 0


def write_images(folder, names, size=24):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)


def test_split_follows_the_documented_rule_and_partitions():
    held = in_split(NAMES, "held-out")
    train = in_split(NAMES, "train")
    assert held == [n for n in NAMES if independent_rule(n)]
    assert sorted(held + train) == sorted(NAMES) and not set(held) & set(train)
    assert in_split(NAMES, "all") == NAMES
    assert 0 < len(held) < len(NAMES) / 2  # about one in six
    with pytest.raises(ValueError, match="unknown split 'test'"):
        in_split(NAMES, "test")


def test_split_depends_on_the_file_name_only():
    assert is_held_out("a/b/photo_03.png") == is_held_out("photo_03.png")
    assert [is_held_out(f"sub/{n}") for n in NAMES] == [is_held_out(n) for n in NAMES]


def test_folder_dataset_split_ids_names_and_hashes(tmp_path):
    write_images(tmp_path / "photos", NAMES)
    root = tmp_path / "photos"
    whole, train, held = (FolderDataset(root, split=s) for s in ("all", "train", "held-out"))
    assert held.image_ids() == in_split(NAMES, "held-out")
    assert train.image_ids() == in_split(NAMES, "train")
    assert held.name.endswith("[held-out]") and whole.name == f"folder:{root}"
    assert len({whole.content_hash(), train.content_hash(), held.content_hash()}) == 3
    assert FolderDataset(root, split="held-out", max_images=1).image_ids() == held.image_ids()[:1]


def test_an_empty_split_is_a_clear_error(tmp_path):
    only_train = [n for n in NAMES if not is_held_out(n)][:2]
    write_images(tmp_path / "photos", only_train)
    with pytest.raises(DatasetNotFoundError, match="no image .* in the 'held-out' split"):
        FolderDataset(tmp_path / "photos", split="held-out").image_ids()
    with pytest.raises(TrainingError, match="held-out"):
        load_training_images(tmp_path / "photos", 16, "held-out")


def test_training_images_leave_out_the_held_out_part(tmp_path):
    write_images(tmp_path / "photos", NAMES)
    train = load_training_images(tmp_path / "photos", 16, "train")
    assert len(train) == len(in_split(NAMES, "train"))
    assert len(load_training_images(tmp_path / "photos", 16)) == len(NAMES)


def test_run_on_the_held_out_split_evaluates_only_those_images(tmp_path):
    write_images(tmp_path / "photos", NAMES, size=32)
    out = tmp_path / "run"
    result = run_cli("run", "--codec", "jpeg", "--quality", "50", "--metric", "psnr",
                     "--dataset", str(tmp_path / "photos"), "--split", "held-out",
                     "--out", str(out), "--no-progress", "--executor", "in-process")
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["dataset"]["name"].endswith("[held-out]")
    rows = (out / "rows.csv").read_text().splitlines()[1:]
    assert len(rows) == len(in_split(NAMES, "held-out"))
    refused = run_cli("run", "--codec", "jpeg", "--dataset", "sample", "--split", "train",
                      "--out", str(tmp_path / "other"))
    assert refused.returncode != 0 and "--split apply to a folder" in refused.stderr
