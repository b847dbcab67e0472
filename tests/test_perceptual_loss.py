"""``codecbench train --loss perceptual``: the distortion plus ``k_P · LPIPS_VGG`` (after
Liu et al. 2022) for the rate–distortion-trained CNN models in PyTorch, on random LPIPS
weights (the ImageNet ones are never downloaded)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("torchvision")

from safetensors.torch import load_file  # noqa: E402

from codecbench.api.training import TrainingConfig  # noqa: E402
from codecbench.codecs.learned import weights_format  # noqa: E402
from codecbench.codecs.learned.models import LEARNED_MODELS  # noqa: E402
from codecbench.codecs.learned.training_loop import TrainingError, check_resumable  # noqa: E402
from codecbench.datasets.builtin import SAMPLE_DIR  # noqa: E402
from training_helpers import curves  # noqa: E402

ENTRY = LEARNED_MODELS["bmshj2018-hyperprior"]


def config(out, **changes) -> TrainingConfig:
    options = dict(data=SAMPLE_DIR, out=out, quality=3, steps=4, batch_size=2, patch_size=64,
                   learning_rate=1e-3, channels=(8, 8), log_every=1, checkpoint_every=2,
                   lr_milestones=(), progress=False)
    options.update(changes)
    return TrainingConfig(**options)


def train(slug, out, **changes):
    from codecbench.api.registry import get_registry

    codec = get_registry().get("codecs", f"torch/{slug}")
    return codec.train(config(out, **changes))


def test_the_term_enters_the_hyperprior_loss_with_lambda(with_weights, tmp_path):
    result = train(ENTRY.slug, tmp_path / "p", loss="perceptual", perceptual_weight=50.0)
    assert result.finished
    rows = curves(tmp_path / "p")
    lmbda = ENTRY.lambda_of(3)
    for row in rows:
        perceptual = float(row["perceptual"])
        assert perceptual > 0
        rate_distortion = lmbda * 255**2 * float(row["distortion"]) + float(row["bpp"])
        assert float(row["loss"]) == pytest.approx(rate_distortion + lmbda * perceptual,
                                                   rel=1e-4)
    metadata = weights_format.read_metadata(result.weights)
    assert (metadata["loss"], metadata["perceptual_metric"], metadata["perceptual_weight"]) == (
        "perceptual", "lpips-vgg", "50.0")


def test_the_term_changes_what_is_learned(with_weights, tmp_path):
    plain = train(ENTRY.slug, tmp_path / "rd")
    perceptual = train(ENTRY.slug, tmp_path / "p", loss="perceptual", perceptual_weight=1e4)
    a, b = load_file(str(plain.weights)), load_file(str(perceptual.weights))
    assert "loss" not in weights_format.read_metadata(plain.weights)
    assert not torch.equal(a["g_s.0.weight"], b["g_s.0.weight"])


def test_variable_rate_context_and_codespace_runs_take_it(with_weights, tmp_path):
    variable = train(ENTRY.slug, tmp_path / "vr", quality=None, variable_rate=True,
                     loss="perceptual")
    assert weights_format.read_metadata(variable.weights)["loss"] == "perceptual"
    for slug, channels in (("mentzer2018-context", (8, 4)), ("klopp2018-codespace", (8, 4))):
        result = train(slug, tmp_path / slug, quality=None, channels=channels,
                       loss="perceptual")
        assert result.finished, slug
        assert all(float(row["perceptual"]) > 0 for row in curves(tmp_path / slug)), slug
        assert weights_format.read_metadata(result.weights)["loss"] == "perceptual", slug


def test_without_the_lpips_weights_the_run_is_refused(tmp_path, monkeypatch):
    from codecbench.metrics import perceptual_weights as pw

    monkeypatch.setenv(pw.WEIGHTS_ENV, str(tmp_path / "none"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(TrainingError, match="--loss perceptual needs the lpips-vgg network"):
        train(ENTRY.slug, tmp_path / "p", loss="perceptual")
    assert not (tmp_path / "p" / "checkpoint.pt").exists()


@pytest.mark.parametrize("codec", ["tf/bmshj2018-hyperprior", "torch/hific",
                                   "torch/toderici2017-gru", "torch/minnen2017-tiled"])
def test_trainers_with_a_loss_of_their_own_refuse_it(codec, tmp_path):
    from codecbench.api.registry import get_registry

    trainable = get_registry().get("codecs", codec)
    if trainable.availability()[0] is False and "not installed" in trainable.availability()[1]:
        pytest.skip(trainable.availability()[1])
    expected = "train torch/bmshj2018-hyperprior with it and convert" if codec.startswith(
        "tf/") else "trains with a loss of its own"
    with pytest.raises(TrainingError, match=expected):
        trainable.train(config(tmp_path / "x", quality=None, loss="perceptual"))


def test_runs_saved_before_the_option_resume_as_rate_distortion(tmp_path):
    saved = config(tmp_path).to_json()
    del saved["loss"], saved["perceptual_weight"]
    check_resumable(saved, config(tmp_path), tmp_path)
    with pytest.raises(TrainingError, match="loss, perceptual_weight"):
        check_resumable(saved, config(tmp_path, loss="perceptual", perceptual_weight=5.0),
                        tmp_path)


def test_the_command_line_passes_the_loss_through(with_weights, tmp_path):
    from helpers import invoke_cli

    out = tmp_path / "cli"
    completed = invoke_cli("train", f"torch/{ENTRY.slug}", "--data", str(SAMPLE_DIR),
                           "--quality", "2", "--steps", "2", "--batch-size", "1",
                           "--patch-size", "64", "--channels", "8", "8", "--loss",
                           "perceptual", "--perceptual-weight", "20", "--out", str(out),
                           "--no-progress", env={"CODECBENCH_PERCEPTUAL_WEIGHTS": str(
                               with_weights)})
    assert completed.returncode == 0, completed.stderr
    metadata = weights_format.read_metadata(out / f"{ENTRY.slug}-q2.safetensors")
    assert metadata["perceptual_weight"] == "20.0"
