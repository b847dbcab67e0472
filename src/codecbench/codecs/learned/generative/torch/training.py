"""``codecbench train torch/agustsson2019-gc``: adversarial training of GC.

One network per rate point (``--quality q`` → ``C`` of the table). Per step: a batch of
random crops, ``x̂ = G(q(E(x)))`` (:mod:`.generative`), the generator loss::

    L_G = λ · (255² · MSE + k_P · P) + β · L_adv(D(x̂)) + k_FM · FM

(LSGAN with pix2pixHD's multi-scale discriminator and feature matching, weights in the
model table; ``P`` as HiFiC's trainer picks it, :func:`.gan_training.perceptual_distance`),
then one discriminator step. No rate term: ``C`` fixes the rate (Agustsson et al. 2019);
the ``bpp`` column of ``curves.csv`` is the empirical entropy of the batch's symbols per
channel (what a table counted on that batch would code). The first ``warmup`` fraction
of the steps trains without D. ``--channels W R`` overrides the widths
(``W, 2W, 4W, 8W, 8W``) and the residual blocks (tiny test models).

At the end the per-channel symbol table is counted on ``SYMBOL_CROPS`` crops of the
training images and ``agustsson2019-gc-q<q>.safetensors`` is written. Checkpoints,
resume, curves and ``training.json`` as every trainer (:mod:`codecbench.codecs.learned.training_loop`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_loop
from codecbench.codecs.learned.entropy import categorical_codes
from codecbench.codecs.learned.generative.torch.codecs import save_generative
from codecbench.codecs.learned.generative.torch.network import GenerativeCompressor
from codecbench.codecs.learned.hyperprior.torch.adversarial_training import (
    GAN_CURVE_KEYS,
    discriminator_optimizer,
    image_gan_step,
    perceptual_distance,
    set_learning_rate,
)
from codecbench.codecs.learned.hyperprior.torch.training import (
    _hardware,
    load_training_images,
    sample_batch,
    save,
    start_or_resume,
)
from codecbench.codecs.learned.models import GenerativeModel
from codecbench.codecs.learned.torch import adversarial as gan
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


def train(entry: GenerativeModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) GC at ``--quality``; see the module docstring."""
    if config.quality is None:
        raise TrainingError(f"give the rate point (--quality {'/'.join(map(str, entry.qualities))}"
                            f": C = {', '.join(map(str, entry.channels))})")
    if config.lmbda is not None or config.metric != "mse":
        raise TrainingError(f"{codec_name}'s rate is set by C (--quality) and its loss by the "
                            "model table; --lambda/--metric do not apply")
    training_loop.check_patch_size(config, entry.padding_multiple, codec_name)
    channels = entry.channels_of(config.quality)
    widths, blocks = ((scaled_widths(config.channels[0]), config.channels[1])
                      if config.channels else (entry.widths, entry.residual_blocks))
    adversarial = entry.adversarial
    device = torch.device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    perceptual_name, perceptual = perceptual_distance(device, config.patch_size)

    torch.manual_seed(config.seed)
    network = GenerativeCompressor(entry, channels, widths, blocks).to(device)
    discriminator = gan.build_discriminator(adversarial, channels).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    d_optimizer = discriminator_optimizer(discriminator, config)
    generator = torch.Generator().manual_seed(config.seed)
    stateful = {"model": network, "discriminator": discriminator, "optimizer": optimizer,
                "d_optimizer": d_optimizer}
    state, parent = start_or_resume(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config,
                                    device, stateful, generator)

    images = load_training_images(Path(config.data), config.patch_size, device)
    warmup_steps = training_loop.adversarial_warmup_steps(config, adversarial)

    def save_checkpoint() -> None:
        save(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config, device, stateful,
             generator, state, parent, {"channels": channels})

    def train_step(step: int, lr: float) -> dict:
        set_learning_rate(lr, optimizer, d_optimizer)
        batch = sample_batch(images, generator, config.batch_size, config.patch_size)
        x_hat, _, symbols = network(batch)
        mse = F.mse_loss(x_hat, batch)
        p_value = perceptual(x_hat, batch)
        loss = entry.lmbda * (255**2 * mse + adversarial.perceptual_weight * p_value)
        values = image_gan_step(adversarial, network, optimizer, discriminator, d_optimizer,
                                batch, x_hat, loss, step >= warmup_steps, config.clip_norm)
        return {**values, "bpp": batch_entropy_bpp(symbols, entry.centres),
                "distortion": mse.item(), "aux_loss": None, "perceptual": p_value.item()}

    network.train()
    discriminator.train()
    return training_loop.run_to_completion(
        config, f"train {codec_name} C={channels}", state, train_step, save_checkpoint,
        lambda: _export(network, entry, codec_name, config, out, state, parent, device,
                        images, widths, blocks, perceptual_name),
        extra_keys=GAN_CURVE_KEYS)


@torch.no_grad()
def symbol_probabilities(network, entry: GenerativeModel, images, seed: int) -> np.ndarray:
    """The per-channel symbol table counted on ``SYMBOL_CROPS`` deterministic crops."""
    generator = torch.Generator().manual_seed(seed + 1)
    size = min(SYMBOL_CROP_SIZE, *(min(image.shape[1:]) for image in images))
    size -= size % entry.padding_multiple
    network.eval()
    counts = None
    for _ in range(SYMBOL_CROPS):
        crop = sample_batch(images, generator, 1, size)
        _, symbols = network.quantise(network.analysis(crop))
        symbols = symbols[0].cpu().numpy()
        if counts is None:
            counts = categorical_codes.SymbolCounts(symbols.shape[0], entry.centres)
        counts.add(symbols)
    assert counts is not None  # SYMBOL_CROPS >= 1
    return counts.probabilities()


def _export(network, entry, codec_name, config, out, state, parent, device, images, widths,
            blocks, perceptual_name) -> Path:
    """Count the symbol table, write the weights file and ``training.json``."""
    from codecbench.codecs.learned import weights_format, weights_locator

    probabilities = symbol_probabilities(network, entry, images, config.seed)
    cpu_network = GenerativeCompressor(entry, network.encoder[-1].out_channels, widths,
                                       blocks)
    cpu_network.load_state_dict({k: v.cpu() for k, v in network.state_dict().items()})
    path = out / weights_locator.weights_filename("torch", entry.slug, config.quality)
    channels = entry.channels_of(config.quality)
    metadata = {"model": entry.slug, "quality": str(config.quality), "channels": str(channels),
                "lambda": repr(entry.lmbda), "perceptual": perceptual_name,
                "steps": str(state.step), "codec": codec_name}
    save_generative(cpu_network, probabilities, path, metadata, widths, blocks,
                    config.half_kernels)
    record = {
        "codec": codec_name, "model": entry.slug, "paper": entry.paper,
        "quality": config.quality, "channels": channels, "centres": entry.centres,
        "bound_bpp": entry.bound_bpp(config.quality), "widths": list(widths),
        "residual_blocks": blocks, "lambda": entry.lmbda, "perceptual": perceptual_name,
        "adversarial": vars(entry.adversarial), "steps": state.step,
        "train_seconds": round(state.elapsed, 1), "hardware": _hardware(device),
        "data": {"folder": str(config.data), "images": len(images)},
        "final_interval": state.last, "parent": parent, "config": config.to_json(),
        "versions": {"torch": torch.__version__},
        "weights_id": weights_format.weights_id(path).hex(),
    }
    training_loop.write_training_record(out, record)
    return path
