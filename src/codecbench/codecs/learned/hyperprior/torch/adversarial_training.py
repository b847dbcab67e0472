"""``codecbench train torch/hific`` and ``torch/hific-omgd``: adversarial training.

**HiFiC** (Mentzer et al. 2020). The generator is the mean-scale hyperprior of the CNN
family (CompressAI's ``MeanScaleHyperprior``); the decoder sees the latent rounded with
a straight-through gradient, ``ŷ = ⌊y − μ⌉ + μ`` (what the codec decodes), while the
rate uses CompressAI's additive-noise likelihoods. Losses (the model table's
:class:`~codecbench.codecs.learned.models.Adversarial` states the formulas and weights)::

    L_G = R + λ · (255² · MSE + k_P · P) + β · L_adv(D(x̂, ŷ))
    L_D = L_D(D(x, ŷ), D(x̂, ŷ))           (ŷ and x̂ detached)

with D the latent-conditioned discriminator of :mod:`.gan`, one D step after each G
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

Checkpoints hold G, D, the student, all optimisers and RNG states (exact resume), as the
rate–distortion trainer's (:mod:`.training`); ``curves.csv`` gets the extra columns
``d_loss``, ``g_adv``, ``perceptual``, ``d_accuracy`` and ``distill``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_loop, weights_format, weights_locator
from codecbench.codecs.learned.hyperprior.torch.training import (
    _hardware,
    _load_initial_weights,
    load_training_images,
    sample_batch,
    save,
    start_or_resume,
)
from codecbench.codecs.learned.models import LearnedModel
from codecbench.codecs.learned.torch import adversarial as gan
from codecbench.codecs.learned.torch import weights as weights_io
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-gan-checkpoint/1"
GAN_CURVE_KEYS = ("d_loss", "g_adv", "perceptual", "d_accuracy", "distill")
STUDENT_FEATURE_LAYERS = (1, 3, 5)
"""Indices in ``g_s`` of the inverse-GDN outputs distilled (one per upsampling stage)."""


def perceptual_distance(device: torch.device, patch_size: int):
    """``(name, P)``: LPIPS-AlexNet when its weights are present, else ``1 − MS-SSIM``."""
    from codecbench.metrics import perceptual_weights as pw

    if not pw.missing_reason([pw.BACKBONES["alex"], pw.LPIPS_HEADS["alex"]]):
        from codecbench.metrics.torch.networks import lpips_network

        network = lpips_network("alex").to(device)
        return "lpips-alex", lambda x_hat, x: network(x_hat, x).mean()
    if patch_size < training_loop.MS_SSIM_MIN_PATCH:
        raise TrainingError(
            f"the perceptual term 1 − MS-SSIM (LPIPS weights absent) needs --patch-size "
            f"≥ {training_loop.MS_SSIM_MIN_PATCH}, got {patch_size}")
    from pytorch_msssim import ms_ssim

    return "1-ms-ssim", lambda x_hat, x: 1 - ms_ssim(x_hat, x, data_range=1.0)


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
        if min(target.shape[-2:]) >= training_loop.MS_SSIM_MIN_PATCH:
            loss = loss + 1 - ms_ssim(x_s.clamp(0, 1), target.clamp(0, 1), data_range=1.0)
        for adapter, f_s, f_t in zip(self.adapters, features, teacher_features, strict=True):
            loss = loss + F.mse_loss(adapter(f_s), f_t.detach())
        return loss


def generator_adversarial(adversarial, discriminator, real_images, fake_images, condition):
    """``(L_adv, β·L_adv + k_FM·FM)`` of the generator (D's weights frozen meanwhile)."""
    discriminator.requires_grad_(False)
    try:
        fake = discriminator(fake_images, condition)
        g_adv = gan.generator_loss(adversarial.loss, fake)
        total = adversarial.weight * g_adv
        if adversarial.feature_matching:
            real = discriminator(real_images, condition)
            total = total + adversarial.feature_matching * gan.feature_matching(real, fake)
    finally:
        discriminator.requires_grad_(True)
    return g_adv, total


def discriminator_step(adversarial, discriminator, d_optimizer, real_images, fake_images,
                       condition) -> tuple[float, float]:
    """One step on ``L_D``; returns it and D's real-vs-fake accuracy on the batch."""
    real = discriminator(real_images, condition)
    fake = discriminator(fake_images.detach(), condition)
    d_value = gan.discriminator_loss(adversarial.loss, real, fake)
    d_optimizer.zero_grad(set_to_none=True)
    d_value.backward()
    d_optimizer.step()
    return d_value.item(), gan.real_vs_fake_accuracy(adversarial.loss, real, fake)


def set_learning_rate(lr: float, *optimizers) -> None:
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = lr


def image_gan_step(adversarial, networks, optimizer, discriminator, d_optimizer, batch,
                   x_hat, loss, adversarial_on: bool, clip_norm: float) -> dict:
    """One generator step on ``loss`` (plus the adversarial terms once ``adversarial_on``)
    and one discriminator step; returns the curve values (``nan`` where not computed)."""
    g_adv = d_loss = accuracy = math.nan
    if adversarial_on:
        g_value, extra = generator_adversarial(adversarial, discriminator, batch, x_hat, None)
        loss = loss + extra
        g_adv = g_value.item()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(networks.parameters(), clip_norm)
    optimizer.step()
    if adversarial_on:
        d_loss, accuracy = discriminator_step(adversarial, discriminator, d_optimizer, batch,
                                              x_hat, None)
    return {"loss": loss.item(), "g_adv": g_adv, "d_loss": d_loss, "d_accuracy": accuracy,
            "distill": math.nan}


def discriminator_optimizer(discriminator, config: TrainingConfig):
    """Adam with β₁ = 0.5, as GAN training usually does (Radford et al. 2016)."""
    return torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate,
                            betas=(0.5, 0.999))


def student_width(entry: LearnedModel, N: int) -> int:
    """The student's width, scaled with ``--channels`` (the table's ratio decoder_N / N)."""
    return max(2, round(N * entry.decoder_N / entry.N))


def train(entry: LearnedModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) a GAN-family hyperprior; see the module docstring."""
    adversarial = entry.adversarial
    assert adversarial is not None  # TorchLearnedCodec.train sends only GAN entries here
    training_loop.check_patch_size(config, entry.padding_multiple, codec_name)
    if config.metric != "mse":
        raise TrainingError(f"{codec_name} trains on MSE plus its perceptual and adversarial "
                            f"terms; --metric {config.metric} does not apply")
    device = torch.device(config.device)
    lmbda = training_loop.lambda_of_run(entry, config)
    N, M = config.channels or (entry.N, entry.M)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    perceptual_name, perceptual = perceptual_distance(device, config.patch_size)

    torch.manual_seed(config.seed)
    model = weights_io.build_model(entry.compressai_class, N, M).to(device)
    discriminator = gan.build_discriminator(adversarial, M).to(device)
    student = Student(M, N, student_width(entry, N)).to(device) if entry.decoder_N else None
    generator_params = [p for name, p in model.named_parameters()
                        if not name.endswith(".quantiles")]
    if student is not None:
        generator_params += list(student.parameters())
    optimizer = torch.optim.Adam(generator_params, lr=config.learning_rate)
    aux_optimizer = torch.optim.Adam(
        [p for name, p in model.named_parameters() if name.endswith(".quantiles")],
        lr=config.aux_learning_rate)
    d_optimizer = discriminator_optimizer(discriminator, config)
    generator = torch.Generator().manual_seed(config.seed)
    stateful = {"model": model, "discriminator": discriminator, "optimizer": optimizer,
                "aux_optimizer": aux_optimizer, "d_optimizer": d_optimizer}
    if student is not None:
        stateful["student"] = student
    state, parent = start_or_resume(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config,
                                    device, stateful, generator,
                                    lambda path: _load_initial_weights(model, path, device))

    images = load_training_images(Path(config.data), config.patch_size, device)
    warmup_steps = training_loop.adversarial_warmup_steps(config, adversarial)

    def save_checkpoint() -> None:
        save(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config, device, stateful,
             generator, state, parent, {"lambda": lmbda, "N": N, "M": M})

    def train_step(step: int, lr: float) -> dict:
        set_learning_rate(lr, optimizer, d_optimizer)
        adversarial_on = step >= warmup_steps
        batch = sample_batch(images, generator, config.batch_size, config.patch_size)
        x_hat, bpp, y_hat, features = hyperprior_forward(model, batch)
        mse = F.mse_loss(x_hat, batch)
        p_value = perceptual(x_hat.clamp(0, 1), batch)
        loss = bpp + lmbda * (255**2 * mse + adversarial.perceptual_weight * p_value)
        g_adv = torch.zeros(())
        if adversarial_on:
            g_adv, extra = generator_adversarial(adversarial, discriminator, batch, x_hat,
                                                 y_hat.detach())
            loss = loss + extra
        distill = torch.zeros(())
        if student is not None:
            distill = student.distillation_loss(y_hat, x_hat, features)
        optimizer.zero_grad(set_to_none=True)
        (loss + distill).backward()
        if config.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(generator_params, config.clip_norm)
        optimizer.step()
        aux_loss = model.aux_loss()
        aux_optimizer.zero_grad(set_to_none=True)
        aux_loss.backward()
        aux_optimizer.step()
        d_loss, accuracy = math.nan, math.nan
        if adversarial_on:
            d_loss, accuracy = discriminator_step(adversarial, discriminator, d_optimizer,
                                                  batch, x_hat, y_hat.detach())
        return {"loss": loss.item(), "bpp": bpp.item(), "distortion": mse.item(),
                "aux_loss": aux_loss.item(), "d_loss": d_loss,
                "g_adv": g_adv.item() if adversarial_on else math.nan,
                "perceptual": p_value.item(), "d_accuracy": accuracy,
                "distill": distill.item() if student is not None else math.nan}

    model.train()
    discriminator.train()
    return training_loop.run_to_completion(
        config, f"train {codec_name} λ={lmbda:g}", state, train_step, save_checkpoint,
        lambda: _export(model, student, entry, codec_name, config, out, lmbda, N, M, state,
                        parent, device, len(images), perceptual_name),
        extra_keys=GAN_CURVE_KEYS)


def _export(model, student, entry, codec_name, config, out, lmbda, N, M, state, parent,
            device, n_images, perceptual_name) -> Path:
    """Write the weights (the student's decoder in the codec's file; the teacher beside
    it) and ``training.json``."""
    import compressai

    def exported(decoder=None, decoder_N=0):
        cpu_model = weights_io.build_model(entry.compressai_class, N, M, decoder_N)
        state_dict = {k: v.cpu() for k, v in model.state_dict().items()}
        if decoder is not None:
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith("g_s.")}
            state_dict.update({f"g_s.{k}": v.cpu() for k, v in decoder.state_dict().items()})
        cpu_model.load_state_dict(state_dict)
        return cpu_model.eval()

    def file_name(slug):
        if config.quality:
            return out / weights_locator.weights_filename("torch", slug, config.quality)
        return out / f"{slug}-lambda{lmbda:g}.safetensors"

    metadata = training_loop.weights_metadata(entry, codec_name, config, lmbda, N, M,
                                              state.step)
    metadata["perceptual"] = perceptual_name
    extra = {"perceptual": perceptual_name, "adversarial": vars(entry.adversarial)}
    if student is not None:
        decoder_N = student_width(entry, N)
        teacher_path = file_name(f"{entry.slug}-teacher")
        weights_io.save_model(exported(), teacher_path,
                              {**metadata, "model": entry.distilled_from, "role": "teacher"},
                              half_kernels=config.half_kernels)
        path = file_name(entry.slug)
        weights_io.save_model(exported(student.g_s, decoder_N), path,
                              {**metadata, "decoder_N": str(decoder_N)},
                              half_kernels=config.half_kernels)
        extra.update(decoder_N=decoder_N, teacher_weights=teacher_path.name)
    else:
        path = file_name(entry.slug)
        weights_io.save_model(exported(), path, metadata, half_kernels=config.half_kernels)
    record = training_loop.training_record(
        entry, codec_name, config, lmbda, N, M, state, _hardware(device), n_images, parent,
        {"torch": torch.__version__, "compressai": compressai.__version__},
        weights_format.weights_id(path).hex())
    training_loop.write_training_record(out, {**record, **extra})
    return path
