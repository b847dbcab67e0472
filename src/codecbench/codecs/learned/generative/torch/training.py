"""``codecbench train torch/agustsson2019-gc``: adversarial training of GC.

One network per rate point (``--quality q`` → ``C`` of the table). Per step: a batch of
random crops, ``x̂ = G(q(E(x)))`` (:mod:`.network`), the generator loss (Agustsson et
al. 2019)::

    L_G = λ · (255² · MSE + k_P · P) + β · L_adv(D(x̂)) + k_FM · FM

(LSGAN with pix2pixHD's multi-scale discriminator and feature matching, weights in the
model table; ``P`` as HiFiC's trainer picks it,
:func:`codecbench.codecs.learned.torch.adversarial.perceptual_distance`), then one
discriminator step (:meth:`~codecbench.codecs.learned.torch.adversarial.Adversary.image_step`).
No rate term: ``C`` fixes the rate; the ``bpp`` column of ``curves.csv`` is the
empirical entropy of the batch's symbols per channel (what a table counted on that batch
would code). The first ``warmup`` fraction of the steps trains without D.
``--channels W R`` overrides the widths (``W, 2W, 4W, 8W, 8W``) and the residual blocks
(tiny test models).

At the end the per-channel symbol table is counted on ``SYMBOL_CROPS`` crops of the
training images and ``agustsson2019-gc-q<q>.safetensors`` is written. Checkpoints, exact
resume, curves and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`); GC trains from scratch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.generative.torch.codecs import save_generative
from codecbench.codecs.learned.generative.torch.network import GenerativeCompressor
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.torch import adversarial as gan
from codecbench.codecs.learned.torch import training as scaffold
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-generative-checkpoint/1"
SYMBOL_CROPS = 48
SYMBOL_CROP_SIZE = 256


def scaled_widths(width: int) -> tuple[int, ...]:
    return (width, 2 * width, 4 * width, 8 * width, 8 * width)


def batch_entropy_bpp(symbols: torch.Tensor, alphabet: int) -> float:
    """Σ over channels of the batch's empirical symbol entropy, per image pixel."""
    batch, channels, height, width = symbols.shape
    counts = torch.stack([torch.bincount(symbols[:, c].reshape(-1), minlength=alphabet)
                          for c in range(channels)]).double()
    p = counts / counts.sum(1, keepdim=True)
    entropy = -(p * torch.log2(p.clamp_min(1e-12))).sum(1)  # bits per symbol, per channel
    return float(entropy.sum() * height * width / (height * width * 256))


@torch.no_grad()
def symbol_probabilities(network, entry: GenerativeModel, images, seed: int) -> np.ndarray:
    """The per-channel symbol table counted on ``SYMBOL_CROPS`` deterministic crops."""
    network.eval()
    counts = None
    for crop in scaffold.counting_crops(images, seed, SYMBOL_CROPS, SYMBOL_CROP_SIZE,
                                        entry.padding_multiple):
        _, symbols = network.quantise(network.analysis(crop))
        symbols = symbols[0].cpu().numpy()
        if counts is None:
            counts = categorical_codes.SymbolCounts(symbols.shape[0], entry.centres)
        counts.add(symbols)
    assert counts is not None  # SYMBOL_CROPS >= 1
    return counts.probabilities()


class GenerativeTraining(scaffold.TorchTraining):
    """GC at one rate point, as the module docstring trains it."""

    entry: GenerativeModel
    checkpoint_format = CHECKPOINT_FORMAT
    extra_keys = gan.GAN_CURVE_KEYS

    def prepare(self) -> None:
        entry, config = self.entry, self.config
        if config.quality is None:
            raise TrainingError(
                f"give the rate point (--quality {'/'.join(map(str, entry.qualities))}"
                f": C = {', '.join(map(str, entry.channels))})")
        if config.lmbda is not None or config.metric != "mse":
            raise TrainingError(f"{self.codec_name}'s rate is set by C (--quality) and its "
                                "loss by the model table; --lambda/--metric do not apply")
        training_options.check_patch_size(config, entry.padding_multiple, self.codec_name)
        self.quality = config.quality
        self.channels = entry.channels_of(config.quality)
        self.widths, self.blocks = ((scaled_widths(config.channels[0]), config.channels[1])
                                    if config.channels else (entry.widths, entry.residual_blocks))
        self.adversary = gan.Adversary(entry.adversarial, config, self.device)

    def description(self) -> str:
        return f"train {self.codec_name} C={self.channels}"

    def checkpoint_entries(self) -> dict:
        return {"channels": self.channels}

    def build(self) -> scaffold.Trainables:
        self.network = GenerativeCompressor(self.entry, self.channels, self.widths,
                                            self.blocks).to(self.device)
        self.adversary.build(self.channels)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate)
        return scaffold.Trainables(
            {"model": self.network, "discriminator": self.adversary.discriminator},
            {"optimizer": self.optimizer, "d_optimizer": self.adversary.optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        adversary = self.adversary
        x_hat, _, symbols = self.network(batch)
        mse = F.mse_loss(x_hat, batch)
        p_value = adversary.perceptual(x_hat, batch)
        loss = self.entry.lmbda * (255**2 * mse + adversary.settings.perceptual_weight * p_value)
        values = adversary.image_step(self.optimizer, batch, x_hat, loss, step,
                                      self.config.clip_norm)
        return {**values, "bpp": batch_entropy_bpp(symbols, self.entry.centres),
                "distortion": mse.item(), "aux_loss": None, "perceptual": p_value.item()}

    def export(self) -> tuple[Path, dict]:
        """The symbol table and ``agustsson2019-gc-q<q>.safetensors``."""
        entry, config, network = self.entry, self.config, self.network
        probabilities = symbol_probabilities(network, entry, self.images, config.seed)
        cpu_network = scaffold.loaded_on_cpu(
            GenerativeCompressor(entry, self.channels, self.widths, self.blocks),
            network.state_dict())
        path = self.out / weights_locator.weights_filename("torch", entry.slug, self.quality)
        metadata = {"model": entry.slug, "quality": str(self.quality),
                    "channels": str(self.channels), "lambda": repr(entry.lmbda),
                    "perceptual": self.adversary.perceptual_name, "steps": str(self.state.step),
                    "codec": self.codec_name}
        save_generative(cpu_network, probabilities, path, metadata, self.widths, self.blocks,
                        config.half_kernels)
        return path, {
            "quality": self.quality, "channels": self.channels, "centres": entry.centres,
            "bound_bpp": entry.bound_bpp(self.quality), "widths": list(self.widths),
            "residual_blocks": self.blocks, "lambda": entry.lmbda, **self.adversary.record(),
        }


def train(entry: GenerativeModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) GC at ``--quality``; see the module docstring."""
    return GenerativeTraining(entry, codec_name, config).run()
