"""``codecbench train torch/<model>``: rate–distortion training of a CompressAI model.

The objective of Ballé et al. (2017, 2018) as CompressAI trains its zoo, CompressAI's
``RateDistortionLoss``::

    L = λ · 255² · MSE(x, x̂) + R        (--metric mse)
    L = λ · (1 − MS-SSIM(x, x̂)) + R     (--metric ms-ssim)
    L = … + λ · k_P · LPIPS_VGG(x, x̂)   (--loss perceptual, after Liu et al. 2022)
    R = Σ −log2 p(ỹ) / (B · H · W)       (ỹ = y + u, u ~ U(−½, ½): noise for rounding)

Adam minimises ``L`` over the network; a second Adam fits the entropy bottleneck's
quantiles to CompressAI's auxiliary loss (at ``--aux-lr``, outside the schedule). The
crops, schedule, checkpoints (``checkpoint.pt``: model, both optimisers, step, crop
sampler and RNG states), exact resume, ``curves.csv`` and ``training.json`` are the torch
scaffold's (:mod:`codecbench.codecs.learned.torch.training`). At the last step the model's
CDFs are computed and ``<model>-q<quality>.safetensors`` (a ``CODECBENCH_TORCH_WEIGHTS``
folder as is) is written. :class:`HyperpriorTraining` is what this trainer shares with the
adversarial one (:mod:`.adversarial_training`): the rate point, ``--init-from``, the file
names, metadata and record.
"""

from __future__ import annotations

from pathlib import Path

import torch

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.hyperprior.torch import gains
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io
from codecbench.codecs.learned.models import LearnedModel
from codecbench.codecs.learned.torch.perceptual_loss import perceptual_term
from codecbench.codecs.learned.torch.training import (
    InitialWeights,
    TorchTraining,
    Trainables,
    descend,
    loaded_on_cpu,
    main_and_aux_optimizers,
)
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-checkpoint/1"


def read_weights(path: Path) -> tuple[dict, dict]:
    """A hyperprior weights file's ``(state_dict, metadata)``."""
    source, metadata = weights_io.load_model(path)
    return source.state_dict(), metadata


INITIAL_WEIGHTS = InitialWeights(read_weights, CHECKPOINT_FORMAT, lineage=("lambda",),
                                 checkpoint_lineage=("lambda",),
                                 accepted="a weights file nor a training checkpoint")
"""Fine-tuning starts from hyperprior weights or a rate–distortion run's checkpoint."""


class HyperpriorTraining(TorchTraining):
    """A λ-trained hyperprior: its rate point (λ, ``N``, ``M``), file names, metadata, record."""

    entry: LearnedModel
    initial_weights = INITIAL_WEIGHTS
    libraries = ("torch", "compressai")
    rate_points = 0
    """Gain units for this many rate points (``0``: a network of one rate point)."""

    def settle_rate_point(self) -> None:
        """λ (``--lambda`` or the table's of ``--quality``) and the channels of the run."""
        self.lmbda = training_options.lambda_of_run(self.entry, self.config)
        self.N, self.M = self.config.channels or (self.entry.N, self.entry.M)

    def description(self) -> str:
        return f"train {self.codec_name} λ={self.lmbda:g}"

    def checkpoint_entries(self) -> dict:
        return {"lambda": self.lmbda, "N": self.N, "M": self.M}

    def weights_path(self, slug: str) -> Path:
        """``<slug>-q<quality>.safetensors``, or ``<slug>-lambda<λ>.safetensors`` without one."""
        return self.out / weights_locator.weights_filename("torch", slug,
                                                           self.config.quality, self.lmbda)

    def exported_model(self, state_dict: dict, decoder_N: int = 0):
        """The table's architecture on the CPU holding ``state_dict``."""
        return loaded_on_cpu(weights_io.build_model(self.entry.compressai_class, self.N,
                                                    self.M, decoder_N, self.rate_points),
                             state_dict)

    def metadata(self) -> dict[str, str]:
        return training_options.rate_point_metadata(self.entry, self.codec_name, self.config,
                                                    self.lmbda, self.N, self.M, self.state.step)

    def details(self) -> dict:
        return training_options.rate_point_record(self.config, self.lmbda, self.N, self.M)


class RateDistortionTraining(HyperpriorTraining):
    """The rate–distortion objective of the module docstring (``--loss perceptual``: plus
    ``λ · k_P · LPIPS_VGG(x, x̂)``, :mod:`codecbench.codecs.learned.torch.perceptual_loss`)."""

    checkpoint_format = CHECKPOINT_FORMAT
    perceptual_loss = True

    def prepare(self) -> None:
        from compressai.losses import RateDistortionLoss

        training_options.refuse_gan_options(self.config, self.codec_name)
        training_options.check_patch_size(self.config, self.entry.padding_multiple,
                                          self.codec_name)
        self.settle_rate_point()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed patch size: pick the fastest kernels
        self.criterion = RateDistortionLoss(lmbda=self.lmbda, metric=self.config.metric)
        self.distortion_key = "mse_loss" if self.config.metric == "mse" else "ms_ssim_loss"
        self.perceptual = perceptual_term(self.config, self.device)
        if self.perceptual is not None:
            self.extra_keys = ("perceptual",)

    def build(self) -> Trainables:
        self.model = weights_io.build_model(self.entry.compressai_class, self.N, self.M,
                                            rate_points=self.rate_points).to(self.device)
        self.optimizer, self.aux_optimizer = main_and_aux_optimizers(self.model, self.config)
        return Trainables({"model": self.model}, {"optimizer": self.optimizer},
                          {"aux_optimizer": self.aux_optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        output = self.model(batch)
        losses = self.criterion(output, batch)
        loss, extra = losses["loss"], {}
        if self.perceptual is not None:
            term = self.perceptual(output["x_hat"], batch)
            loss = loss + self.criterion.lmbda * term
            extra["perceptual"] = term.item()
        descend(self.optimizer, loss, self.config.clip_norm)
        aux_loss = self.model.aux_loss()
        descend(self.aux_optimizer, aux_loss)
        return {"loss": loss.item(), "bpp": losses["bpp_loss"].item(),
                "distortion": losses[self.distortion_key].item(), "aux_loss": aux_loss.item(),
                **extra}

    def export(self) -> tuple[Path, dict]:
        """The weights file (CDFs included)."""
        path = self.weights_path(self.entry.slug)
        weights_io.save_model(self.exported_model(self.model.state_dict()), path,
                              self.metadata(), half_kernels=self.config.half_kernels)
        return path, self.details()


class VariableRateTraining(RateDistortionTraining):
    """``--variable-rate``: one network with gain units for every rate point (Cui et al. 2021,
    :mod:`.gains`).

    Each step draws a rate point ``q`` uniformly (from the crop sampler's generator, so a
    resumed run draws the same ones) and minimises its Lagrangian
    ``λ_q·255²·MSE + R`` (or ``λ_q·(1 − MS-SSIM) + R``) with the gains of ``q``; the export is
    one ``<slug>.safetensors`` with ``rate_points`` = ``Q`` and the λ ladder in its metadata.
    """

    variable_rate = True

    def settle_rate_point(self) -> None:
        if self.config.quality is not None or self.config.lmbda is not None:
            raise TrainingError("--variable-rate trains every rate point of the model table "
                                "at once: --quality and --lambda do not apply")
        self.lambdas = tuple(self.entry.lambdas)
        self.rate_points = len(self.lambdas)
        self.lmbda = self.lambdas[-1]  # the criterion's λ until the first step sets one
        self.N, self.M = self.config.channels or (self.entry.N, self.entry.M)

    def description(self) -> str:
        return f"train {self.codec_name} λ={self.lambdas[0]:g}…{self.lambdas[-1]:g}"

    def checkpoint_entries(self) -> dict:
        return {"lambdas": list(self.lambdas), "N": self.N, "M": self.M}

    def weights_path(self, slug: str) -> Path:
        return self.out / weights_locator.weights_filename("torch", slug)

    def build(self) -> Trainables:
        trainables = super().build()
        units = gains.gain_units(self.model)
        assert units is not None  # built with rate_points
        self.units = units
        return trainables

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        quality = int(torch.randint(1, len(self.lambdas) + 1, (1,), generator=self.generator))
        self.units.select(quality)
        self.criterion.lmbda = self.lambdas[quality - 1]
        return super().train_step(step, batch)

    def metadata(self) -> dict[str, str]:
        metadata = training_options.rate_point_metadata(
            self.entry, self.codec_name, self.config, self.lmbda, self.N, self.M,
            self.state.step)
        return {**metadata, "lambda": ",".join(repr(lmbda) for lmbda in self.lambdas),
                "rate_points": str(len(self.lambdas))}

    def details(self) -> dict:
        return {"lambdas": list(self.lambdas), "variable_rate": "gain units (Cui et al. 2021)",
                "metric": self.config.metric, "N": self.N, "M": self.M}


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) ``entry`` as configured; see the module docstring."""
    trainer = VariableRateTraining if config.variable_rate else RateDistortionTraining
    return trainer(entry, codec_name, config).run()
