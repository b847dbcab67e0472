"""``codecbench train torch/<recurrent model>``: training of the RNN family.

The loop of Toderici et al. (2016, 2017): a batch of random crops, the network unrolled
for all ``T`` iterations (16) with the stochastic binariser, and the loss over every
iteration's residual ``r_t = x − x̂_t``::

    L = 1/T · Σ_t mean |r_t|                       (Toderici: "l1")
    L = 1/T · Σ_t mean (w_t · |r_t|)               (Johnston 2018: "ssim-weighted-l1")

Johnston's weight ``w_t`` is, per 8×8 block, ``1 − SSIM`` of that block between ``x`` and
``x̂_t`` (means, variances and covariance over the block, constants ``(0.01)²`` and
``(0.03)²`` for a unit range, averaged over the three channels), divided by its mean
over the image and held constant in the gradient, so badly reconstructed blocks weigh
more. There is no rate term: the rate is fixed by the iteration count (the ``bpp``
column of ``curves.csv`` is the code budget of the unrolled iterations, ``distortion``
the MSE after the last one).

The framework-neutral parts (images, schedule, resume, curves, checkpoints, time limit,
``training.json``) are :mod:`codecbench.codecs.learned.training_loop`'s. At the end the learned
binary context table is counted on ``CONTEXT_CROPS`` crops of the training images
(deterministic binariser, as the codec codes) and ``<slug>.safetensors`` is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_loop, weights_format, weights_locator
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.hyperprior.torch import training as checkpoints
from codecbench.codecs.learned.hyperprior.torch.training import (
    _hardware,
    load_training_images,
    sample_batch,
)
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights
from codecbench.codecs.learned.recurrent.torch.network import (
    RecurrentCompressor,
    decoder_widths,
    encoder_widths,
)
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-recurrent-checkpoint/1"
CONTEXT_CROPS = 48
CONTEXT_CROP_SIZE = 128
SSIM_BLOCK = 8


def block_ssim_weights(x: torch.Tensor, x_hat: torch.Tensor, block: int = SSIM_BLOCK):
    """Johnston 2018's per-pixel weight: ``1 − SSIM`` of each ``block``² block, mean 1."""
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = F.avg_pool2d(x, block), F.avg_pool2d(x_hat, block)
    var_x = F.avg_pool2d(x * x, block) - mu_x**2
    var_y = F.avg_pool2d(x_hat * x_hat, block) - mu_y**2
    cov = F.avg_pool2d(x * x_hat, block) - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    weight = (1 - ssim.mean(dim=1, keepdim=True)).clamp_min(0)
    weight = weight / weight.mean(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return F.interpolate(weight, scale_factor=block, mode="nearest").detach()


def iteration_loss(entry: RecurrentModel, x, reconstructions) -> torch.Tensor:
    """The loss of the module docstring, averaged over the iterations."""
    total: torch.Tensor | float = 0.0
    for x_hat in reconstructions:
        error = (x - x_hat).abs()
        if entry.loss == "ssim-weighted-l1":
            error = block_ssim_weights(x + 0.5, x_hat + 0.5) * error
        total = total + error.mean()
    return cast(torch.Tensor, total / len(reconstructions))  # a tensor once an iteration is added


def to_patches(batch: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut ``B×3×P×P`` crops into ``patch``² patches (Toderici 2016 codes patches)."""
    if not patch or batch.shape[-1] == patch:
        return batch
    b, c, h, w = batch.shape
    tiles = batch.reshape(b, c, h // patch, patch, w // patch, patch).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(-1, c, patch, patch)


def check_config(entry: RecurrentModel, codec_name: str, config: TrainingConfig) -> None:
    if config.quality is not None or config.lmbda is not None:
        raise TrainingError(f"{codec_name} has no λ: its rate points are iteration counts of "
                            "one network; train without --quality/--lambda")
    if config.metric != "mse":
        raise TrainingError(f"{codec_name} trains with its paper's loss ({entry.loss}); "
                            "--metric does not apply")
    training_loop.check_patch_size(config, entry.patch or 16, codec_name)


def train(entry: RecurrentModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) a recurrent model; see the module docstring."""
    check_config(entry, codec_name, config)
    training_loop.refuse_gan_options(config, codec_name)
    device = torch.device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"

    torch.manual_seed(config.seed)
    network = RecurrentCompressor(entry, encoder_widths(entry, config.channels),
                                  decoder_widths(entry, config.channels)).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    stateful = {"model": network, "optimizer": optimizer}
    state, parent = checkpoints.start_or_resume(
        checkpoint_path, CHECKPOINT_FORMAT, codec_name, config, device, stateful, generator,
        lambda path: _load_initial_weights(network, path, entry, device))

    images = load_training_images(Path(config.data), config.patch_size, device)

    def save_checkpoint() -> None:
        checkpoints.save(checkpoint_path, CHECKPOINT_FORMAT, codec_name, config, device,
                         stateful, generator, state, parent)

    def train_step(step: int, lr: float) -> dict:
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = sample_batch(images, generator, config.batch_size, config.patch_size)
        x = to_patches(batch - 0.5, entry.patch)
        _, reconstructions = network(x, entry.iterations, stochastic=True)
        loss = iteration_loss(entry, x, reconstructions)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(network.parameters(), config.clip_norm)
        optimizer.step()
        mse = F.mse_loss(reconstructions[-1].detach(), x).item()
        return {"loss": loss.item(), "bpp": entry.bound_bpp(entry.iterations),
                "distortion": mse, "aux_loss": None}

    network.train()
    return training_loop.run_to_completion(
        config, f"train {codec_name}", state, train_step, save_checkpoint,
        lambda: _export(network, entry, codec_name, config, out, state, parent, device, images))


def _load_initial_weights(network, path: Path, entry: RecurrentModel, device) -> dict:
    """Fine-tuning: start from recurrent weights (any slug of the same shape) or a checkpoint."""
    if path.suffix == ".safetensors":
        try:
            arrays, metadata = recurrent_weights.read_tensors(path)
        except ValueError as exc:  # the message names the file
            raise TrainingError(str(exc)) from None
        arrays.pop(recurrent_weights.CONTEXT_KEY, None)
        state = {name: torch.from_numpy(array) for name, array in arrays.items()}
        parent = {"weights": str(path), "model": metadata.get("model"),
                  "steps": metadata.get("steps")}
    else:
        checkpoint = checkpoints.load_checkpoint(path)
        if checkpoint.get("format") != CHECKPOINT_FORMAT or "model" not in checkpoint:
            raise TrainingError(f"{path} is neither recurrent weights nor a recurrent "
                                "training checkpoint")
        state = checkpoint["model"]
        parent = {"checkpoint": str(path), "codec": checkpoint.get("codec"),
                  "steps": checkpoint.get("step")}
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise TrainingError(f"cannot start from {path}: its architecture differs "
                            f"({str(exc).splitlines()[0]})") from None
    network.to(device)
    return parent


@torch.no_grad()
def context_probabilities(network, entry: RecurrentModel, images, seed: int) -> np.ndarray:
    """The binary context table counted on ``CONTEXT_CROPS`` deterministic crops."""
    from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling

    generator = torch.Generator().manual_seed(seed + 1)
    counts = binary_codes.ContextCounts(entry.iterations, entry.code_channels)
    size = min(CONTEXT_CROP_SIZE, *(min(image.shape[1:]) for image in images))
    size -= size % 16
    network.eval()
    for _ in range(CONTEXT_CROPS):
        crop = sample_batch(images, generator, 1, size)
        codes, _ = network(crop - 0.5, entry.iterations, stochastic=False)
        tiling = recurrent_tiling.Tiling(size, size, 0)
        bits = np.stack([recurrent_tiling.codes_to_grid(
            binary_codes.to_bits(code.permute(0, 2, 3, 1).cpu().numpy()), tiling)
            for code in codes])
        counts.add(bits)
    return counts.probabilities()


def _export(network, entry, codec_name, config, out, state, parent, device, images) -> Path:
    """Write ``<slug>.safetensors`` (context table included) and ``training.json``."""
    import compressai

    cpu_network = RecurrentCompressor(entry, network.encoder_widths, network.decoder_widths)
    cpu_network.load_state_dict({k: v.cpu() for k, v in network.state_dict().items()})
    cpu_network.eval()
    cpu_images = [image.cpu() for image in images]
    probabilities = (context_probabilities(cpu_network, entry, cpu_images, config.seed)
                     if entry.entropy_coded else None)
    path = out / weights_locator.weights_filename("torch", entry.slug)
    metadata = {"model": entry.slug, "steps": str(state.step), "codec": codec_name,
                "loss": entry.loss, "iterations": str(entry.iterations)}
    recurrent_weights.save_recurrent(cpu_network, probabilities, path, metadata,
                                     half_kernels=config.half_kernels)
    a, b = config.channels or (entry.encoder_widths[0], entry.encoder_widths[2])
    record = {
        "codec": codec_name, "model": entry.slug, "paper": entry.paper, "loss": entry.loss,
        "iterations": entry.iterations, "priming": entry.priming,
        "encoder_widths": list(network.encoder_widths),
        "decoder_widths": list(network.decoder_widths), "channels": [a, b],
        "parameters": sum(p.numel() for p in cpu_network.parameters()),
        "steps": state.step, "train_seconds": round(state.elapsed, 1),
        "hardware": _hardware(device), "data": {"folder": str(config.data),
                                                "images": len(images)},
        "context_model": ({"crops": CONTEXT_CROPS, "crop_size": CONTEXT_CROP_SIZE}
                          if entry.entropy_coded else None),
        "final_interval": state.last, "parent": parent, "config": config.to_json(),
        "versions": {"torch": torch.__version__, "compressai": compressai.__version__},
        "weights_id": weights_format.weights_id(path).hex(),
    }
    training_loop.write_training_record(out, record)
    return path
