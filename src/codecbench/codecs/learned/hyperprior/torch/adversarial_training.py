"""``codecbench train torch/hific`` and ``torch/hific-omgd``: adversarial training.

**HiFiC** (Mentzer et al. 2020). The generator is the mean-scale hyperprior of the CNN
family (CompressAI's ``MeanScaleHyperprior``); the decoder sees the latent rounded with
a straight-through gradient, ``ŷ = ⌊y − μ⌉ + μ`` (what the codec decodes), while the
rate uses CompressAI's additive-noise likelihoods. Losses (the model table's
:class:`~codecbench.codecs.learned.models.Adversarial` states the formulas and weights)::

    L_G = R + λ · (255² · MSE + k_P · P) + β · L_adv(D(x̂, ŷ))
    L_D = L_D(D(x, ŷ), D(x̂, ŷ))           (ŷ and x̂ detached)

with D the latent-conditioned discriminator of
:mod:`codecbench.codecs.learned.torch.adversarial`, one D step after each G
step. For the first ``warmup`` fraction of the steps β = 0 and D is not trained (HiFiC
initialises from a rate–distortion model). ``P`` is LPIPS (AlexNet) when its pretrained
weights are found (:mod:`codecbench.metrics.perceptual_weights`), otherwise
``1 − MS-SSIM`` (``pytorch_msssim``, five scales: patches ≥ 161 px); ``training.json``
and the weights' metadata record which.

**OMGD** (Ren et al. 2021, online multi-granularity distillation), applied to HiFiC:
the run trains the HiFiC teacher as above and, online, a student synthesis transform
``g_s'`` of width ``decoder_N`` that decodes the teacher's ``ŷ`` (detached). The student
never sees the ground truth or D; it minimises::

    L_S = ‖x̂_S − x̂_T‖₁ + (1 − MS-SSIM(x̂_S, x̂_T)) + Σ_l ‖A_l(f_l^S) − f_l^T‖²

(output-level and intermediate-feature distillation; ``f_l`` the outputs of the three
inverse-GDN layers, ``A_l`` learned 1×1 convolutions to the teacher's width, dropped at
export). The exported codec is the teacher's encoder and entropy models with the
student's decoder; the teacher is exported too (``<slug>-teacher-q<q>.safetensors``) so
its cost and quality can be compared.

The crops, schedule, checkpoints (G, D, the student, all optimisers and RNG states: exact
resume), ``curves.csv`` and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`), the rate point, ``--init-from``, file
names and metadata the rate–distortion trainer's (:class:`.training.HyperpriorTraining`),
the D step and the adversarial terms shared with the other GAN families
(:mod:`codecbench.codecs.learned.torch.adversarial`); ``curves.csv`` gets the extra columns
``d_loss``, ``g_adv``, ``perceptual``, ``d_accuracy`` and ``distill``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options
from codecbench.codecs.learned.hyperprior.torch import weights as weights_io
from codecbench.codecs.learned.hyperprior.torch.training import HyperpriorTraining
from codecbench.codecs.learned.models import LearnedModel
from codecbench.codecs.learned.torch import adversarial as gan
from codecbench.codecs.learned.torch.training import Trainables, descend, main_and_aux_optimizers
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-gan-checkpoint/1"
STUDENT_FEATURE_LAYERS = (1, 3, 5)
"""Indices in ``g_s`` of the inverse-GDN outputs distilled (one per upsampling stage)."""


def synthesis_with_features(g_s: nn.Sequential, y_hat: torch.Tensor):
    """``g_s(ŷ)`` and the outputs of its layers :data:`STUDENT_FEATURE_LAYERS`."""
    features, h = [], y_hat
    for index, layer in enumerate(g_s):
        h = layer(h)
        if index in STUDENT_FEATURE_LAYERS:
            features.append(h)
    return h, features


def hyperprior_forward(model, x: torch.Tensor):
    """Mean-scale hyperprior forward pass for GAN training: ``(x̂, bpp, ŷ, features)``.

    Rate from CompressAI's noisy likelihoods; the decoder input rounded with a
    straight-through gradient (Mentzer et al. 2020; Minnen & Singh 2020).
    """
    y = model.g_a(x)
    z = model.h_a(y)
    z_hat, z_likelihoods = model.entropy_bottleneck(z)
    scales, means = model.h_s(z_hat).chunk(2, 1)
    _, y_likelihoods = model.gaussian_conditional(y, scales, means=means)
    centred = y - means
    y_hat = centred + (torch.round(centred) - centred).detach() + means
    x_hat, features = synthesis_with_features(model.g_s, y_hat)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bits = -(torch.log2(y_likelihoods).sum() + torch.log2(z_likelihoods).sum())
    return x_hat, bits / pixels, y_hat, features


class Student(nn.Module):
    """OMGD's student decoder and the 1×1 adapters of its features (training only)."""

    def __init__(self, M: int, N: int, student_N: int):
        super().__init__()
        self.g_s = weights_io.synthesis_transform(M, student_N)
        self.adapters = nn.ModuleList(nn.Conv2d(student_N, N, 1)
                                      for _ in STUDENT_FEATURE_LAYERS)

    def distillation_loss(self, y_hat, teacher_x_hat, teacher_features):
        from pytorch_msssim import ms_ssim

        x_s, features = synthesis_with_features(self.g_s, y_hat.detach())
        target = teacher_x_hat.detach()
        loss = F.l1_loss(x_s, target)
        if min(target.shape[-2:]) >= training_options.MS_SSIM_MIN_PATCH:
            loss = loss + 1 - ms_ssim(x_s.clamp(0, 1), target.clamp(0, 1), data_range=1.0)
        for adapter, f_s, f_t in zip(self.adapters, features, teacher_features, strict=True):
            loss = loss + F.mse_loss(adapter(f_s), f_t.detach())
        return loss


def student_width(entry: LearnedModel, N: int) -> int:
    """The student's width, scaled with ``--channels`` (the table's ratio decoder_N / N)."""
    return max(2, round(N * entry.decoder_N / entry.N))


class AdversarialTraining(HyperpriorTraining):
    """HiFiC (and OMGD's student) as the module docstring trains them."""

    checkpoint_format = CHECKPOINT_FORMAT
    extra_keys = gan.GAN_CURVE_KEYS

    def prepare(self) -> None:
        adversarial = self.entry.adversarial
        assert adversarial is not None  # TorchLearnedCodec.train sends only GAN entries here
        training_options.check_patch_size(self.config, self.entry.padding_multiple,
                                          self.codec_name)
        if self.config.metric != "mse":
            raise TrainingError(f"{self.codec_name} trains on MSE plus its perceptual and "
                                f"adversarial terms; --metric {self.config.metric} does not "
                                "apply")
        self.settle_rate_point()
        self.adversary = gan.Adversary(adversarial, self.config, self.device)

    def build(self) -> Trainables:
        self.model = weights_io.build_model(self.entry.compressai_class, self.N,
                                            self.M).to(self.device)
        self.adversary.build(self.M)
        self.student = (Student(self.M, self.N, student_width(self.entry, self.N)).to(self.device)
                        if self.entry.decoder_N else None)
        self.optimizer, self.aux_optimizer = main_and_aux_optimizers(
            self.model, self.config, self.student.parameters() if self.student else ())
        modules: dict[str, nn.Module] = {"model": self.model,
                                         "discriminator": self.adversary.discriminator}
        if self.student is not None:
            modules["student"] = self.student
        return Trainables(modules,
                          {"optimizer": self.optimizer, "d_optimizer": self.adversary.optimizer},
                          {"aux_optimizer": self.aux_optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        adversary = self.adversary
        adversarial_on = adversary.active(step)
        x_hat, bpp, y_hat, features = hyperprior_forward(self.model, batch)
        mse = F.mse_loss(x_hat, batch)
        p_value = adversary.perceptual(x_hat.clamp(0, 1), batch)
        loss = bpp + self.lmbda * (255**2 * mse + adversary.settings.perceptual_weight * p_value)
        g_adv = torch.zeros(())
        if adversarial_on:
            g_adv, extra = adversary.generator_terms(batch, x_hat, y_hat.detach())
            loss = loss + extra
        distill = torch.zeros(())
        if self.student is not None:
            distill = self.student.distillation_loss(y_hat, x_hat, features)
        descend(self.optimizer, loss + distill, self.config.clip_norm)
        aux_loss = self.model.aux_loss()
        descend(self.aux_optimizer, aux_loss)
        d_loss, accuracy = math.nan, math.nan
        if adversarial_on:
            d_loss, accuracy = adversary.discriminator_step(batch, x_hat, y_hat.detach())
        return {"loss": loss.item(), "bpp": bpp.item(), "distortion": mse.item(),
                "aux_loss": aux_loss.item(), "d_loss": d_loss,
                "g_adv": g_adv.item() if adversarial_on else math.nan,
                "perceptual": p_value.item(), "d_accuracy": accuracy,
                "distill": distill.item() if self.student is not None else math.nan}

    def export(self) -> tuple[Path, dict]:
        """The codec's weights (the student's decoder, when there is one; the teacher beside
        it, ``<slug>-teacher-q<q>.safetensors``)."""
        entry, half = self.entry, self.config.half_kernels
        teacher = self.model.state_dict()
        metadata = {**self.metadata(), "perceptual": self.adversary.perceptual_name}
        details = {**self.details(), **self.adversary.record()}
        path = self.weights_path(entry.slug)
        if self.student is None:
            weights_io.save_model(self.exported_model(teacher), path, metadata,
                                  half_kernels=half)
            return path, details
        decoder_N = student_width(entry, self.N)
        teacher_path = self.weights_path(f"{entry.slug}-teacher")
        weights_io.save_model(self.exported_model(teacher), teacher_path,
                              {**metadata, "model": entry.distilled_from, "role": "teacher"},
                              half_kernels=half)
        student = {key: value for key, value in teacher.items() if not key.startswith("g_s.")}
        student.update({f"g_s.{key}": value
                        for key, value in self.student.g_s.state_dict().items()})
        weights_io.save_model(self.exported_model(student, decoder_N), path,
                              {**metadata, "decoder_N": str(decoder_N)}, half_kernels=half)
        return path, {**details, "decoder_N": decoder_N, "teacher_weights": teacher_path.name}


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) a GAN-family hyperprior; see the module docstring."""
    return AdversarialTraining(entry, codec_name, config).run()
