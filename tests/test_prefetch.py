"""Images loaded one ahead of the tasks: the same images in the same order, errors for the
failing image only, datasets bound to their thread still served, at most one image ahead."""

from __future__ import annotations

import csv
import threading
import time

import numpy as np
import pytest

from codecbench.api.dataset import Dataset
from codecbench.api.images import load_rgb
from codecbench.codecs.classic.pillow_codecs import PillowJpeg
from codecbench.harness.prefetch import images_ahead
from codecbench.harness.runner import run_evaluation
from codecbench.metrics.basic import PSNR
from helpers import SAMPLE_DIR

PHOTOS = sorted(p.name for p in SAMPLE_DIR.glob("*.webp"))


class Photos(Dataset):
    """The sample photos, recording which thread loads each one and how far ahead."""

    name = "photos"

    def __init__(self, broken=(), own_thread_only=False, delay=0.0):
        self.broken = set(broken)
        self.own_thread_only = own_thread_only
        self.delay = delay
        self.owner = threading.get_ident()
        self.loads: list[str] = []
        self.consumed = 0
        self.most_ahead = 0
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def image_ids(self):
        return list(PHOTOS)

    def load(self, image_id):
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            if self.own_thread_only and threading.get_ident() != self.owner:
                raise RuntimeError("objects created in a thread can only be used in that "
                                   "thread")
            self.loads.append(image_id)
            self.most_ahead = max(self.most_ahead, len(self.loads) - self.consumed)
            time.sleep(self.delay)
            if image_id in self.broken:
                raise OSError(f"cannot identify image file {image_id!r}")
            return load_rgb(SAMPLE_DIR / image_id)[:64, :64]
        finally:
            with self._lock:
                self.running -= 1


def test_every_image_in_order_with_the_sequential_pixels():
    dataset = Photos()
    seen = []
    for image_id, image, error in images_ahead(dataset, PHOTOS):
        dataset.consumed += 1
        assert error == ""
        np.testing.assert_array_equal(image, load_rgb(SAMPLE_DIR / image_id)[:64, :64])
        seen.append(image_id)
    assert seen == PHOTOS and dataset.loads == PHOTOS


def test_at_most_one_image_is_loaded_ahead():
    dataset = Photos(delay=0.01)
    for _ in images_ahead(dataset, PHOTOS):
        time.sleep(0.03)  # the caller is slow: the loader must not run further ahead
        dataset.consumed += 1
    assert dataset.most_ahead == 2  # the one yielded and the next one


def test_a_failing_image_costs_only_its_own_entry():
    dataset = Photos(broken={PHOTOS[1]}, delay=0.02)
    results = list(images_ahead(dataset, PHOTOS))
    assert dataset.most_running == 1  # its retry does not overlap the next image's load
    assert [r[0] for r in results] == PHOTOS
    image_id, image, error = results[1]
    assert image is None and error.startswith("load image: OSError: cannot identify image")
    assert "\n" not in error
    assert all(r[1] is not None and r[2] == "" for i, r in enumerate(results) if i != 1)


def test_a_dataset_bound_to_its_thread_still_loads_every_image():
    dataset = Photos(own_thread_only=True, delay=0.02)
    results = list(images_ahead(dataset, PHOTOS))
    assert dataset.most_running == 1
    assert [r[2] for r in results] == [""] * len(PHOTOS)
    assert all(r[1] is not None for r in results)


def test_no_images_no_thread():
    assert list(images_ahead(Photos(), [])) == []


@pytest.mark.parametrize("executor", ["in-process", "process"])
def test_a_run_with_a_broken_image_keeps_every_other_row(tmp_path, executor):
    dataset = Photos(broken={PHOTOS[2]})
    summary = run_evaluation([PillowJpeg()], dataset, [PSNR()], tmp_path / "run",
                             qualities=["50"], executor=executor, progress=False,
                             dataset_hash="sha256:photos-with-one-broken")
    assert summary is not None
    with open(tmp_path / "run" / "rows.csv", newline="") as handle:
        rows = {row["image_id"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == PHOTOS
    assert rows[PHOTOS[2]]["error"].startswith("load image: OSError")
    assert all(rows[p]["error"] == "" and float(rows[p]["psnr"]) > 20
               for p in PHOTOS if p != PHOTOS[2])
