"""Downloadable datasets, CIFAR decoding and local layouts — offline, on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from codecbench.api.images import load_rgb
from codecbench.datasets.catalog import CATALOG, spec
from codecbench.datasets.cifar import UnsafePickleError, load_batch
from codecbench.datasets.download import ChecksumError
from codecbench.datasets.local_layouts import LAYOUTS, LayoutError, LocalLayoutDataset
from codecbench.datasets.remote import DatasetUnavailableError, RemoteDataset
from helpers import SAMPLE_DIR, run_cli

pytestmark = pytest.mark.no_frameworks


def png_bytes(name: str, size=(48, 40)) -> bytes:
    image = load_rgb((SAMPLE_DIR / name).with_suffix(".webp"))[: size[1], : size[0]]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_catalog_has_every_survey_dataset():
    names = {entry.name for entry in CATALOG}
    assert names == {"kodak", "clic2020-professional-valid", "clic2020-mobile-valid", "tecnick",
                     "div2k-valid-hr", "coco-val2017", "cifar10-test"}
    kodak = spec("kodak")
    assert len(kodak.files) == 24 and kodak.files[0].url.endswith("kodim01.png")
    assert spec("cifar10-test").files[0].checksum == "md5:c58f30108f718f92721af3b95e74349a"


def test_kodak_like_plain_files_download_then_trust_on_first_use(server, tmp_path):
    small = dataclasses.replace(spec("kodak"), files=spec("kodak").files[:3], expected_count=3)
    for remote, photo in zip(small.files, ["chelsea.png", "coffee.png", "tulips.png"], strict=True):
        server.files["/" + remote.filename] = png_bytes(photo)
    dataset = RemoteDataset(small, base=tmp_path, url_prefix=server.url("/"))
    assert dataset.status() == "downloadable"
    assert dataset.image_ids() == ["kodim01.png", "kodim02.png", "kodim03.png"]
    assert dataset.status() == "cached"
    assert dataset.load("kodim02.png").shape == (40, 48, 3)
    recorded = dataset.provenance()
    assert "trust on first use" in recorded["checksums"]
    assert set(recorded["downloads"]) == {"kodim01.png", "kodim02.png", "kodim03.png"}
    assert dataset.verify() == []
    (dataset.downloads_dir / "kodim02.png").write_bytes(png_bytes("astronaut.png"))
    assert "changed since it was first recorded" in dataset.verify()[0]


def test_zip_dataset_with_a_published_checksum(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("valid/a.png", png_bytes("coffee.png"))
        bundle.writestr("valid/b.png", png_bytes("tulips.png"))
    archive = buffer.getvalue()
    base = spec("clic2020-professional-valid")
    good = dataclasses.replace(base, expected_count=2, files=(dataclasses.replace(
        base.files[0], checksum="md5:" + hashlib.md5(archive).hexdigest()),))
    server.files["/professional_valid_2020.zip"] = archive
    dataset = RemoteDataset(good, base=tmp_path / "good", url_prefix=server.url("/"))
    assert dataset.image_ids() == ["valid/a.png", "valid/b.png"]
    assert dataset.provenance()["checksums"].startswith("published")
    bad = dataclasses.replace(good, files=(dataclasses.replace(good.files[0], checksum="md5:" + "0" * 32),))
    with pytest.raises(ChecksumError, match="expected md5:000"):
        RemoteDataset(bad, base=tmp_path / "bad", url_prefix=server.url("/")).image_ids()
    assert not (tmp_path / "bad" / bad.name / "files").exists()


def test_offline_error_names_the_url_and_how_to_place_files(tmp_path):
    dataset = RemoteDataset(spec("kodak"), base=tmp_path, url_prefix="http://127.0.0.1:9/kodak")
    with pytest.raises(DatasetUnavailableError) as error:
        dataset.image_ids()
    message = str(error.value)
    assert "http://127.0.0.1:9/kodak/kodim01.png" in message
    assert str(tmp_path / "kodak" / "files") in message and "datasets verify kodak" in message


def test_images_placed_by_hand_are_used_and_verified(tmp_path):
    small = dataclasses.replace(spec("kodak"), files=spec("kodak").files[:2], expected_count=2)
    dataset = RemoteDataset(small, base=tmp_path, url_prefix="http://127.0.0.1:9/")
    dataset.files_dir.mkdir(parents=True)
    for remote in small.files:
        (dataset.files_dir / remote.filename).write_bytes(png_bytes("chelsea.png"))
    assert dataset.status() == "cached" and len(dataset.image_ids()) == 2
    assert dataset.verify() == []


def cifar_batch(images: np.ndarray) -> bytes:
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    return pickle.dumps({b"batch_label": b"testing batch 1 of 1", b"labels": [3] * len(images),
                         b"data": rows, b"filenames": [b"x.png"] * len(images)}, protocol=2)


def test_cifar_batches_decode_without_running_pickled_code(server, tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        payload = cifar_batch(images)
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(payload)
        bundle.addfile(info, io.BytesIO(payload))
    archive = buffer.getvalue()
    base = spec("cifar10-test")
    small = dataclasses.replace(base, files=(dataclasses.replace(
        base.files[0], checksum="md5:" + hashlib.md5(archive).hexdigest()),))
    server.files["/cifar-10-python.tar.gz"] = archive
    dataset = RemoteDataset(small, base=tmp_path, url_prefix=server.url("/"))
    assert dataset.image_ids()[:2] == ["test_batch/00000", "test_batch/00001"]
    assert len(dataset) == 5
    assert np.array_equal(dataset.load("test_batch/00003"), images[3])

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil_batch"
    evil.write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"refusing to load global (__builtin__|builtins)\.print"):
        load_batch(evil)


def test_local_layouts_say_exactly_what_is_missing(tmp_path, monkeypatch):
    layout = next(entry for entry in LAYOUTS if entry.name == "cityscapes-val")
    dataset = LocalLayoutDataset(layout)
    monkeypatch.delenv(layout.env, raising=False)
    assert "set CODECBENCH_CITYSCAPES_VAL" in dataset.problems()[0]
    with pytest.raises(LayoutError, match="leftImg8bit"):
        dataset.image_ids()
    monkeypatch.setenv(layout.env, str(tmp_path))
    assert "no files match" in dataset.problems()[0]
    city = tmp_path / "lindau"
    city.mkdir()
    (city / "lindau_000000_000019_leftImg8bit.png").write_bytes(png_bytes("coffee.png"))
    assert "1 files match" in dataset.problems()[0] and "expected 500" in dataset.problems()[0]
    assert dataset.status() == "needs local copy"
    flickr = LocalLayoutDataset(next(e for e in LAYOUTS if e.name == "openimages-val"))
    monkeypatch.setenv(flickr.layout.env, str(tmp_path))
    (tmp_path / "0001eeaf4aed83f9.jpg").write_bytes(b"")
    Image.fromarray(load_rgb(SAMPLE_DIR / "coffee.webp")).save(tmp_path / "0001eeaf4aed83f9.jpg")
    assert flickr.problems() == [] and flickr.image_ids() == ["0001eeaf4aed83f9.jpg"]


def test_cli_datasets_list_and_offline_run(tmp_path):
    env = {"CODECBENCH_DATA": str(tmp_path / "cache")}
    listing = run_cli("datasets", "list", cwd=tmp_path, env=env)
    assert listing.returncode == 0
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert "downloadable" in lines["kodak"] and "bundled" in lines["sample"]
    assert "needs local copy" in lines["imagenet-val"]
    path = run_cli("datasets", "path", "kodak", cwd=tmp_path, env=env)
    assert path.stdout.strip() == str(tmp_path / "cache" / "kodak")


@pytest.mark.slow
def test_run_on_kodak_placed_by_hand(tmp_path):
    """With a local copy placed as documented, `run --dataset kodak` runs."""
    env = {"CODECBENCH_DATA": str(tmp_path / "cache")}
    files = tmp_path / "cache" / "kodak" / "files"
    files.mkdir(parents=True)
    for i in range(1, 25):
        (files / f"kodim{i:02d}.png").write_bytes(png_bytes("coffee.png", size=(24, 16)))
    result = run_cli("run", "--dataset", "kodak", "--codec", "jpeg", "--quality", "50",
                     "--metric", "bpp", "--metric", "psnr", "--out", str(tmp_path / "run"),
                     "--no-progress", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "24 tasks computed" in result.stdout


@pytest.mark.slow
def test_cli_download_verify_and_run_through_a_mirror(server, tmp_path):
    for i in range(1, 25):
        server.files[f"/kodak/kodim{i:02d}.png"] = png_bytes("coffee.png", size=(32, 24))
    env = {"CODECBENCH_DATA": str(tmp_path / "cache"), "CODECBENCH_MIRROR": server.url("/")}
    fetched = run_cli("datasets", "download", "kodak", cwd=tmp_path, env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert "kodak: 24 images" in fetched.stdout
    assert run_cli("datasets", "verify", "kodak", cwd=tmp_path, env=env).stdout.strip() == "kodak: OK"
    listing = run_cli("datasets", "list", cwd=tmp_path, env=env)
    assert "cached" in next(line for line in listing.stdout.splitlines() if line.startswith("kodak"))
    result = run_cli("run", "--dataset", "kodak", "--codec", "jpeg", "--quality", "30",
                     "--metric", "psnr", "--out", str(tmp_path / "run"), "--no-progress",
                     cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    import json

    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "trust on first use" in record["dataset"]["files"]["checksums"]
    assert len(record["dataset"]["files"]["downloads"]) == 24


def test_cli_run_offline_fails_fast_with_the_url(tmp_path):
    import time

    env = {"CODECBENCH_DATA": str(tmp_path / "cache"), "CODECBENCH_MIRROR": "http://127.0.0.1:9"}
    start = time.monotonic()
    result = run_cli("run", "--dataset", "kodak", "--codec", "jpeg", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "cannot download http://127.0.0.1:9/kodak/kodim01.png" in result.stderr
    assert "datasets verify kodak" in result.stderr
    assert time.monotonic() - start < 30
