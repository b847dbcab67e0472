"""Discriminators and adversarial losses of the GAN-family codecs (training only).

* :class:`ConditionalDiscriminator` — HiFiC's (Mentzer et al. 2020): the quantised latent
  ``ŷ`` is mapped by a 1×1 convolution to 12 channels, upsampled (nearest) to the image
  size and concatenated with the image; then strided 4×4 convolutions with spectral
  normalisation (Miyato et al. 2018) and LeakyReLU(0.2), and a 1×1 convolution to one
  logit per patch.
* :class:`MultiScaleDiscriminator` — pix2pixHD's (Wang et al. 2018), used by Agustsson
  et al. 2019: the same PatchGAN on the image at scales 1, ½ and ¼ (3×3 average
  pooling, stride 2, between scales), each returning its intermediate features for
  feature matching.

:func:`discriminator_loss` and :func:`generator_loss` implement the two losses of
:class:`~codecbench.codecs.learned.models.Adversarial` (formulas there), averaged over
output maps and scales.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LATENT_EMBEDDING = 12
"""Channels the conditional discriminator maps ``ŷ`` to (HiFiC: 12)."""


def _patch_layers(in_channels: int, widths, normalise: bool) -> nn.ModuleList:
    layers: list[nn.Module]
    layers, channels = [], in_channels
    for index, width in enumerate(widths):
        stride = 2 if index < len(widths) - 1 else 1
        conv = nn.Conv2d(channels, width, 4, stride=stride, padding=1 if stride == 2 else 2)
        block: list[nn.Module] = [spectral_norm(conv)] if not normalise else [conv]
        if normalise and index > 0:
            block.append(nn.InstanceNorm2d(width))
        block.append(nn.LeakyReLU(0.2))
        layers.append(nn.Sequential(*block))
        channels = width
    layers.append(nn.Conv2d(channels, 1, 1))
    return nn.ModuleList(layers)


class ConditionalDiscriminator(nn.Module):
    """HiFiC's latent-conditioned PatchGAN: ``D(x, ŷ)`` → logits (B×1×h×w)."""

    def __init__(self, latent_channels: int, widths=(32, 64, 128, 256)):
        super().__init__()
        self.embed = nn.Sequential(nn.Conv2d(latent_channels, LATENT_EMBEDDING, 1),
                                   nn.LeakyReLU(0.2))
        self.layers = _patch_layers(3 + LATENT_EMBEDDING, widths, normalise=False)

    def forward(self, image: torch.Tensor, latent: torch.Tensor):
        condition = F.interpolate(self.embed(latent), size=image.shape[-2:], mode="nearest")
        h = torch.cat([image * 2 - 1, condition], dim=1)
        features = []
        for layer in self.layers:
            h = layer(h)
            features.append(h)
        return [(features[:-1], features[-1])]


class MultiScaleDiscriminator(nn.Module):
    """pix2pixHD's three PatchGANs on the image at scales 1, ½, ¼: ``D(x)`` → one
    ``(features, logits)`` pair per scale."""

    def __init__(self, widths=(32, 64, 128, 256), scales: int = 3):
        super().__init__()
        self.scales = nn.ModuleList(_patch_layers(3, widths, normalise=True)
                                    for _ in range(scales))

    def forward(self, image: torch.Tensor, latent: torch.Tensor | None = None):
        outputs, h_image = [], image * 2 - 1
        for index, layers in enumerate(self.scales):
            if index:
                h_image = F.avg_pool2d(h_image, 3, stride=2, padding=1,
                                       count_include_pad=False)
            h, features = h_image, []
            for layer in cast(nn.ModuleList, layers):  # each scale is a ModuleList
                h = layer(h)
                features.append(h)
            outputs.append((features[:-1], features[-1]))
        return outputs


def build_discriminator(adversarial, latent_channels: int) -> nn.Module:
    """The discriminator an :class:`~codecbench.codecs.learned.models.Adversarial` names."""
    if adversarial.discriminator == "conditional":
        return ConditionalDiscriminator(latent_channels, adversarial.widths)
    return MultiScaleDiscriminator(adversarial.widths)


def discriminator_loss(kind: str, real, fake) -> torch.Tensor:
    """``L_D`` over every scale: real and fake are D's outputs (lists of pairs)."""
    total: torch.Tensor | float = 0.0
    for (_, real_logits), (_, fake_logits) in zip(real, fake, strict=True):
        if kind == "non-saturating":
            total = total + F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        else:
            total = total + (real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean()
    return cast(torch.Tensor, total / len(real))  # a tensor once a scale is added


def generator_loss(kind: str, fake) -> torch.Tensor:
    """``L_adv`` of the generator over every scale."""
    total: torch.Tensor | float = 0.0
    for _, logits in fake:
        total = total + (F.softplus(-logits).mean() if kind == "non-saturating"
                         else (logits - 1).pow(2).mean())
    return cast(torch.Tensor, total / len(fake))  # a tensor once a scale is added


def feature_matching(real, fake) -> torch.Tensor:
    """Mean L1 distance between D's intermediate features of real and generated images."""
    distances = [(f - r.detach()).abs().mean()
                 for (real_features, _), (fake_features, _) in zip(real, fake, strict=True)
                 for r, f in zip(real_features, fake_features, strict=True)]
    return sum(distances) / len(distances)


def real_vs_fake_accuracy(kind: str, real, fake) -> float:
    """Share of D's patch decisions that are right (real > threshold ≥ fake), the
    threshold being 0 for logits (non-saturating) and ½ for least squares."""
    threshold = 0.0 if kind == "non-saturating" else 0.5
    right = total = 0
    for (_, real_logits), (_, fake_logits) in zip(real, fake, strict=True):
        right += int((real_logits > threshold).sum()) + int((fake_logits <= threshold).sum())
        total += real_logits.numel() + fake_logits.numel()
    return right / total
