"""``codecbench train`` for the recurrent codecs: learning, exact resume, the Johnston parts."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from codecbench.api.training import TrainingConfig  # noqa: E402
from codecbench.codecs.learned.models import RECURRENT_MODELS  # noqa: E402
from codecbench.codecs.learned.progressive import truncate  # noqa: E402
from codecbench.codecs.learned.recurrent import weights as recurrent_format  # noqa: E402
from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.codecs import TorchRecurrentCodec  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.network import RecurrentCompressor  # noqa: E402
from codecbench.codecs.learned.recurrent.torch.training import (  # noqa: E402
    block_ssim_weights,
    train,
)
from codecbench.codecs.learned.training_loop import TrainingError  # noqa: E402
from helpers import invoke_cli  # noqa: E402
from rnn_fixtures import photo  # noqa: E402


@pytest.fixture(autouse=True)
def few_context_crops(monkeypatch):
    """Count the context table on 4 crops, not 48 (seconds per export on a CI CPU)."""
    from codecbench.codecs.learned.recurrent.torch import training as recurrent_training

    monkeypatch.setattr(recurrent_training, "CONTEXT_CROPS", 4)


TINY = ["--channels", "4", "8", "--batch-size", "2", "--patch-size", "32", "--no-progress",
        "--log-every", "1", "--checkpoint-every", "2"]


def _config(data, out, steps, **options):
    settings = {"batch_size": 2, "patch_size": 32, "channels": (4, 8), "log_every": 1,
                "checkpoint_every": 2, "progress": False, "learning_rate": 1e-3,
                "lr_milestones": ()}  # a schedule of fractions of steps would differ
    settings.update(options)
    return TrainingConfig(data=data, out=out, steps=steps, **settings)


def test_cli_trains_exports_and_the_codec_uses_the_weights(small_photo_dir, tmp_path,
                                                           monkeypatch):
    out = tmp_path / "run"
    result = invoke_cli("train", "torch/toderici2017-gru", "--data", str(small_photo_dir),
                        "--steps", "3", "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr
    weights = out / "toderici2017-gru.safetensors"
    assert weights.is_file()
    record = json.loads((out / "training.json").read_text())
    assert record["steps"] == 3 and record["iterations"] == 16 and record["loss"] == "l1"
    assert len((out / "curves.csv").read_text().splitlines()) == 4
    _, probabilities, metadata = recurrent_weights.load_recurrent(
        weights, RECURRENT_MODELS["toderici2017-gru"])
    assert probabilities.shape == (16, 32, 19)
    assert metadata["encoder_widths"] == "4,8,8,8"
    monkeypatch.setenv("CODECBENCH_TORCH_WEIGHTS", str(out))
    codec = TorchRecurrentCodec(RECURRENT_MODELS["toderici2017-gru"])
    image = photo(0, 40, 56)
    assert codec.decode(truncate(bytes(codec.encode(image, 16)), 3)).shape == image.shape


def test_rate_points_are_iterations_so_lambda_and_metric_are_refused(small_photo_dir, tmp_path):
    for extra, message in ((["--quality", "3"], "no λ"), (["--lambda", "0.01"], "no λ"),
                           (["--metric", "ms-ssim", "--patch-size", "192"], "paper's loss")):
        result = invoke_cli("train", "torch/toderici2016-lstm", "--data", str(small_photo_dir),
                            "--steps", "1", "--out", str(tmp_path / "x"), *extra)
        assert result.returncode != 0 and message in result.stderr
    with pytest.raises(TrainingError, match="multiple of 32"):
        train(RECURRENT_MODELS["toderici2016-lstm"], "torch/toderici2016-lstm",
              _config(small_photo_dir, tmp_path / "y", 1, patch_size=48))


def test_a_tiny_model_learns(small_photo_dir, tmp_path):
    entry = RECURRENT_MODELS["toderici2017-gru"]
    result = train(entry, "torch/toderici2017-gru",
                   _config(small_photo_dir, tmp_path / "run", 16, log_every=8,
                           checkpoint_every=16, learning_rate=3e-3))
    rows = (tmp_path / "run" / "curves.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[1]) for row in rows]
    assert result.finished and losses[-1] < losses[0]


def test_an_extended_run_continues_exactly_where_it_stopped(small_photo_dir, tmp_path):
    entry = RECURRENT_MODELS["johnston2018-priming"]
    train(entry, "torch/johnston2018-priming", _config(small_photo_dir, tmp_path / "once", 4))
    train(entry, "torch/johnston2018-priming", _config(small_photo_dir, tmp_path / "twice", 2))
    train(entry, "torch/johnston2018-priming", _config(small_photo_dir, tmp_path / "twice", 4))
    once, _ = recurrent_format.read_tensors(tmp_path / "once" / "johnston2018-priming.safetensors")
    twice, _ = recurrent_format.read_tensors(
        tmp_path / "twice" / "johnston2018-priming.safetensors")
    assert once.keys() == twice.keys()
    for name in once:
        assert np.array_equal(once[name], twice[name]), name


def test_fine_tuning_starts_from_another_recurrent_model(small_photo_dir, tmp_path):
    gru = RECURRENT_MODELS["toderici2017-gru"]
    first = train(gru, "torch/toderici2017-gru", _config(small_photo_dir, tmp_path / "gru", 1))
    result = train(RECURRENT_MODELS["johnston2018-priming"], "torch/johnston2018-priming",
                   _config(small_photo_dir, tmp_path / "johnston", 1, init_from=first.weights))
    record = json.loads((tmp_path / "johnston" / "training.json").read_text())
    assert result.finished and record["parent"]["model"] == "toderici2017-gru"
    with pytest.raises(TrainingError, match="architecture differs"):
        train(RECURRENT_MODELS["toderici2016-lstm"], "torch/toderici2016-lstm",
              _config(small_photo_dir, tmp_path / "lstm", 1, init_from=first.weights))


def test_priming_runs_the_first_iteration_k_extra_times():
    entry = RECURRENT_MODELS["johnston2018-priming"]
    torch.manual_seed(0)
    network = RecurrentCompressor(entry, (4, 8, 8, 8), (8, 8, 8, 4)).eval()
    x = torch.rand(1, 3, 32, 32) - 0.5
    with torch.no_grad():
        codes, reconstructions = network(x, 1, stochastic=False)
        state = network.encoder_state(x)
        for _ in range(entry.priming + 1):
            code, state = network.encode_step(x, state)
        decoder = network.decoder_state(code)
        for _ in range(entry.priming + 1):
            output, decoder = network.decode_step(code, decoder)
    assert entry.priming == 2
    assert torch.equal(codes[0], code) and torch.equal(reconstructions[0], output)


def test_ssim_weights_favour_the_badly_reconstructed_block():
    x = torch.rand(1, 3, 32, 32)
    x_hat = x + 0.01 * torch.randn_like(x)
    x_hat[..., 8:16, 16:24] = torch.rand(8, 8)  # one block reconstructed badly
    weights = block_ssim_weights(x, x_hat)
    assert weights.shape == (1, 1, 32, 32)
    assert float(weights.mean()) == pytest.approx(1.0, rel=1e-5)
    assert float(weights[..., 8:16, 16:24].min()) > 5 * float(weights[..., :8, :8].max())
