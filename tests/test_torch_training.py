"""``codecbench train`` on tiny configurations: the loss falls, runs resume exactly."""

import os
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from codecbench.codecs.learned import weights_format  # noqa: E402
from codecbench.codecs.learned.hyperprior.torch.training import train  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from helpers import run_cli  # noqa: E402
from training_helpers import curves, tiny_config  # noqa: E402

ENTRY = LEARNED_MODELS["bmshj2018-hyperprior"]
CODEC = "torch/bmshj2018-hyperprior"


def _tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_a_tiny_model_learns(small_photo_dir, tmp_path):
    result = train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "run", steps=60))
    assert result.finished and result.step == 60
    rows = curves(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == list(range(5, 61, 5))
    first = sum(float(r["loss"]) for r in rows[:2]) / 2
    last = sum(float(r["loss"]) for r in rows[-2:]) / 2
    assert last < 0.5 * first, (first, last)
    # the exported weights are a working codec at the trained rate point
    metadata = weights_format.read_metadata(result.weights)
    assert metadata["quality"] == "3" and float(metadata["lambda"]) == ENTRY.lambda_of(3)
    assert result.weights.name == "bmshj2018-hyperprior-q3.safetensors"


def test_an_extended_run_continues_exactly_where_it_stopped(small_photo_dir, tmp_path):
    straight = train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "straight", steps=20))
    train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "split", steps=10))
    resumed = train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "split", steps=20))
    assert resumed.step == 20
    a, b = _tensors(straight.weights), _tensors(resumed.weights)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert [r["step"] for r in curves(tmp_path / "split")] == \
        [r["step"] for r in curves(tmp_path / "straight")]


@pytest.mark.slow
def test_a_killed_training_run_resumes_to_the_same_weights(small_photo_dir, tmp_path):
    """SIGKILL in the middle of a real ``codecbench train`` process, then run it again."""
    arguments = ["train", CODEC, "--data", str(small_photo_dir), "--quality", "2",
                 "--channels", "8", "8", "--steps", "60", "--batch-size", "2",
                 "--patch-size", "64", "--lr", "1e-3", "--lr-milestones", "",
                 "--checkpoint-every", "3", "--log-every", "3", "--no-progress"]
    run_cli(*arguments, "--out", str(tmp_path / "straight"))
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "codecbench", *arguments,
                                "--out", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (killed / "curves.csv").exists() and len(curves(killed)) >= 4:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not list(killed.glob("*.safetensors")), "killed too late: the run had finished"
    completed = run_cli(*arguments, "--out", str(killed))
    assert completed.returncode == 0, completed.stderr
    name = "bmshj2018-hyperprior-q2.safetensors"
    a, b = _tensors(tmp_path / "straight" / name), _tensors(killed / name)
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert [r["step"] for r in curves(killed)] == [str(s) for s in range(3, 61, 3)]


def test_resuming_with_other_settings_is_refused(small_photo_dir, tmp_path):
    train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "run", steps=5))
    with pytest.raises(TrainingError, match="other settings.*lmbda"):
        train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "run", steps=10, lmbda=0.5))


def test_fine_tuning_starts_from_another_rate_point(small_photo_dir, tmp_path):
    base = train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "base", steps=40))
    tuned = train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "q5", quality=5, steps=5,
                                        init_from=base.weights))
    record = (tmp_path / "q5" / "training.json").read_text()
    assert str(base.weights) in record
    assert weights_format.read_metadata(tuned.weights)["lambda"] == repr(ENTRY.lambda_of(5))
    # it starts where the base ended, far below a fresh model: it began from trained weights
    base_rows = curves(tmp_path / "base")
    first = float(curves(tmp_path / "q5")[0]["distortion"])
    assert first < 0.5 * float(base_rows[0]["distortion"])
    assert first < 2 * float(base_rows[-1]["distortion"])


def test_ms_ssim_training_runs(tmp_path):
    from codecbench.datasets.builtin import SAMPLE_DIR

    result = train(ENTRY, CODEC, tiny_config(SAMPLE_DIR, tmp_path / "run", steps=2, batch_size=1,
                                         metric="ms-ssim", patch_size=192, log_every=1))
    rows = curves(tmp_path / "run")
    assert result.finished and 0 < float(rows[-1]["distortion"]) < 1
    assert rows[-1]["psnr"] == ""


def test_too_small_images_and_empty_folders_are_named(tmp_path, small_photo_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no image files"):
        train(ENTRY, CODEC, tiny_config(tmp_path / "empty", tmp_path / "run"))
    with pytest.raises(TrainingError, match="multiple of 64"):
        train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "run3", patch_size=100))
    with pytest.raises(TrainingError, match="smaller than the 4096px patch"):
        train(ENTRY, CODEC, tiny_config(small_photo_dir, tmp_path / "run2", patch_size=4096))


def test_cli_trains_and_refuses_untrainable_codecs(small_photo_dir, tmp_path):
    out = tmp_path / "cli"
    completed = run_cli("train", "torch/bls2017-factorized", "--data", str(small_photo_dir),
                        "--lambda", "0.01", "--channels", "8", "8", "--steps", "3",
                        "--batch-size", "1", "--patch-size", "64", "--out", str(out),
                        "--no-progress")
    assert completed.returncode == 0, completed.stderr
    assert (out / "bls2017-factorized-lambda0.01.safetensors").exists()
    refused = run_cli("train", "jpeg", "--data", str(small_photo_dir), "--quality", "1")
    assert refused.returncode != 0 and "not trainable" in refused.stderr
