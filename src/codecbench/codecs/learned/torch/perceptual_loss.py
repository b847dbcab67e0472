"""The perceptual term of ``codecbench train --loss perceptual`` (imports torch).

After Liu et al. 2022 ("a rate–distortion loss based on a perception metric in learned
image compression", Signal, Image and Video Processing), a perception metric joins the
distortion of the rate–distortion loss, with the multiplier of the family's 255²·MSE
term (λ for the λ-trained models)::

    L = λ · (255² · MSE(x, x̂) + k_P · LPIPS_VGG(x, x̂)) + R

LPIPS v0.1 on VGG-16 (Zhang et al. 2018; codecbench's own network,
:mod:`codecbench.metrics.torch.networks`) stands for the paper's perception metric, on the
ImageNet weights the ``lpips-vgg`` metric finds (never downloaded); without them the run
is refused rather than trained on a substitute. The network is frozen: gradients flow
through it to ``x̂`` only. ``k_P`` is ``--perceptual-weight``.
"""

from __future__ import annotations

import torch

from codecbench.api.training import TrainingConfig
from codecbench.codecs.learned.training_loop import TrainingError
from codecbench.codecs.learned.training_options import PERCEPTUAL_METRIC

NETWORK = PERCEPTUAL_METRIC.removeprefix("lpips-")
"""The LPIPS trunk (``vgg``)."""


class PerceptualTerm:
    """``k_P · mean over the batch of LPIPS_VGG(x̂, x)``, on the run's device."""

    def __init__(self, weight: float, device: torch.device):
        from codecbench.metrics import perceptual_weights as pw

        missing = pw.missing_reason([pw.BACKBONES[NETWORK], pw.LPIPS_HEADS[NETWORK]])
        if missing:
            raise TrainingError(f"--loss perceptual needs the {PERCEPTUAL_METRIC} network: {missing}")
        from codecbench.metrics.torch.networks import LPIPS

        self.weight = weight
        self.network = LPIPS(NETWORK, pw.require(pw.BACKBONES[NETWORK]),
                             pw.require(pw.LPIPS_HEADS[NETWORK])).to(device)
        self.network.requires_grad_(False)

    def per_image(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``k_P · LPIPS`` of each image of the batch (``B``, with gradients to ``x_hat``)."""
        return self.weight * self.network(x_hat, x)

    def __call__(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The batch mean of :meth:`per_image`."""
        return self.per_image(x_hat, x).mean()


def perceptual_term(config: TrainingConfig, device: torch.device) -> PerceptualTerm | None:
    """The run's perceptual term, or ``None`` for the plain rate–distortion loss."""
    if config.loss != "perceptual":
        return None
    return PerceptualTerm(config.perceptual_weight, device)

