"""The harness: exact numbers, error rows, timeouts, crashes, resume, exports."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import codecs_for_tests as tc
from codecbench.api.images import load_rgb
from codecbench.api.registry import Registry
from codecbench.datasets.builtin import sample_dataset
from codecbench.datasets.folder import FolderDataset
from codecbench.harness.runner import RunConfigError, run_evaluation

pytestmark = pytest.mark.no_frameworks


@pytest.fixture(scope="module")
def registry():
    registry = Registry(strict=True)
    registry.load_entry_points(only=["classic-pillow", "metrics-basic", "datasets-builtin"])
    return registry


def metrics(registry):
    return registry.metrics()


def test_jpeg_q75_on_sample_set_equals_direct_pillow(registry, tmp_path):
    """bpp and PSNR of JPEG q75 on the sample set equal a direct Pillow computation."""
    dataset = sample_dataset()
    summary = run_evaluation([registry.get("codecs", "jpeg")], dataset, metrics(registry),
                             tmp_path / "run", qualities=["75"], progress=False)
    rows = pd.read_csv(tmp_path / "run" / "rows.csv")
    assert len(rows) == 6 and summary.errors == 0
    expected_bpp, expected_psnr = [], []
    for image_id in dataset.image_ids():
        image = np.asarray(Image.open(dataset.files()[image_id]).convert("RGB"))
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=75)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        mse = np.mean((image.astype(np.float64) - decoded.astype(np.float64)) ** 2)
        row = rows[rows.image_id == image_id].iloc[0]
        assert row["bytes"] == len(buffer.getvalue())
        assert row["bpp"] == pytest.approx(8 * len(buffer.getvalue()) / (image.shape[0] * image.shape[1]), rel=1e-9)
        assert row["psnr"] == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
        expected_bpp.append(row["bpp"])
        expected_psnr.append(row["psnr"])
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert len(board) == 1
    assert board["bpp"].iloc[0] == pytest.approx(np.mean(expected_bpp), rel=1e-9)
    assert board["psnr"].iloc[0] == pytest.approx(np.mean(expected_psnr), rel=1e-9)
    assert board["n_images"].iloc[0] == 6 and board["n_errors"].iloc[0] == 0


def test_rows_csv_columns_and_run_json_provenance(registry, small_photo_dir, tmp_path):
    dataset = FolderDataset(small_photo_dir)
    run_evaluation([registry.get("codecs", "jpeg")], dataset, metrics(registry), tmp_path,
                   qualities=["10", "90"], progress=False, command=["codecbench", "run"])
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert list(rows.columns) == [
        "schema_version", "dataset_hash", "codec", "codec_version", "framework", "family", "quality", "dataset", "image_id",
        "width", "height", "bytes", "bpp", "bpp-estimate", "psnr", "psnr-y", "encode_s",
        "decode_s", "error", "metric_errors",
    ]
    assert (rows["bpp-estimate"] == "").all()  # JPEG has no entropy-model estimate: empty cells
    assert (rows["metric_errors"] == "").all()  # ... and that is not an error
    assert (rows["schema_version"] == 3).all()
    assert (rows["dataset_hash"] == dataset.content_hash()).all()
    assert len(rows) == 6
    assert (rows["encode_s"] > 0).all() and (rows["decode_s"] > 0).all()
    # rate grows with quality on every image
    for _, group in rows.groupby("image_id"):
        assert group.sort_values("quality")["bytes"].is_monotonic_increasing
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "complete"
    assert record["dataset"]["content_hash"] == dataset.content_hash()
    assert record["environment"]["python"].startswith("3.")
    assert record["environment"]["libraries"]["Pillow"]
    assert "codecbench-models" in record["environment"]["libraries"]  # null without it
    assert record["hardware"]["cpu_count"] >= 1
    codec = record["codecs"][0]
    assert codec["name"] == "jpeg" and "Pillow" in codec["library_versions"]
    assert record["invocations"][0]["command"] == ["codecbench", "run"]


def test_failures_become_error_rows_and_run_continues(registry, small_photo_dir, tmp_path):
    codecs = [tc.FailsOnImage(), tc.WrongShape(), tc.WrongDtype(), tc.LosslessZlib()]
    summary = run_evaluation(codecs, FolderDataset(small_photo_dir), metrics(registry), tmp_path,
                             progress=False)
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert len(rows) == 4 * 2 * 3
    by_codec = {name: g for name, g in rows.groupby("codec")}
    fails = by_codec["test/fails-sometimes"]
    odd = fails[fails.width % 2 == 1]
    assert len(odd) > 0 and odd["error"].str.contains("encode: RuntimeError: cannot encode odd").all()
    assert (fails[fails.width % 2 == 0]["error"] == "").all()
    assert by_codec["test/wrong-shape"]["error"].str.contains("decoded image has shape").all()
    assert by_codec["test/wrong-dtype"]["error"].str.contains("dtype uint8").all()
    lossless = by_codec["test/zlib"]
    assert (lossless["error"] == "").all() and np.isinf(lossless["psnr"].astype(float)).all()
    # error rows carry no measurement
    failed = rows[rows.error != ""]
    assert (failed["bytes"] == "").all() and (failed["psnr"] == "").all()
    assert summary.errors == len(failed)
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    wrong = board[board.codec == "test/wrong-shape"]
    assert (wrong["n_images"] == 0).all() and (wrong["n_errors"] == 3).all()


def test_unreadable_image_becomes_error_rows(registry, small_photo_dir, tmp_path):
    (small_photo_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    run_evaluation([tc.LosslessZlib()], FolderDataset(small_photo_dir), metrics(registry),
                   tmp_path, progress=False)
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    broken = rows[rows.image_id == "broken.png"]
    assert len(broken) == 2 and broken["error"].str.contains("load image: ImageLoadError").all()
    assert "broken.png" in broken["error"].iloc[0]
    assert (rows[rows.image_id != "broken.png"]["error"] == "").all()


@pytest.mark.parametrize("jobs", [1, 2])
def test_timeout_becomes_error_row(registry, small_photo_dir, tmp_path, jobs):
    summary = run_evaluation([tc.Hangs()], FolderDataset(small_photo_dir), metrics(registry),
                             tmp_path, jobs=jobs, timeout=1.0, progress=False)
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert len(rows) == 6
    hung = rows[rows.quality == 9]
    assert hung["error"].str.startswith("timeout: task did not finish within 1 s").all()
    assert (rows[rows.quality == 1]["error"] == "").all()
    assert summary.errors == 3


def test_worker_crash_costs_only_its_task(registry, small_photo_dir, tmp_path):
    run_evaluation([tc.Crashes(), tc.LosslessZlib()], FolderDataset(small_photo_dir),
                   metrics(registry), tmp_path, jobs=2, progress=False)
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert len(rows) == 12
    crashed = rows[(rows.codec == "test/crashes") & (rows.quality == 9)]
    assert crashed["error"].str.contains("process died").all() and len(crashed) == 3
    assert (rows[rows.codec == "test/zlib"]["error"] == "").all()


def test_process_executor_gives_the_same_numbers_as_serial(registry, small_photo_dir, tmp_path):
    jpeg = registry.get("codecs", "jpeg")
    data = FolderDataset(small_photo_dir)
    run_evaluation([jpeg], data, metrics(registry), tmp_path / "a", qualities=["20", "80"],
                   progress=False)
    run_evaluation([jpeg], data, metrics(registry), tmp_path / "b", qualities=["20", "80"],
                   jobs=2, progress=False)
    cols = ["codec", "quality", "image_id", "bytes", "bpp", "psnr"]
    a = pd.read_csv(tmp_path / "a" / "rows.csv")[cols]
    b = pd.read_csv(tmp_path / "b" / "rows.csv")[cols]
    pd.testing.assert_frame_equal(a, b)


def test_resume_computes_only_missing_tasks(registry, small_photo_dir, tmp_path):
    data = FolderDataset(small_photo_dir)
    codec = tc.LosslessZlib()
    first = run_evaluation([codec], data, metrics(registry), tmp_path, qualities=["1"],
                           progress=False)
    assert first.tasks_computed == 3
    again = run_evaluation([codec], data, metrics(registry), tmp_path, qualities=["1"],
                           progress=False)
    assert again.tasks_computed == 0 and again.rows == 3
    more = run_evaluation([codec], data, metrics(registry), tmp_path, progress=False)
    assert more.tasks_computed == 3 and more.rows == 6
    record = json.loads((tmp_path / "run.json").read_text())
    assert len(record["invocations"]) == 3


def test_resume_naming_the_same_files_differently_keeps_the_run_one_dataset(
        registry, small_photo_dir, tmp_path, monkeypatch):
    """A relative and then an absolute path to the same folder (same contents hash) resume
    one run: nothing is recomputed and the leaderboard has one row per rate point."""
    monkeypatch.chdir(small_photo_dir.parent)
    relative = FolderDataset(small_photo_dir.name)
    absolute = FolderDataset(small_photo_dir.resolve())
    assert relative.name != absolute.name
    codec = tc.LosslessZlib()
    out = tmp_path / "run"
    run_evaluation([codec], relative, metrics(registry), out, qualities=["1"], progress=False)
    again = run_evaluation([codec], absolute, metrics(registry), out, qualities=["1"],
                           progress=False)
    assert again.tasks_computed == 0 and again.rows == 3
    board = pd.read_csv(out / "leaderboard.csv")
    assert len(board) == 1 and set(board["dataset"]) == {relative.name}
    assert json.loads((out / "run.json").read_text())["dataset"]["name"] == relative.name


def test_retry_errors_reruns_only_failed_tasks(registry, small_photo_dir, tmp_path):
    data = FolderDataset(small_photo_dir)
    first = run_evaluation([tc.FailsOnImage()], data, metrics(registry), tmp_path, progress=False)
    assert first.errors > 0
    same = run_evaluation([tc.FailsOnImage()], data, metrics(registry), tmp_path, progress=False)
    assert same.tasks_computed == 0
    retried = run_evaluation([tc.FailsOnImage()], data, metrics(registry), tmp_path,
                             retry_errors=True, progress=False)
    assert retried.tasks_computed == first.errors and retried.rows == 6


def test_resume_refuses_changed_dataset(registry, small_photo_dir, tmp_path):
    data = FolderDataset(small_photo_dir)
    run_evaluation([tc.LosslessZlib()], data, metrics(registry), tmp_path, progress=False)
    image = load_rgb(small_photo_dir / "tulips.png")
    image[0, 0] = 255 - image[0, 0]
    Image.fromarray(image).save(small_photo_dir / "tulips.png")
    with pytest.raises(RunConfigError, match="dataset hash"):
        run_evaluation([tc.LosslessZlib()], FolderDataset(small_photo_dir), metrics(registry),
                       tmp_path, progress=False)


def test_resume_refuses_changed_codec_version(registry, small_photo_dir, tmp_path, monkeypatch):
    data = FolderDataset(small_photo_dir)
    run_evaluation([tc.VersionBump()], data, metrics(registry), tmp_path, progress=False)
    monkeypatch.setenv("CODECBENCH_TEST_VERSION", "2")
    with pytest.raises(RunConfigError, match="installed version is '2'"):
        run_evaluation([tc.VersionBump()], data, metrics(registry), tmp_path, progress=False)


def test_unknown_quality_is_an_error_listing_valid_ones(registry, small_photo_dir, tmp_path):
    with pytest.raises(RunConfigError, match=r"no selected codec has quality 77; offered: jpeg: 5, 10"):
        run_evaluation([registry.get("codecs", "jpeg")], FolderDataset(small_photo_dir),
                       metrics(registry), tmp_path, qualities=["77"], progress=False)


def test_csv_cells_are_neutralised_against_formula_injection(registry, small_photo_dir, tmp_path):
    run_evaluation([tc.Injection()], FolderDataset(small_photo_dir), metrics(registry),
                   tmp_path, qualities=["1"], progress=False)
    for name in ("rows.csv", "leaderboard.csv"):
        text = (tmp_path / name).read_text()
        assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
        frame = pd.read_csv(tmp_path / name)
        assert frame["codec"].str.startswith("'=HYPERLINK").all()


def test_provenance_is_looked_up_once_per_process(monkeypatch):
    """The commit, library versions and machine facts of run.json: the second run of a
    process runs no ``git``/``nvidia-smi`` and reads no package metadata again."""
    import subprocess

    from codecbench.harness import provenance

    for cached in (provenance.git_commit, provenance.distribution_version,
                   provenance.cpu_model, provenance._gpu_names):
        cached.cache_clear()
    commands = []
    run = subprocess.run

    def counting_run(command, *args, **kwargs):
        commands.append(command[0])
        return run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    first = provenance.environment(), provenance.hardware()
    looked_up = list(commands)
    assert (provenance.environment(), provenance.hardware()) == first
    assert commands == looked_up
    assert provenance.hardware()["gpus"] is not provenance.hardware()["gpus"]  # a copy each
