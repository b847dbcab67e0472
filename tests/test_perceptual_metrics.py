"""LPIPS and DISTS: equal to the reference packages on the same (random) weights, zero on
identical images, rising with distortion on real photos; unavailable without weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

import torch  # noqa: E402

from codecbench.api.metric import Measurement  # noqa: E402
from codecbench.metrics import perceptual_weights as pw  # noqa: E402
from codecbench.metrics.perceptual import DISTSMetric, LPIPSMetric  # noqa: E402
from codecbench.metrics.torch import networks as perceptual  # noqa: E402
from helpers import run_cli  # noqa: E402
from rnn_fixtures import photo  # noqa: E402


def _distorted(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).round().astype(np.uint8)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_equals_the_lpips_package_on_the_same_weights(with_weights, net):
    lpips = pytest.importorskip("lpips")
    reference = lpips.LPIPS(net=net, pnet_rand=True, verbose=False,
                            model_path=str(with_weights / pw.LPIPS_HEADS[net].name))
    backbone = torch.load(with_weights / pw.BACKBONES[net].name, weights_only=True)
    bounds = (0, *perceptual.LPIPS_LAYERS[net])
    state = {}
    for key, tensor in backbone.items():
        index, parameter = key.split(".")[1:]
        slice_number = next(s for s in range(1, 6) if bounds[s - 1] <= int(index) < bounds[s])
        state[f"net.slice{slice_number}.{index}.{parameter}"] = tensor
    missing = reference.load_state_dict(state, strict=False).missing_keys
    assert not [k for k in missing if k.startswith("net.")]

    size = 96 if net == "vgg" else 160
    a = photo(0, size, size + 17, 20, 30)
    for b in (_distorted(a, 8.0), photo(3, size, size + 17, 20, 30)):
        ours = LPIPSMetric(net).compute(Measurement(a, b, 0))
        with torch.no_grad():
            theirs = reference(perceptual.image_tensor(a), perceptual.image_tensor(b),
                               normalize=True).item()
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-7)
        assert ours > 0


def test_dists_equals_the_dists_package_on_the_same_weights(with_weights, monkeypatch):
    dists_module = pytest.importorskip("DISTS_pytorch.DISTS_pt")
    import torchvision

    backbone = torch.load(with_weights / pw.BACKBONES["vgg"].name, weights_only=True)
    vgg16 = torchvision.models.vgg16

    def vgg16_with_our_weights(pretrained=False, **_):
        model = vgg16(weights=None)
        missing = model.load_state_dict(backbone, strict=False).missing_keys
        assert not [k for k in missing if k.startswith("features.")]
        return model

    monkeypatch.setattr(dists_module.models, "vgg16", vgg16_with_our_weights)
    reference = dists_module.DISTS(load_weights=False)
    head = torch.load(with_weights / pw.DISTS_HEAD.name, weights_only=True)
    reference.alpha.data, reference.beta.data = head["alpha"], head["beta"]

    a = photo(1, 96, 113, 10, 10)
    for b in (_distorted(a, 10.0), photo(2, 96, 113, 10, 10)):
        ours = DISTSMetric().compute(Measurement(a, b, 0))
        theirs = reference(perceptual.image_tensor(a), perceptual.image_tensor(b)).item()
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("metric", [LPIPSMetric("alex"), DISTSMetric()], ids=str)
def test_zero_for_identical_images_and_rising_with_noise_on_a_real_photo(with_weights,
                                                                         metric):
    image = photo(4, 128, 150, 100, 100)
    assert metric.compute(Measurement(image, image, 0)) == pytest.approx(0.0, abs=1e-5)
    values = [metric.compute(Measurement(image, _distorted(image, sigma), 0)) for sigma in (2, 8, 24)]
    assert values[0] < values[1] < values[2]


def test_unavailable_without_weights_names_the_files(monkeypatch, tmp_path, small_photo_dir):
    monkeypatch.setenv(pw.WEIGHTS_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    available, reason = LPIPSMetric("alex").availability()
    assert not available
    assert "alexnet-owt-7be5be79.pth" in reason and pw.WEIGHTS_ENV in reason
    listing = run_cli("list", "metrics")
    assert "lpips-alex" in listing.stdout and "UNAVAILABLE" in listing.stdout
    result = run_cli("run", "--codec", "jpeg", "--quality", "50", "--dataset",
                     str(small_photo_dir), "--metric", "lpips-alex", "--out",
                     str(tmp_path / "run"))
    assert result.returncode != 0
    assert "lpips-alex is unavailable" in result.stderr and "alexnet-owt" in result.stderr


def test_found_in_the_torch_hub_cache(monkeypatch, tmp_path, weights_dir):
    checkpoints = tmp_path / "torch-home" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for weights in (pw.BACKBONES["alex"], pw.LPIPS_HEADS["alex"]):
        (checkpoints / weights.name).write_bytes((weights_dir / weights.name).read_bytes())
    monkeypatch.delenv(pw.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    assert LPIPSMetric("alex").availability() == (True, "")
