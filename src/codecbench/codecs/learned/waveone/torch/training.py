"""``codecbench train torch/rippel2017-waveone``: WaveOne's objective (Rippel & Bourdev 2017).

Per step: random crops, a random number of bitplanes ``k ∈ {1 … B}`` (one network serves
every rate point, so the decoder learns every truncation), ``x̂ = G(ŷ_k)``
(:mod:`.network`) and::

    L_G = λ · (255² · MSE + k_P · P) + α_t · R(y) + β · L_adv(D(x̂))

with ``R`` the adaptive codelength regulariser (:func:`codelength_regulariser`) and
``α_t`` its self-tuned weight (:class:`CodelengthWeight`,
:class:`~codecbench.codecs.learned.models.WaveOneModel`), ``P`` the perceptual term of
:func:`codecbench.codecs.learned.torch.adversarial.perceptual_distance`, D pix2pixHD's
multi-scale discriminator with the least-squares loss (after the warm-up), one D step per
G step (:meth:`~codecbench.codecs.learned.torch.adversarial.Adversary.image_step`).
``curves.csv``: ``bpp`` is the batch's empirical entropy of all ``B`` planes (per plane
and channel, no context — an upper bound of what the context coder spends), ``aux_loss``
the current ``α_t``. ``--channels W C`` overrides the width and code channels (tiny test
models). At the end the binary context table is counted on crops of the training images
and ``rippel2017-waveone.safetensors`` is written. Checkpoints (α included), exact resume,
time limit and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`); WaveOne trains from scratch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.torch import adversarial as gan
from codecbench.codecs.learned.torch import training as scaffold
from codecbench.codecs.learned.training_loop import TrainingError
from codecbench.codecs.learned.waveone import bitplanes
from codecbench.codecs.learned.waveone.torch.codecs import save_waveone
from codecbench.codecs.learned.waveone.torch.network import WaveOne

CHECKPOINT_FORMAT = "codecbench-torch-waveone-checkpoint/1"
CONTEXT_CROPS = 48
CONTEXT_CROP_SIZE = 256
SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
ALPHA_STEP = 0.01
ALPHA_INITIAL = 0.01


class CodelengthWeight(nn.Module):
    """``α_t`` of the adaptive codelength regularisation (a checkpointed buffer)."""

    alpha: torch.Tensor  # a registered buffer

    def __init__(self):
        super().__init__()
        self.register_buffer("alpha", torch.tensor(ALPHA_INITIAL, dtype=torch.float64))

    def update(self, measured_bpp: float, target_bpp: float) -> None:
        self.alpha *= (1 + ALPHA_STEP) if measured_bpp > target_bpp else (1 - ALPHA_STEP)


def codelength_regulariser(y: torch.Tensor, bits: int) -> torch.Tensor:
    """``R(y) = mean log2(y + ε) + Σ_{s∈S} mean log2(|y − y_s| + ε)``, ε = 2^−B
    (Rippel & Bourdev 2017, eq. 5: sparse codes and sparse differences to neighbours)."""
    epsilon = 2.0**-bits
    total = torch.log2(y + epsilon).mean()
    height, width = y.shape[-2:]
    for dy, dx in SHIFTS:
        a = y[..., max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)]
        b = y[..., max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
        total = total + torch.log2((a - b).abs() + epsilon).mean()
    return total


def planes_entropy_bpp(q: torch.Tensor, bits: int) -> float:
    """Σ over planes and channels of the batch's binary entropy, per image pixel."""
    batch, channels, height, width = q.shape
    total = 0.0
    for t in range(bits):
        plane = ((q >> (bits - 1 - t)) & 1).double()
        p = plane.mean(dim=(0, 2, 3)).clamp(1e-12, 1 - 1e-12)
        entropy = -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))
        total += float(entropy.sum()) * height * width
    return total / (height * width * 64)


@torch.no_grad()
def context_probabilities(network, entry: WaveOneModel, images, seed: int) -> np.ndarray:
    """The binary context table of the bitplanes, counted on deterministic crops."""
    network.eval()
    counts = binary_codes.ContextCounts(entry.bitplanes, network.code_channels)
    for crop in scaffold.counting_crops(images, seed, CONTEXT_CROPS, CONTEXT_CROP_SIZE,
                                        entry.padding_multiple):
        q = bitplanes.quantise(network.analysis(crop)[0].cpu().numpy(), entry.bitplanes)
        counts.add(bitplanes.to_planes(q, entry.bitplanes))
    return counts.probabilities()


class WaveOneTraining(scaffold.TorchTraining):
    """WaveOne's objective of the module docstring."""

    entry: WaveOneModel
    checkpoint_format = CHECKPOINT_FORMAT
    extra_keys = gan.GAN_CURVE_KEYS

    def prepare(self) -> None:
        config = self.config
        if config.quality is not None or config.lmbda is not None or config.metric != "mse":
            raise TrainingError(f"{self.codec_name} trains one network for every rate point "
                                "(bitplanes) with the model table's loss: --quality, --lambda "
                                "and --metric do not apply")
        training_options.check_patch_size(config, self.entry.padding_multiple, self.codec_name)
        self.width, self.channels = config.channels or (self.entry.width,
                                                        self.entry.code_channels)
        self.adversary = gan.Adversary(self.entry.adversarial, config, self.device)

    def checkpoint_entries(self) -> dict:
        return {"width": self.width, "code_channels": self.channels}

    def build(self) -> scaffold.Trainables:
        self.network = WaveOne(self.entry, self.width, self.channels).to(self.device)
        self.adversary.build(self.channels)
        self.weight = CodelengthWeight().to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate)
        return scaffold.Trainables(
            {"model": self.network, "discriminator": self.adversary.discriminator,
             "alpha": self.weight},
            {"optimizer": self.optimizer, "d_optimizer": self.adversary.optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        entry, adversary = self.entry, self.adversary
        planes = int(torch.randint(1, entry.bitplanes + 1, (1,), generator=self.generator))
        x_hat, y, q = self.network(batch, planes)
        mse = F.mse_loss(x_hat, batch)
        p_value = adversary.perceptual(x_hat, batch)
        regulariser = codelength_regulariser(y, entry.bitplanes)
        bpp = planes_entropy_bpp(q, entry.bitplanes)
        loss = (entry.lmbda * (255**2 * mse + adversary.settings.perceptual_weight * p_value)
                + float(self.weight.alpha) * regulariser)
        values = adversary.image_step(self.optimizer, batch, x_hat, loss, step,
                                      self.config.clip_norm)
        alpha = float(self.weight.alpha)  # the α this step used
        self.weight.update(bpp, entry.target_bpp)
        return {**values, "bpp": bpp, "distortion": mse.item(), "aux_loss": alpha,
                "perceptual": p_value.item()}

    def export(self) -> tuple[Path, dict]:
        """The context table and ``rippel2017-waveone.safetensors``."""
        entry, network = self.entry, self.network
        probabilities = context_probabilities(network, entry, self.images, self.config.seed)
        cpu_network = scaffold.loaded_on_cpu(
            WaveOne(entry, network.width, network.code_channels), network.state_dict())
        path = self.out / weights_locator.weights_filename("torch", entry.slug)
        save_waveone(cpu_network, probabilities, path,
                     {"model": entry.slug, "lambda": repr(entry.lmbda),
                      "steps": str(self.state.step), "perceptual": self.adversary.perceptual_name,
                      "codec": self.codec_name},
                     self.config.half_kernels)
        return path, {
            "width": network.width, "code_channels": network.code_channels,
            "bitplanes": entry.bitplanes, "lambda": entry.lmbda, "target_bpp": entry.target_bpp,
            "final_alpha": float(self.weight.alpha), **self.adversary.record(),
        }


def train(entry: WaveOneModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) WaveOne; see the module docstring."""
    return WaveOneTraining(entry, codec_name, config).run()
