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

The steps every GAN-family trainer takes with them (HiFiC, Mentzer et al. 2020; GC,
Agustsson et al. 2019; WaveOne, Rippel & Bourdev 2017), one D step after each G step::

    L_G = L_rec + β · L_adv(D(x̂)) + k_FM · FM(D(x), D(x̂))    (D's weights frozen)
    L_D = L_D(D(x), D(x̂))                                     (x̂ detached)

with ``L_rec`` the family's reconstruction (and rate) loss, which during the first
``warmup`` fraction of the steps is the whole of ``L_G`` (D not trained);
:func:`perceptual_distance` is the ``P`` of ``L_rec = λ · (255² · MSE + k_P · P)``.
:class:`Adversary` holds that side of a run: D, its optimiser, ``P`` and the warm-up.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from codecbench.api.training import TrainingConfig
from codecbench.codecs.learned.torch.training import descend
from codecbench.codecs.learned.training_loop import TrainingError
from codecbench.codecs.learned.training_options import (
    MS_SSIM_MIN_PATCH,
    adversarial_warmup_steps,
)

LATENT_EMBEDDING = 12
"""Channels the conditional discriminator maps ``ŷ`` to (HiFiC: 12)."""
GAN_CURVE_KEYS = ("d_loss", "g_adv", "perceptual", "d_accuracy", "distill")
"""The ``curves.csv`` columns of a GAN-family run (empty where a term is not computed)."""


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


def perceptual_distance(device: torch.device, patch_size: int):
    """``(name, P)``: LPIPS-AlexNet when its weights are present, else ``1 − MS-SSIM``."""
    from codecbench.metrics import perceptual_weights as pw

    if not pw.missing_reason([pw.BACKBONES["alex"], pw.LPIPS_HEADS["alex"]]):
        from codecbench.metrics.torch.networks import lpips_network

        network = lpips_network("alex").to(device)
        return "lpips-alex", lambda x_hat, x: network(x_hat, x).mean()
    if patch_size < MS_SSIM_MIN_PATCH:
        raise TrainingError(
            f"the perceptual term 1 − MS-SSIM (LPIPS weights absent) needs --patch-size "
            f"≥ {MS_SSIM_MIN_PATCH}, got {patch_size}")
    from pytorch_msssim import ms_ssim

    return "1-ms-ssim", lambda x_hat, x: 1 - ms_ssim(x_hat, x, data_range=1.0)


def discriminator_optimizer(discriminator: nn.Module, config: TrainingConfig):
    """Adam with β₁ = 0.5, as GAN training usually does (Radford et al. 2016)."""
    return torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate,
                            betas=(0.5, 0.999))


class Adversary:
    """The adversarial side of a GAN-family run: the model table's
    :class:`~codecbench.codecs.learned.models.Adversarial` ``settings``, the perceptual
    term ``P`` (:func:`perceptual_distance`, chosen before the seeded networks are built),
    the warm-up, and, once :meth:`build` is called, D and its optimiser."""

    def __init__(self, settings, config: TrainingConfig, device: torch.device):
        self.settings, self.config, self.device = settings, config, device
        self.perceptual_name, self.perceptual = perceptual_distance(device, config.patch_size)
        self.warmup_steps = adversarial_warmup_steps(config, settings)

    def build(self, latent_channels: int) -> None:
        """D (its initial weights drawn from torch's RNG) and D's optimiser."""
        self.discriminator = build_discriminator(self.settings, latent_channels).to(self.device)
        self.optimizer = discriminator_optimizer(self.discriminator, self.config)

    def active(self, step: int) -> bool:
        """Whether step ``step`` is past the warm-up (adversarial term and D step on)."""
        return step >= self.warmup_steps

    def record(self) -> dict:
        """The ``training.json`` entries of the adversarial side."""
        return {"perceptual": self.perceptual_name, "adversarial": vars(self.settings)}

    def generator_terms(self, real_images, fake_images, condition):
        """``(L_adv, β·L_adv + k_FM·FM)`` of the generator (D's weights frozen meanwhile)."""
        settings, discriminator = self.settings, self.discriminator
        discriminator.requires_grad_(False)
        try:
            fake = discriminator(fake_images, condition)
            g_adv = generator_loss(settings.loss, fake)
            total = settings.weight * g_adv
            if settings.feature_matching:
                real = discriminator(real_images, condition)
                total = total + settings.feature_matching * feature_matching(real, fake)
        finally:
            discriminator.requires_grad_(True)
        return g_adv, total

    def discriminator_step(self, real_images, fake_images, condition) -> tuple[float, float]:
        """One step on ``L_D``; returns it and D's real-vs-fake accuracy on the batch."""
        real = self.discriminator(real_images, condition)
        fake = self.discriminator(fake_images.detach(), condition)
        d_value = discriminator_loss(self.settings.loss, real, fake)
        descend(self.optimizer, d_value)
        return d_value.item(), real_vs_fake_accuracy(self.settings.loss, real, fake)

    def image_step(self, optimizer, batch, x_hat, loss, step: int, clip_norm: float) -> dict:
        """One generator step on ``loss`` (plus the adversarial terms once :meth:`active`)
        and one step of the unconditional D; returns the curve values (``nan`` where not
        computed)."""
        g_adv = d_loss = accuracy = math.nan
        adversarial_on = self.active(step)
        if adversarial_on:
            g_value, extra = self.generator_terms(batch, x_hat, None)
            loss = loss + extra
            g_adv = g_value.item()
        descend(optimizer, loss, clip_norm)
        if adversarial_on:
            d_loss, accuracy = self.discriminator_step(batch, x_hat, None)
        return {"loss": loss.item(), "g_adv": g_adv, "d_loss": d_loss, "d_accuracy": accuracy,
                "distill": math.nan}
