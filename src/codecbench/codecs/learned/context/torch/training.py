"""``codecbench train torch/mentzer2018-context``: the objective of Mentzer et al. (2018).

One network for every rate point. Per step: random crops, a channel budget ``K_q`` per
crop drawn uniformly from the table's budgets, ``x̂ = D(ẑ · m)`` (:mod:`.network`), the
context model's cross-entropy of the kept symbols in bits per pixel::

    H = Σ_{k,i,j} m_k(i,j) · −log2 P(s_k(i,j) | slices < k, m) / (pixels)

and the loss of the paper (eq. 7), with a target that scales with the budget::

    L = d(x, x̂) + β · max(H − H_t · K_q / K, 0) + H    (--loss perceptual: + k_P · LPIPS_VGG)

``d = 255² · MSE`` (``--metric ms-ssim``: ``ms_ssim_weight · (1 − MS-SSIM)``; the paper
trains on MS-SSIM), ``β``, ``H_t`` (``target_bpp``) from the model table. The last
``+ H`` term trains ``P`` at every step (the hinge has no gradient below the target);
it reaches the encoder too, with weight 1 next to ``d`` (≈ 100 at 28 dB), a much
weaker rate pressure than the hinge's ``β``. ``curves.csv``: ``bpp`` is ``H``
(the importance map's own cost excluded), ``distortion`` the MSE (or ``1 − MS-SSIM``),
``mask_fraction`` the share of kept symbols. ``--channels W K`` overrides the width and
the code channels (tiny test models; budgets scale with ``K``). At the end the
importance levels' table (one row per rate point) is counted on crops of the training
images and ``mentzer2018-context.safetensors`` is written. Checkpoints, exact resume,
time limit and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`); the model trains from scratch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.context import volume
from codecbench.codecs.learned.context.torch.codecs import save_network
from codecbench.codecs.learned.context.torch.network import ConditionalNetwork
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.models import ConditionalModel
from codecbench.codecs.learned.torch import training as scaffold
from codecbench.codecs.learned.torch.perceptual_loss import perceptual_term
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-conditional-checkpoint/1"
IMPORTANCE_CROPS = 48
IMPORTANCE_CROP_SIZE = 256


def symbol_bits(logits: torch.Tensor, symbols: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``Σ m · −log2 P(s)`` per crop (``N``) of ``N × L × K × h × w`` logits."""
    nats = F.cross_entropy(logits, symbols, reduction="none")
    return (nats * mask).flatten(1).sum(1) / math.log(2)


def distortion_term(metric: str, entry: ConditionalModel):
    """``(weight, d(x̂, x))`` of ``--metric``."""
    if metric == "mse":
        return 255.0**2, F.mse_loss
    from pytorch_msssim import ms_ssim

    return entry.ms_ssim_weight, lambda x_hat, x: 1 - ms_ssim(x_hat, x, data_range=1.0)


@torch.no_grad()
def importance_probabilities(network, entry: ConditionalModel, images, seed: int) -> np.ndarray:
    """The importance levels' table (rate points × (K + 1)), counted on crops."""
    network.eval()
    channels = network.code_channels
    counts = categorical_codes.SymbolCounts(len(entry.qualities), channels + 1)
    for crop in scaffold.counting_crops(images, seed, IMPORTANCE_CROPS, IMPORTANCE_CROP_SIZE,
                                        entry.padding_multiple):
        _, y = network.analysis(crop)
        y = y[0].cpu().numpy()
        counts.add(np.stack([volume.levels(y, entry.budget_of(q, channels))
                             for q in entry.qualities]))
    return counts.probabilities()


class ConditionalTraining(scaffold.TorchTraining):
    """The objective of the module docstring."""

    entry: ConditionalModel
    checkpoint_format = CHECKPOINT_FORMAT
    extra_keys: tuple[str, ...] = ("mask_fraction",)
    perceptual_loss = True

    def prepare(self) -> None:
        config = self.config
        if config.quality is not None or config.lmbda is not None:
            raise TrainingError(f"{self.codec_name} trains one network for every rate point "
                                "(channel budgets) with the model table's targets: --quality "
                                "and --lambda do not apply")
        training_options.refuse_gan_options(config, self.codec_name)
        training_options.check_patch_size(config, self.entry.padding_multiple, self.codec_name)
        self.width, self.channels = config.channels or (self.entry.width,
                                                        self.entry.code_channels)
        self.budgets = torch.tensor([self.entry.budget_of(q, self.channels)
                                     for q in self.entry.qualities], dtype=torch.float32)
        self.weight, self.distortion = distortion_term(config.metric, self.entry)
        self.perceptual = perceptual_term(config, self.device)
        if self.perceptual is not None:
            self.extra_keys = (*self.extra_keys, "perceptual")

    def description(self) -> str:
        return f"train {self.codec_name} K={self.channels}"

    def checkpoint_entries(self) -> dict:
        return {"width": self.width, "code_channels": self.channels}

    def build(self) -> scaffold.Trainables:
        self.network = ConditionalNetwork(self.entry, self.width, self.channels).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate)
        return scaffold.Trainables({"model": self.network}, {"optimizer": self.optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        entry = self.entry
        picks = torch.randint(len(self.budgets), (len(batch),), generator=self.generator)
        budget = self.budgets[picks].to(self.device)
        x_hat, logits, symbols, mask = self.network(batch, budget)
        pixels = batch.shape[-2] * batch.shape[-1]
        bpp = symbol_bits(logits, symbols, mask) / pixels
        target = entry.target_bpp * budget / self.channels
        distortion = self.distortion(x_hat, batch)
        loss = (self.weight * distortion + entry.beta * F.relu(bpp - target).mean()
                + bpp.mean())
        extra = {}
        if self.perceptual is not None:  # d = 255²·MSE enters with weight 1: so does k_P·P
            term = self.perceptual(x_hat, batch)
            loss = loss + term
            extra["perceptual"] = term.item()
        scaffold.descend(self.optimizer, loss, self.config.clip_norm)
        return {"loss": loss.item(), "bpp": bpp.mean().item(), "distortion": distortion.item(),
                "aux_loss": None, "mask_fraction": mask.mean().item(), **extra}

    def export(self) -> tuple[Path, dict]:
        """The importance table and ``mentzer2018-context.safetensors``."""
        entry, network = self.entry, self.network
        importance = importance_probabilities(network, entry, self.images, self.config.seed)
        cpu_network = scaffold.loaded_on_cpu(
            ConditionalNetwork(entry, network.width, network.code_channels,
                               network.residual_blocks), network.state_dict())
        path = self.out / weights_locator.weights_filename("torch", entry.slug)
        save_network(cpu_network, importance, path,
                     {"model": entry.slug, "metric": self.config.metric,
                      **training_options.loss_metadata(self.config),
                      "target_bpp": repr(entry.target_bpp), "beta": repr(entry.beta),
                      "steps": str(self.state.step), "codec": self.codec_name},
                     self.config.half_kernels)
        return path, {
            "width": network.width, "code_channels": network.code_channels,
            "residual_blocks": network.residual_blocks, "centres": entry.centres,
            "budgets": [int(b) for b in self.budgets], "target_bpp": entry.target_bpp,
            "beta": entry.beta, "metric": self.config.metric,
            "learned_centres": [round(c, 4) for c in cpu_network.state_dict()["centres"].tolist()],
        }


def train(entry: ConditionalModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) the model; see the module docstring."""
    return ConditionalTraining(entry, codec_name, config).run()
