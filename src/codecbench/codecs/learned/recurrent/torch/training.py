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

One Adam on the whole network. The crops, schedule, checkpoints, exact resume, curves,
time limit and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`); ``--init-from`` takes recurrent weights
(any slug of the same shape) or a recurrent checkpoint. At the end the learned binary
context table is counted on ``CONTEXT_CROPS`` crops of the training images (deterministic
binariser, as the codec codes) and ``<slug>.safetensors`` is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.entropy import binary_codes
from codecbench.codecs.learned.models import RecurrentModel
from codecbench.codecs.learned.recurrent import weights as recurrent_format
from codecbench.codecs.learned.recurrent.torch import weights as recurrent_weights
from codecbench.codecs.learned.recurrent.torch.network import (
    RecurrentCompressor,
    decoder_widths,
    encoder_widths,
)
from codecbench.codecs.learned.torch.training import (
    InitialWeights,
    TorchTraining,
    Trainables,
    counting_crops,
    descend,
    loaded_on_cpu,
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
    training_options.check_patch_size(config, entry.patch or 16, codec_name)


def read_weights(path: Path) -> tuple[dict, dict]:
    """Recurrent weights' ``(state_dict, metadata)``, the context table left out."""
    arrays, metadata = recurrent_format.read_tensors(path)
    arrays.pop(recurrent_format.CONTEXT_KEY, None)
    return {name: torch.from_numpy(array) for name, array in arrays.items()}, metadata


@torch.no_grad()
def context_probabilities(network, entry: RecurrentModel, images, seed: int) -> np.ndarray:
    """The binary context table counted on ``CONTEXT_CROPS`` deterministic crops."""
    from codecbench.codecs.learned.recurrent import tiling as recurrent_tiling

    counts = binary_codes.ContextCounts(entry.iterations, entry.code_channels)
    network.eval()
    for crop in counting_crops(images, seed, CONTEXT_CROPS, CONTEXT_CROP_SIZE, 16):
        codes, _ = network(crop - 0.5, entry.iterations, stochastic=False)
        tiling = recurrent_tiling.Tiling(crop.shape[-2], crop.shape[-1], 0)
        bits = np.stack([recurrent_tiling.codes_to_grid(
            binary_codes.to_bits(code.permute(0, 2, 3, 1).cpu().numpy()), tiling)
            for code in codes])
        counts.add(bits)
    return counts.probabilities()


class RecurrentTraining(TorchTraining):
    """The iteration loss of the module docstring, on the unrolled network."""

    entry: RecurrentModel
    checkpoint_format = CHECKPOINT_FORMAT
    initial_weights = InitialWeights(
        read_weights, CHECKPOINT_FORMAT, lineage=("model",), checkpoint_lineage=("codec",),
        accepted="recurrent weights nor a recurrent training checkpoint")
    libraries = ("torch", "compressai")

    def prepare(self) -> None:
        check_config(self.entry, self.codec_name, self.config)
        training_options.refuse_gan_options(self.config, self.codec_name)

    def build(self) -> Trainables:
        entry, channels = self.entry, self.config.channels
        self.network = RecurrentCompressor(entry, encoder_widths(entry, channels),
                                           decoder_widths(entry, channels)).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate)
        return Trainables({"model": self.network}, {"optimizer": self.optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        entry = self.entry
        x = to_patches(batch - 0.5, entry.patch)
        _, reconstructions = self.network(x, entry.iterations, stochastic=True)
        loss = iteration_loss(entry, x, reconstructions)
        descend(self.optimizer, loss, self.config.clip_norm)
        mse = F.mse_loss(reconstructions[-1].detach(), x).item()
        return {"loss": loss.item(), "bpp": entry.bound_bpp(entry.iterations),
                "distortion": mse, "aux_loss": None}

    def export(self) -> tuple[Path, dict]:
        """``<slug>.safetensors``, context table included."""
        entry, network, config = self.entry, self.network, self.config
        cpu_network = loaded_on_cpu(RecurrentCompressor(entry, network.encoder_widths,
                                                        network.decoder_widths),
                                    network.state_dict())
        cpu_images = [image.cpu() for image in self.images]
        probabilities = (context_probabilities(cpu_network, entry, cpu_images, config.seed)
                         if entry.entropy_coded else None)
        path = self.out / weights_locator.weights_filename("torch", entry.slug)
        metadata = {"model": entry.slug, "steps": str(self.state.step), "codec": self.codec_name,
                    "loss": entry.loss, "iterations": str(entry.iterations)}
        recurrent_weights.save_recurrent(cpu_network, probabilities, path, metadata,
                                         half_kernels=config.half_kernels)
        a, b = config.channels or (entry.encoder_widths[0], entry.encoder_widths[2])
        return path, {
            "loss": entry.loss, "iterations": entry.iterations, "priming": entry.priming,
            "encoder_widths": list(network.encoder_widths),
            "decoder_widths": list(network.decoder_widths), "channels": [a, b],
            "parameters": sum(p.numel() for p in cpu_network.parameters()),
            "context_model": ({"crops": CONTEXT_CROPS, "crop_size": CONTEXT_CROP_SIZE}
                              if entry.entropy_coded else None),
        }


def train(entry: RecurrentModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue training) a recurrent model; see the module docstring."""
    return RecurrentTraining(entry, codec_name, config).run()
