"""Perceptual distances on pretrained networks: LPIPS and DISTS (PyTorch).

**LPIPS** (Zhang et al. 2018, "The unreasonable effectiveness of deep features as a
perceptual metric", v0.1): with ``x`` in [−1, 1] shifted and scaled per channel
(shift ``(−.030, −.088, −.188)``, scale ``(.458, .448, .450)``), features ``f_l`` of five
layers of AlexNet (relu1…relu5) or VGG-16 (relu1_2 … relu5_3) are unit-normalised along
channels, ``f̂ = f / (‖f‖₂ + 10⁻¹⁰)``, and::

    LPIPS(x, y) = Σ_l mean_{h,w} ( w_l · (f̂_l(x) − f̂_l(y))² )

with ``w_l`` the learned non-negative 1×1 "linear" layers (the ``lpips`` package's
``weights/v0.1/<net>.pth``).

**DISTS** (Ding et al. 2020, "Image quality assessment: unifying structure and texture
similarity"): VGG-16 with max pooling replaced by L2 pooling (Hanning 5×5 window, stride
2), features of the ImageNet-normalised image and of five stages (the image itself
included), and per channel ``i`` of stage ``j``::

    S1 = (2 μx μy + c)/(μx² + μy² + c),   S2 = (2 σxy + c)/(σx² + σy² + c),  c = 10⁻⁶
    DISTS(x, y) = 1 − Σ_ij (α_ij · S1_ij + β_ij · S2_ij) / Σ_ij (α_ij + β_ij)

(population statistics over the whole feature map; ``α, β`` from DISTS' ``weights.pt``).

The backbones are torchvision's architectures loaded from the files that
:mod:`codecbench.metrics.perceptual_weights` finds; nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codecbench.frameworks.devices import TORCH_DEVICE_ENV
from codecbench.metrics import perceptual_weights as pw

LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
LPIPS_LAYERS = {"alex": (2, 5, 8, 10, 12), "vgg": (4, 9, 16, 23, 30)}
"""End index (exclusive) in torchvision's ``features`` of each LPIPS layer slice."""
LPIPS_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DISTS_CHANNELS = (3, 64, 128, 256, 512, 512)
DISTS_C = 1e-6


def _load_state(path: Path) -> dict:
    from codecbench.frameworks.torch_runtime import torch_load

    state = torch_load(path)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def backbone_features(net: str, path: Path) -> nn.Sequential:
    """torchvision's ``alexnet``/``vgg16`` ``features`` with the weights in ``path``
    (a torchvision state dict; only the ``features.*`` tensors are used)."""
    import torchvision

    if net == "alex":
        features = torchvision.models.alexnet(weights=None).features
    else:  # VGG-16 (configuration "D") without its 120 M-parameter classifier
        vgg = torchvision.models.vgg
        features = vgg.make_layers(vgg.cfgs["D"], batch_norm=False)
    state = {k.removeprefix("features."): v for k, v in _load_state(path).items()
             if k.startswith("features.")}
    missing = [k for k in features.state_dict() if k not in state]
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} backbone tensors "
                         f"(e.g. features.{missing[0]})")
    features.load_state_dict(state)
    for module in features:
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return features.eval().requires_grad_(False)


class LPIPS(nn.Module):
    """LPIPS v0.1 on ``net`` (``alex`` or ``vgg``); inputs are B×3×H×W in [0, 1]."""

    shift: torch.Tensor  # registered buffers
    scale: torch.Tensor

    def __init__(self, net: str, backbone: Path, head: Path):
        super().__init__()
        features = backbone_features(net, backbone)
        bounds = (0, *LPIPS_LAYERS[net])
        self.slices = nn.ModuleList(features[a:b] for a, b in zip(bounds, bounds[1:], strict=False))
        head_state = _load_state(head)
        self.heads = nn.ParameterList(
            nn.Parameter(head_state[f"lin{i}.model.1.weight"].float(), requires_grad=False)
            for i in range(len(LPIPS_CHANNELS[net])))
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1))
        self.eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hx = ((x * 2 - 1) - self.shift) / self.scale
        hy = ((y * 2 - 1) - self.shift) / self.scale
        total: torch.Tensor | float = 0.0
        for layer, weight in zip(self.slices, self.heads, strict=True):
            hx, hy = layer(hx), layer(hy)
            nx = hx / (hx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ny = hy / (hy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + F.conv2d((nx - ny).pow(2), weight).mean((2, 3))
        return cast(torch.Tensor, total).view(-1)  # a tensor once a layer is added


class L2Pooling(nn.Module):
    """DISTS' L2 pooling: ``sqrt(conv(x², g) + 10⁻¹²)``, g the normalised outer product
    of a 5-tap Hanning window without its zero ends, stride 2, padding 1."""

    kernel: torch.Tensor  # a registered buffer

    def __init__(self, channels: int):
        super().__init__()
        window = np.hanning(5)[1:-1]
        kernel = torch.tensor(np.outer(window, window) / np.outer(window, window).sum(),
                              dtype=torch.float32)
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x.pow(2), self.kernel, stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class DISTS(nn.Module):
    """DISTS on VGG-16 with L2 pooling; inputs are B×3×H×W in [0, 1]."""

    STAGE_BOUNDS = ((0, 4), (5, 9), (10, 16), (17, 23), (24, 30))
    alpha: torch.Tensor  # registered buffers
    beta: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, backbone: Path, head: Path):
        super().__init__()
        features = backbone_features("vgg", backbone)
        stages = []
        for index, (start, end) in enumerate(self.STAGE_BOUNDS):
            layers = [] if index == 0 else [L2Pooling(DISTS_CHANNELS[index])]
            stages.append(nn.Sequential(*layers, *features[start:end]))
        self.stages = nn.ModuleList(stages)
        head_state = _load_state(head)
        self.register_buffer("alpha", head_state["alpha"].float().view(-1))
        self.register_buffer("beta", head_state["beta"].float().view(-1))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()

    def _features(self, x):
        h = (x - self.mean) / self.std
        outputs = [x]
        for stage in self.stages:
            h = stage(h)
            outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total_weight = self.alpha.sum() + self.beta.sum()
        # torch.split takes any sequence of sizes; its annotation says list[int]
        alphas = torch.split(self.alpha / total_weight, DISTS_CHANNELS)  # type: ignore[arg-type]
        betas = torch.split(self.beta / total_weight, DISTS_CHANNELS)  # type: ignore[arg-type]
        similarity: torch.Tensor | float = 0.0
        for fx, fy, alpha, beta in zip(self._features(x), self._features(y), alphas, betas,
                                       strict=True):
            mx, my = fx.mean((2, 3)), fy.mean((2, 3))
            vx = (fx - mx[..., None, None]).pow(2).mean((2, 3))
            vy = (fy - my[..., None, None]).pow(2).mean((2, 3))
            cov = (fx * fy).mean((2, 3)) - mx * my
            s1 = (2 * mx * my + DISTS_C) / (mx.pow(2) + my.pow(2) + DISTS_C)
            s2 = (2 * cov + DISTS_C) / (vx + vy + DISTS_C)
            similarity = similarity + (s1 * alpha).sum(1) + (s2 * beta).sum(1)
        return 1 - cast(torch.Tensor, similarity)  # a tensor once a stage is added


@functools.lru_cache(maxsize=4)
def lpips_network(net: str) -> LPIPS:
    """The LPIPS network on the weights found now (cached per process)."""
    return LPIPS(net, pw.require(pw.BACKBONES[net]), pw.require(pw.LPIPS_HEADS[net]))


@functools.lru_cache(maxsize=1)
def dists_network() -> DISTS:
    return DISTS(pw.require(pw.BACKBONES["vgg"]), pw.require(pw.DISTS_HEAD))


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float in [0, 1]."""
    # a copy: the harness hands metrics read-only arrays, which torch.from_numpy warns about
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255.0


def distance(network: nn.Module, reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """``network(x, y)`` of two ``H×W×3`` uint8 images, on ``CODECBENCH_TORCH_DEVICE``
    (default ``cpu``), without gradients."""
    device = os.environ.get(TORCH_DEVICE_ENV, "cpu")
    network = network.to(device)
    with torch.no_grad():
        value = network(image_tensor(reference).to(device),
                        image_tensor(reconstruction).to(device))
    return float(value.item())
