"""The command line, end to end in subprocesses and in-process."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import run_cli


def test_python_m_codecbench_help():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("plugins", "list", "run", "leaderboard"):
        assert command in result.stdout


def test_list_codecs_json_has_metadata():
    result = run_cli("list", "codecs", "--json")
    records = {r["name"]: r for r in json.loads(result.stdout)}
    jpeg = records["jpeg"]
    assert jpeg["family"] == "classical" and jpeg["available"] is True
    assert jpeg["qualities"][0] == "5" and jpeg["plugin"] == "classic-pillow"


def test_plugins_json():
    records = {r["name"]: r for r in json.loads(run_cli("plugins", "--json").stdout)}
    assert records["classic-pillow"]["codecs"] == ["jpeg", "jpeg-444", "jpeg2000", "webp", "avif"]
    assert records["classic-heif"]["codecs"] == ["hevc-intra", "hevc-intra-420"]
    assert records["metrics-basic"]["metrics"] == ["bpp", "bpp-estimate", "psnr", "psnr-y"]
    assert "torch/bmshj2018-hyperprior" in records["torch-learned"]["codecs"]
    assert "compressai/cheng2020-attn" in records["torch-learned"]["codecs"]
    assert records["metrics-structural"]["metrics"] == ["ssim", "ms-ssim", "ms-ssim-db"]
    assert records["datasets-builtin"]["distribution"] == "codecbench"


def test_unknown_codec_lists_valid_names(tmp_path):
    result = run_cli("run", "--codec", "jpgg", cwd=tmp_path)
    assert result.returncode != 0
    assert "unknown codec 'jpgg'; valid codecs:" in result.stderr and "jpeg-444" in result.stderr


def test_unknown_dataset_and_metric(tmp_path):
    result = run_cli("run", "--dataset", "kodakk", cwd=tmp_path)
    assert result.returncode != 0 and "valid datasets: cifar10-test" in result.stderr
    assert "kodak, lsun" in result.stderr
    result = run_cli("run", "--metric", "lpipz", cwd=tmp_path)
    assert result.returncode != 0
    assert "valid metrics: bpp, bpp-estimate, dists," in result.stderr
    assert "fid, kid, lpips-alex, lpips-vgg, ms-ssim, ms-ssim-db, psnr, psnr-y, ssim" in result.stderr


@pytest.mark.slow
def test_run_on_a_folder_with_patterns_then_merge_leaderboards(tmp_path, small_photo_dir):
    first = run_cli("run", "--codec", "jpeg*", "--quality", "30", "--quality", "90",
                    "--dataset", str(small_photo_dir), "--out", str(tmp_path / "a"),
                    "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "jpeg-444" in first.stdout and "12 tasks computed" in first.stdout
    rows = pd.read_csv(tmp_path / "a" / "rows.csv")
    assert set(rows.codec) == {"jpeg", "jpeg-444"} and set(rows.quality) == {30, 90}
    second = run_cli("run", "--codec", "jpeg", "--quality", "50", "--dataset",
                     str(small_photo_dir), "--out", str(tmp_path / "b"), "--no-progress",
                     cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    merged = run_cli("leaderboard", str(tmp_path / "a"), str(tmp_path / "b"), "-o",
                     str(tmp_path / "merged.csv"), cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    board = pd.read_csv(tmp_path / "merged.csv")
    assert len(board) == 5 and (board["n_images"] == 3).all()
    assert list(board[board.codec == "jpeg"]["quality"]) == [30, 50, 90]


@pytest.mark.slow
def test_default_run_resumes_the_unfinished_run_of_the_same_command(tmp_path, small_photo_dir):
    args = ("run", "--codec", "jpeg", "--quality", "40", "--dataset", str(small_photo_dir),
            "--no-progress")
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (run_dir,) = (tmp_path / "codecbench-results").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    record["status"] = "running"  # as if it had been killed
    (run_dir / "run.json").write_text(json.dumps(record))
    second = run_cli(*args, cwd=tmp_path)
    assert f"resuming unfinished run {run_dir.relative_to(tmp_path)}" in second.stderr
    assert "0 tasks computed, 3 kept from earlier invocations" in second.stdout
    assert len(list((tmp_path / "codecbench-results").iterdir())) == 1


@pytest.mark.slow
def test_exit_status_reports_errors(tmp_path, small_photo_dir, fake_dists):
    fake_dists("bad-dist", {"bad": "bad_plugin"}, {"bad_plugin": """
        import codecs_for_tests as tc
        from codecbench import hookimpl

        @hookimpl
        def register_codecs(register):
            register(tc.WrongShape())
    """})
    result = run_cli("run", "--codec", "test/wrong-shape", "--dataset", str(small_photo_dir),
                     "--out", str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 1
    assert "6 tasks failed" in result.stderr


@pytest.mark.slow
def test_default_run_leaves_out_slow_codecs_and_says_so(tmp_path, small_photo_dir):
    result = run_cli("run", "--dataset", str(small_photo_dir), "--metric", "bpp", "--out",
                     str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "not in the default run" in result.stderr and "hevc-intra" in result.stderr
    codecs = set(pd.read_csv(tmp_path / "run" / "rows.csv")["codec"])
    assert {"jpeg", "jpeg-444", "jpeg2000", "webp", "jpegxl"} <= codecs
    assert not codecs & {"avif", "hevc-intra", "hevc-intra-420", "ffmpeg-x265", "ffmpeg-av1"}
    # learned codecs: exactly the available ones the model table marks for the default run
    # (the quick CNN models in torch, tf/bmshj2018-hyperprior next to its torch twin)
    from codecbench.api.registry import get_registry
    from codecbench.codecs.learned.models import LEARNED_MODELS

    marked = {f"{'tf' if framework == 'tensorflow' else framework}/{slug}"
              for slug, entry in LEARNED_MODELS.items() for framework in entry.default_run}
    assert "tf/bmshj2018-hyperprior" in marked and "torch/mbt2018" not in marked
    registry = get_registry()
    available = {name for name in marked if registry.get("codecs", name).availability()[0]}
    learned = {codec for codec in codecs if codec.startswith(("torch/", "tf/", "compressai/"))}
    assert learned == available


def test_folder_subset_options(tmp_path, small_photo_dir):
    result = run_cli("run", "--codec", "jpeg", "--quality", "50", "--metric", "bpp", "--dataset",
                     str(small_photo_dir), "--max-images", "2", "--subset-seed", "3", "--out",
                     str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "run" / "rows.csv")) == 2
    refused = run_cli("run", "--dataset", "sample", "--max-images", "2", cwd=tmp_path)
    assert refused.returncode != 0 and "apply to a folder" in refused.stderr
