"""``codecbench train torch/rippel2017-waveone``: WaveOne's objective (Rippel & Bourdev 2017).

Per step: random crops, a random number of bitplanes ``k ∈ {1 … B}`` (one network serves
every rate point, so the decoder learns every truncation), ``x̂ = G(ŷ_k)``
(:mod:`.waveone`) and::

    L_G = λ · (255² · MSE + k_P · P) + α_t · R(y) + β · L_adv(D(x̂))

with ``R`` the adaptive codelength regulariser and ``α_t`` its self-tuned weight
(:class:`~codecbench.codecs.learned.models.WaveOneModel`), ``P`` the perceptual term of
:func:`.gan_training.perceptual_distance`, D pix2pixHD's multi-scale discriminator with
the least-squares loss (after the warm-up), one D step per G step. ``curves.csv``:
``bpp`` is the batch's empirical entropy of all ``B`` planes (per plane and channel, no
context — an upper bound of what the context coder spends), ``aux_loss`` the current
``α_t``. ``--channels W C`` overrides the width and code channels (tiny test models).
At the end the binary context table is counted on crops of the training images and
``rippel2017-waveone.safetensors`` is written. Checkpoints (α included), exact resume,
time limit and ``training.json`` as every trainer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_loop
from codecbench.codecs.learned.entropy import binary_codes
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
from codecbench.codecs.learned.models import WaveOneModel
from codecbench.codecs.learned.torch import adversarial as gan
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


def train(entry: WaveOneModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) WaveOne; see the module docstring."""
    if config.quality is not None or config.lmbda is not None or config.metric != "mse":
        raise TrainingError(f"{codec_name} trains one network for every rate point "
                            "(bitplanes) with the model table's loss: --quality, --lambda "
                            "and --metric do not apply")
    training_loop.check_patch_size(config, entry.padding_multiple, codec_name)
    width, channels = config.channels or (entry.width, entry.code_channels)
    adversarial = entry.adversarial
    device = torch.device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    perceptual_name, perceptual = perceptual_distance(device, config.patch_size)

    torch.manual_seed(config.seed)
    network = WaveOne(entry, width, channels).to(device)
    discriminator = gan.build_discriminator(adversarial, channels).to(device)
    weight = CodelengthWeight().to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    d_optimizer = discriminator_optimizer(discriminator, config)
    generator = torch.Generator().manual_seed(config.seed)
    stateful = {"model": network, "discriminator": discriminator, "alpha": weight,
                "optimizer": optimizer, "d_optimizer": d_optimizer}
    state, parent = start_or_resume(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config,
                                    device, stateful, generator)

    images = load_training_images(Path(config.data), config.patch_size, device)
    warmup_steps = training_loop.adversarial_warmup_steps(config, adversarial)

    def save_checkpoint() -> None:
        save(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config, device, stateful,
             generator, state, parent, {"width": width, "code_channels": channels})

    def train_step(step: int, lr: float) -> dict:
        set_learning_rate(lr, optimizer, d_optimizer)
        batch = sample_batch(images, generator, config.batch_size, config.patch_size)
        planes = int(torch.randint(1, entry.bitplanes + 1, (1,), generator=generator))
        x_hat, y, q = network(batch, planes)
        mse = F.mse_loss(x_hat, batch)
        p_value = perceptual(x_hat, batch)
        regulariser = codelength_regulariser(y, entry.bitplanes)
        bpp = planes_entropy_bpp(q, entry.bitplanes)
        loss = (entry.lmbda * (255**2 * mse + adversarial.perceptual_weight * p_value)
                + float(weight.alpha) * regulariser)
        values = image_gan_step(adversarial, network, optimizer, discriminator, d_optimizer,
                                batch, x_hat, loss, step >= warmup_steps, config.clip_norm)
        alpha = float(weight.alpha)  # the α this step used
        weight.update(bpp, entry.target_bpp)
        return {**values, "bpp": bpp, "distortion": mse.item(), "aux_loss": alpha,
                "perceptual": p_value.item()}

    network.train()
    discriminator.train()
    return training_loop.run_to_completion(
        config, f"train {codec_name}", state, train_step, save_checkpoint,
        lambda: _export(network, entry, codec_name, config, out, state, parent, device,
                        images, perceptual_name, float(weight.alpha)),
        extra_keys=GAN_CURVE_KEYS)


@torch.no_grad()
def context_probabilities(network, entry: WaveOneModel, images, seed: int) -> np.ndarray:
    """The binary context table of the bitplanes, counted on deterministic crops."""
    generator = torch.Generator().manual_seed(seed + 1)
    size = min(CONTEXT_CROP_SIZE, *(min(image.shape[1:]) for image in images))
    size -= size % entry.padding_multiple
    network.eval()
    counts = binary_codes.ContextCounts(entry.bitplanes, network.code_channels)
    for _ in range(CONTEXT_CROPS):
        crop = sample_batch(images, generator, 1, size)
        q = bitplanes.quantise(network.analysis(crop)[0].cpu().numpy(), entry.bitplanes)
        counts.add(bitplanes.to_planes(q, entry.bitplanes))
    return counts.probabilities()


def _export(network, entry, codec_name, config, out, state, parent, device, images,
            perceptual_name, alpha) -> Path:
    """Count the context table, write the weights file and ``training.json``."""
    from codecbench.codecs.learned import weights_format, weights_locator

    probabilities = context_probabilities(network, entry, images, config.seed)
    cpu_network = WaveOne(entry, network.width, network.code_channels)
    cpu_network.load_state_dict({k: v.cpu() for k, v in network.state_dict().items()})
    path = out / weights_locator.weights_filename("torch", entry.slug)
    save_waveone(cpu_network, probabilities, path,
                 {"model": entry.slug, "lambda": repr(entry.lmbda), "steps": str(state.step),
                  "perceptual": perceptual_name, "codec": codec_name},
                 config.half_kernels)
    record = {
        "codec": codec_name, "model": entry.slug, "paper": entry.paper,
        "width": network.width, "code_channels": network.code_channels,
        "bitplanes": entry.bitplanes, "lambda": entry.lmbda, "target_bpp": entry.target_bpp,
        "final_alpha": alpha, "perceptual": perceptual_name,
        "adversarial": vars(entry.adversarial), "steps": state.step,
        "train_seconds": round(state.elapsed, 1), "hardware": _hardware(device),
        "data": {"folder": str(config.data), "images": len(images)},
        "final_interval": state.last, "parent": parent, "config": config.to_json(),
        "versions": {"torch": torch.__version__},
        "weights_id": weights_format.weights_id(path).hex(),
    }
    training_loop.write_training_record(out, record)
    return path
