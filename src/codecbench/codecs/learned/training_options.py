"""What ``codecbench train``'s options mean for a model, framework-neutral.

The checks every trainer shares (patch size, options of adversarial training only), the
λ of a run, the warm-up of a GAN run, and the rate point a λ-trained hyperprior records
(weights metadata and ``training.json`` entries, the same in PyTorch and TensorFlow).
"""

from __future__ import annotations

from codecbench.api.training import TrainingConfig
from codecbench.codecs.learned.training_loop import TrainingError

MS_SSIM_MIN_PATCH = 161
"""MS-SSIM's five scales need an image of more than (11 − 1) · 2⁴ pixels (Wang et al. 2003)."""


def check_patch_size(config: TrainingConfig, multiple: int, codec_name: str) -> None:
    """The patch must tile the latent grid (and, for MS-SSIM, hold its five scales)."""
    if config.metric == "ms-ssim" and config.patch_size < MS_SSIM_MIN_PATCH:
        raise TrainingError(f"--metric ms-ssim needs --patch-size of at least "
                            f"{MS_SSIM_MIN_PATCH} (five scales of an 11-pixel window), "
                            f"got {config.patch_size}")
    if config.patch_size % multiple:
        raise TrainingError(f"--patch-size must be a multiple of {multiple} for {codec_name} "
                            f"(its latents are 1/{multiple} of the image size), "
                            f"got {config.patch_size}")


def refuse_gan_options(config: TrainingConfig, codec_name: str) -> None:
    """Options of adversarial training only (``--warmup``) on a model without a GAN."""
    if config.warmup is not None:
        raise TrainingError(f"--warmup applies to GAN-family models; {codec_name} is not one")


def adversarial_warmup_steps(config: TrainingConfig, adversarial) -> int:
    """Steps before the adversarial term starts: ``--warmup`` or the table's fraction."""
    fraction = adversarial.warmup if config.warmup is None else config.warmup
    return int(fraction * config.steps)


def lambda_of_run(entry, config: TrainingConfig) -> float:
    """λ of a rate-distortion run: ``--lambda``, else the table's λ of ``--quality``."""
    if config.lmbda is not None:
        return config.lmbda
    if config.quality is None:
        raise TrainingError("give a rate point (--quality) or a λ (--lambda)")
    return entry.lambda_of(config.quality)


PERCEPTUAL_METRIC = "lpips-vgg"
"""The perception metric of ``--loss perceptual`` (:mod:`.torch.perceptual_loss`)."""


def loss_metadata(config: TrainingConfig) -> dict[str, str]:
    """What a weights file's metadata says of ``--loss`` (nothing for rate–distortion)."""
    if config.loss != "perceptual":
        return {}
    return {"loss": "perceptual", "perceptual_metric": PERCEPTUAL_METRIC,
            "perceptual_weight": repr(config.perceptual_weight)}


def rate_point_metadata(entry, codec_name: str, config: TrainingConfig, lmbda: float, N: int,
                        M: int, step: int) -> dict[str, str]:
    """The string metadata of a λ-trained hyperprior's exported weights file."""
    return {"model": entry.slug, "class": entry.compressai_class, "N": str(N), "M": str(M),
            "quality": str(config.quality or 0), "lambda": repr(lmbda),
            "metric": config.metric, "steps": str(step), "codec": codec_name,
            **loss_metadata(config)}


def rate_point_record(config: TrainingConfig, lmbda: float, N: int, M: int) -> dict:
    """The ``training.json`` entries of a λ-trained hyperprior's run."""
    return {"lambda": lmbda, "metric": config.metric, "N": N, "M": M}
