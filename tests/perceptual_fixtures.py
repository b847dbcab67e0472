"""Randomly initialised perceptual-network weights saved under the names the plugins
look for (codecbench never downloads the ImageNet weights), and the fixtures that point
the plugins at them."""

from __future__ import annotations

from pathlib import Path

import pytest


def random_backbone(net: str, seed: int) -> dict:
    """torchvision's ``features`` of AlexNet or VGG-16, random, as a state dict."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    vgg = torchvision.models.vgg
    features = (torchvision.models.alexnet(weights=None).features if net == "alex"
                else vgg.make_layers(vgg.cfgs["D"]))
    return {f"features.{k}": v for k, v in features.state_dict().items()}


def write_random_perceptual_weights(folder: Path, nets=("alex", "vgg")) -> Path:
    """Backbones, LPIPS heads and DISTS α/β in ``folder``; returns it."""
    import torch

    from codecbench.metrics import perceptual_weights as pw
    from codecbench.metrics.torch import networks as perceptual

    generator = torch.Generator().manual_seed(3)
    for net in nets:
        torch.save(random_backbone(net, seed=1 if net == "alex" else 2),
                   folder / pw.BACKBONES[net].name)
        head = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator)
                for i, c in enumerate(perceptual.LPIPS_CHANNELS[net])}
        torch.save(head, folder / pw.LPIPS_HEADS[net].name)
    if "vgg" in nets:
        total = sum(perceptual.DISTS_CHANNELS)
        torch.save({"alpha": 0.1 + 0.01 * torch.randn(1, total, 1, 1, generator=generator),
                    "beta": 0.1 + 0.01 * torch.randn(1, total, 1, 1, generator=generator)},
                   folder / pw.DISTS_HEAD.name)
    return folder


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A folder of random LPIPS/DISTS weights, made once per test module."""
    return write_random_perceptual_weights(tmp_path_factory.mktemp("perceptual-weights"))


@pytest.fixture
def with_weights(weights_dir, monkeypatch, tmp_path):
    """The perceptual plugins find the random weights (and no torch.hub cache, on the CPU);
    their cached networks are rebuilt before and after the test."""
    from codecbench.metrics import perceptual_weights as pw
    from codecbench.metrics.torch import networks as perceptual

    monkeypatch.setenv(pw.WEIGHTS_ENV, str(weights_dir))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("CODECBENCH_TORCH_DEVICE", raising=False)
    perceptual.lpips_network.cache_clear()
    perceptual.dists_network.cache_clear()
    yield weights_dir
    perceptual.lpips_network.cache_clear()
    perceptual.dists_network.cache_clear()
