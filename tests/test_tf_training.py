"""``codecbench train tf/<model>`` on tiny configurations: learns, resumes exactly, exports
a working TF codec, and takes the same options as the torch side."""


import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_compression")
pytest.importorskip("safetensors")

from codecbench.api.images import load_rgb  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf import convert  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.codecs import TFLearnedCodec  # noqa: E402
from codecbench.codecs.learned.hyperprior.tf.training import train  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from helpers import invoke_cli  # noqa: E402
from training_helpers import curves, tiny_config  # noqa: E402

ENTRY = LEARNED_MODELS["mbt2018-mean"]
CODEC = "tf/mbt2018-mean"


def _config(data, out, **changes):
    return tiny_config(data, out, **{"steps": 24, "log_every": 4, "checkpoint_every": 4,
                                     **changes})


def _weights(path):
    from safetensors.numpy import load_file

    return load_file(str(path))


def test_a_tiny_tf_model_learns_and_exports_a_working_codec(small_photo_dir, tmp_path,
                                                            monkeypatch):
    result = train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "run", steps=32))
    assert result.finished and result.step == 32
    rows = curves(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == list(range(4, 33, 4))
    assert all(r["aux_loss"] == "" for r in rows)  # tfc has no auxiliary loss
    first = sum(float(r["loss"]) for r in rows[:2]) / 2
    last = sum(float(r["loss"]) for r in rows[-2:]) / 2
    assert last < 0.7 * first, (first, last)
    assert result.weights.name == "mbt2018-mean-q3.tf.safetensors"
    metadata = convert.read_tf_metadata(result.weights)
    assert metadata["quality"] == "3" and float(metadata["lambda"]) == ENTRY.lambda_of(3)
    assert (tmp_path / "run" / "training.json").exists()
    # the exported file is a CODECBENCH_TF_WEIGHTS folder as is
    monkeypatch.setenv("CODECBENCH_TF_WEIGHTS", str(tmp_path / "run"))
    codec = TFLearnedCodec(ENTRY)
    assert codec.weights_file(3) == result.weights
    image = np.ascontiguousarray(load_rgb(SAMPLE_DIR / "chelsea.webp")[:96, :130])
    data = codec.encode(image, 3)
    assert TFLearnedCodec(ENTRY).decode(data).shape == image.shape
    assert data.estimated_bits > 0


def test_a_resumed_tf_run_continues_exactly(small_photo_dir, tmp_path):
    straight = train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "straight", steps=8))
    train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "split", steps=4))
    resumed = train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "split", steps=8))
    assert resumed.step == 8
    expected, actual = _weights(straight.weights), _weights(resumed.weights)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert np.array_equal(expected[key], actual[key]), key
    assert [r["loss"] for r in curves(tmp_path / "split")] == \
        [r["loss"] for r in curves(tmp_path / "straight")]


def test_tf_training_refuses_what_it_cannot_do(small_photo_dir, tmp_path):
    train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "run", steps=4))
    with pytest.raises(TrainingError, match="other settings.*lmbda"):
        train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "run", steps=8, lmbda=0.1))
    with pytest.raises(TrainingError, match="multiple of 64"):
        train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "other", patch_size=96))
    with pytest.raises(TrainingError, match="ms-ssim needs --patch-size of at least 161"):
        train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "msssim", metric="ms-ssim"))
    with pytest.raises(TrainingError, match="architecture differs"):
        train(ENTRY, CODEC, _config(small_photo_dir, tmp_path / "wider", channels=(16, 8),
                                    init_from=tmp_path / "run" / "checkpoint.npz"))


@pytest.mark.slow
def test_train_command_fine_tunes_tf_from_torch_weights(tmp_path):
    """The CLI with the torch side's options, starting from a torch weights file."""
    from tf_fixtures import TINY_M, TINY_N, write_tiny_torch_weights

    torch_file = write_tiny_torch_weights(tmp_path, (2,)) / "bls2017-factorized-q2.safetensors"
    out = tmp_path / "ft"
    completed = invoke_cli("train", "tf/bls2017-factorized", "--data", str(SAMPLE_DIR),
                        "--quality", "2", "--steps", "3", "--batch-size", "1",
                        "--channels", str(TINY_N), str(TINY_M),
                        "--patch-size", "192", "--lr", "1e-5", "--lr-milestones", "0.5",
                        "--lr-gamma", "0.5", "--clip-norm", "0.5", "--init-from",
                        str(torch_file), "--metric", "ms-ssim", "--half-kernels",
                        "--log-every", "1", "--out", str(out), "--no-progress")
    assert completed.returncode == 0, completed.stderr
    rows = curves(out)
    assert [float(r["lr"]) for r in rows] == [1e-5, 1e-5 * 0.5, 1e-5 * 0.5]
    assert all(0 < float(r["distortion"]) <= 1 for r in rows)  # MS-SSIM
    tensors = _weights(out / "bls2017-factorized-q2.tf.safetensors")
    assert tensors["g_a.0.kernel"].dtype == np.float16
