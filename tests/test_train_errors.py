"""``codecbench train`` with unreadable or refused weights and checkpoints: one ``Error:``
line naming the file, never a traceback, never advice to load a file as code."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import invoke_cli

TORCH_CODEC = "torch/bmshj2018-hyperprior"
TORCH_TINY = ["--quality", "3", "--channels", "8", "8", "--steps", "1", "--batch-size", "1",
              "--patch-size", "64", "--no-progress"]
RNN_CODEC = "torch/toderici2017-gru"
RNN_TINY = ["--channels", "4", "8", "--steps", "1", "--batch-size", "1", "--patch-size", "32",
            "--no-progress"]
TF_CODEC = "tf/mbt2018-mean"


class NotATensor:
    """Pickled into a checkpoint: data-only loading must refuse it."""

    def __init__(self):
        self.payload = [1, 2, 3]


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("compressai")
    return torch


def _train(codec, data, out, *options):
    return invoke_cli("train", codec, "--data", str(data), "--out", str(out), *options)


def _one_error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "weights_only" not in result.stderr and "allow_pickle" not in result.stderr
    return lines[0]


def _bad_files(torch, folder):
    """name -> a file codecbench must not start from (or resume)."""
    folder.mkdir()
    files = {
        "garbage": folder / "garbage.pt",
        "empty": folder / "empty.pt",
        "truncated": folder / "truncated.pt",
        "refused": folder / "refused.pt",
        "not-a-dict": folder / "list.pt",
    }
    files["garbage"].write_bytes(b"this is not a checkpoint at all\n" * 4)
    files["empty"].write_bytes(b"")
    torch.save({"model": {"w": torch.zeros(3)}}, folder / "whole.pt")
    files["truncated"].write_bytes((folder / "whole.pt").read_bytes()[:120])
    torch.save({"format": "codecbench-torch-checkpoint/1", "model": NotATensor()},
               files["refused"])
    torch.save([1, 2, 3], files["not-a-dict"])
    return files


@pytest.mark.parametrize("case, expected", [
    ("garbage", "is not a readable torch file"),
    ("empty", "is not a readable torch file"),
    ("truncated", "is not a readable torch file"),
    ("refused", "was refused: it holds a pickled test_train_errors.NotATensor object"),
    ("not-a-dict", "is not a training checkpoint (it holds a list)"),
])
def test_init_from_a_bad_torch_file_is_one_error_line(torch, small_photo_dir, tmp_path, case,
                                                      expected):
    bad = _bad_files(torch, tmp_path / "bad")[case]
    line = _one_error_line(_train(TORCH_CODEC, small_photo_dir, tmp_path / "run",
                                  "--init-from", str(bad), *TORCH_TINY))
    assert str(bad) in line and expected in line


def test_init_from_corrupt_safetensors_is_one_error_line(torch, small_photo_dir, tmp_path):
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(b"\xff" * 64)
    line = _one_error_line(_train(TORCH_CODEC, small_photo_dir, tmp_path / "run",
                                  "--init-from", str(bad), *TORCH_TINY))
    assert str(bad) in line and "is not a readable safetensors file" in line


@pytest.mark.parametrize("case", ["garbage", "truncated", "refused"])
def test_resuming_from_a_bad_checkpoint_is_one_error_line(torch, small_photo_dir, tmp_path,
                                                          case):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(_bad_files(torch, tmp_path / "bad")[case].read_bytes())
    line = _one_error_line(_train(TORCH_CODEC, small_photo_dir, out, *TORCH_TINY))
    assert str(out / "checkpoint.pt") in line


def test_recurrent_init_from_a_refused_checkpoint_is_one_error_line(torch, small_photo_dir,
                                                                    tmp_path):
    bad = _bad_files(torch, tmp_path / "bad")["refused"]
    line = _one_error_line(_train(RNN_CODEC, small_photo_dir, tmp_path / "run",
                                  "--init-from", str(bad), *RNN_TINY))
    assert "was refused" in line


def test_torch_load_helper_never_suggests_loading_as_code(torch, tmp_path):
    from codecbench.frameworks.files import WeightsFileError
    from codecbench.frameworks.torch_runtime import torch_load

    bad = _bad_files(torch, tmp_path / "bad")
    for path in bad.values():
        if path.name == "list.pt":
            assert torch_load(path) == [1, 2, 3]
            continue
        with pytest.raises(WeightsFileError) as info:
            torch_load(path)
        assert str(path) in str(info.value) and "weights_only" not in str(info.value)
    assert torch.equal(torch_load(tmp_path / "bad" / "whole.pt")["model"]["w"], torch.zeros(3))


# -- TensorFlow checkpoints (.npz) -----------------------------------------------------------


@pytest.fixture
def tensorflow():
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_compression")


def _tf_bad_files(folder):
    folder.mkdir()
    garbage = folder / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip archive")
    pickled = folder / "pickled.npz"
    meta = json.dumps({"format": "codecbench-tf-checkpoint/1"})
    np.savez(pickled, meta=np.array(meta), **{"model/x": np.array([{"a": 1}], dtype=object)})
    no_meta = folder / "no-meta.npz"
    np.savez(no_meta, x=np.zeros(3))
    return {"garbage": garbage, "pickled": pickled, "no-meta": no_meta}


@pytest.mark.parametrize("case, expected", [
    ("garbage", "is not a readable TF training checkpoint"),
    ("pickled", "was refused: it holds pickled Python objects"),
    ("no-meta", "is not a readable TF training checkpoint"),
])
def test_tf_init_from_a_bad_checkpoint_is_one_error_line(tensorflow, small_photo_dir, tmp_path,
                                                         case, expected):
    bad = _tf_bad_files(tmp_path / "bad")[case]
    line = _one_error_line(_train(TF_CODEC, small_photo_dir, tmp_path / "run",
                                  "--init-from", str(bad), *TORCH_TINY))
    assert str(bad) in line and expected in line


def test_tf_resuming_from_a_corrupt_checkpoint_is_one_error_line(tensorflow, small_photo_dir,
                                                                 tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.npz").write_bytes(b"\x00" * 100)
    line = _one_error_line(_train(TF_CODEC, small_photo_dir, out, *TORCH_TINY))
    assert str(out / "checkpoint.npz") in line
