"""``codecbench train torch/minnen2017-tiled``: joint training of the context network and
the residual coder (Minnen et al. 2017).

Each step takes ``B`` random crops of ``3S × 3S`` pixels (``--patch-size`` = 3 tiles) and
uses their top two tile rows: the middle tile of the second row is the target ``x``, the
above-left, above, above-right and left tiles its context. The context is what a decoder
would have: for each crop, with probability ½ the neighbours are the originals (a high
target decodes them nearly losslessly), else their decodes by the current residual coder
(no gradient) from a flat grey start after a random ``k ∈ {1 … T}`` iterations; each
neighbour is then dropped (zero, marked missing) with probability ``context_dropout``,
as at the image's borders. With ``p = P(context)``, ``x̂_0 = p`` and
``x̂_{t+1} = x̂_t + D_t(B(E_t(x − x̂_t)))`` (stochastic binariser, straight-through)::

    L = 1/(T + 1) · Σ_{t=0}^{T} mean |x − x̂_t|

the prediction's L1 error plus Toderici et al.'s residual loss summed over all ``T``
iterations, so one network serves every iteration count. There is no rate term: the
rate follows from the iteration counts the encoder picks. ``curves.csv``: ``bpp`` is the
code budget of the iterations the batch's targets would take at the middle rate point's
PSNR target (before entropy coding), ``distortion`` the MSE after ``T`` iterations,
``prediction_mse`` the prediction's.

One Adam on both networks. At the end the binary context table and the per-rate-point
count tables are counted by coding ``CONTEXT_CROPS`` crops of the training images at every
rate point (:func:`~codecbench.codecs.learned.tiled.tiles.encode_tiles`, the codec's own
allocation) and ``minnen2017-tiled.safetensors`` is written. ``--channels P E`` overrides
the predictor and coder widths (tiny test models). Checkpoints, exact resume, time limit
and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.entropy import binary_codes, categorical_codes
from codecbench.codecs.learned.models import TiledModel
from codecbench.codecs.learned.tiled import coding, tiles
from codecbench.codecs.learned.tiled.layers import CONTEXT_CHANNELS
from codecbench.codecs.learned.tiled.torch.network import TiledNetwork
from codecbench.codecs.learned.tiled.torch.weights import TorchTileCoder, save_tiled
from codecbench.codecs.learned.torch import training as scaffold
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-tiled-checkpoint/1"
CONTEXT_CROPS = 24
CONTEXT_CROP_SIZE = 160
ORIGINAL_CONTEXT = 0.5
"""Probability that a crop's context holds the original neighbours."""


def context_batch(network: TiledNetwork, region: torch.Tensor, entry: TiledModel,
                  generator: torch.Generator) -> torch.Tensor:
    """``B×4×2S×3S`` contexts of the target tiles of ``region`` (``B×3×2S×3S`` crops):
    originals or decodes as the module docstring says, neighbours dropped at random."""
    s, batch = entry.tile, region.shape[0]
    places = [(row, column) for _, _, row, column in tiles.NEIGHBOURS]
    neighbours = torch.stack([region[:, :, r * s:(r + 1) * s, c * s:(c + 1) * s]
                              for r, c in places], 1).reshape(-1, 3, s, s)
    k = int(torch.randint(1, entry.iterations + 1, (1,), generator=generator))
    with torch.no_grad():
        decoded = torch.full_like(neighbours, 0.5)
        for t in range(k):
            decoded = decoded + network.decode(network.encode(neighbours - decoded, t), t)
        decoded = decoded.clamp(0, 1).reshape(batch, len(places), 3, s, s)
    originals = torch.rand(batch, generator=generator) < ORIGINAL_CONTEXT
    kept = torch.rand(batch, len(places), generator=generator) >= entry.context_dropout
    neighbours = neighbours.reshape(batch, len(places), 3, s, s)
    chosen = torch.where(originals[:, None, None, None, None], neighbours, decoded)
    context = region.new_zeros(batch, CONTEXT_CHANNELS, 2 * s, 3 * s)
    for index, (r, c) in enumerate(places):
        mask = kept[:, index].to(region.dtype)[:, None, None, None]
        context[:, :3, r * s:(r + 1) * s, c * s:(c + 1) * s] = (chosen[:, index] - 0.5) * mask
        context[:, 3:, r * s:(r + 1) * s, c * s:(c + 1) * s] = mask
    return context


def iterations_for(errors: list[torch.Tensor], target_db: float, cap: int) -> torch.Tensor:
    """Per tile, the fewest iterations whose MSE (``errors[k]``, one per tile) reaches
    ``target_db`` (``cap`` when none does)."""
    mse = torch.stack(errors).clamp_min(1e-12)
    reached = 10 * torch.log10(1 / mse) >= target_db
    first = torch.where(reached.any(0), reached.float().argmax(0), torch.full_like(
        reached[0], cap, dtype=torch.long))
    return first.clamp_max(cap)


@torch.no_grad()
def count_tables(network: TiledNetwork, entry: TiledModel, images, seed: int,
                 crops: int | None = None):
    """``(bit table, count table)`` counted by coding ``crops`` (``CONTEXT_CROPS``) crops
    at every rate point with the codec's allocation."""
    coder = TorchTileCoder(network.eval())
    channels = network.plan.code_channels
    bit_counts = binary_codes.ContextCounts(entry.iterations, channels)
    tile_counts = categorical_codes.SymbolCounts(len(entry.qualities), entry.iterations + 1)
    for crop in scaffold.counting_crops(images, seed, crops or CONTEXT_CROPS, CONTEXT_CROP_SIZE,
                                        entry.tile):
        padded = crop[0].permute(1, 2, 0).cpu().numpy()
        grid = tiles.Grid(padded.shape[0], padded.shape[1], entry.tile)
        for q, (target, cap) in enumerate(zip(entry.targets_db, entry.caps, strict=True)):
            coded = tiles.encode_tiles(coder, padded, grid, channels, target, cap)
            coding.add_bit_counts(bit_counts, coded.counts, coded.bits, grid)
            tile_counts.counts[q] += np.bincount(coded.counts.ravel(),
                                                 minlength=entry.iterations + 1)
    return bit_counts.probabilities(), tile_counts.probabilities()


class TiledTraining(scaffold.TorchTraining):
    """The loss of the module docstring."""

    entry: TiledModel
    checkpoint_format = CHECKPOINT_FORMAT
    extra_keys = ("prediction_mse",)
    libraries = ("torch", "compressai")

    def prepare(self) -> None:
        config, entry = self.config, self.entry
        if config.quality is not None or config.lmbda is not None or config.metric != "mse":
            raise TrainingError(f"{self.codec_name} trains one network for every rate point "
                                "(PSNR targets) with its paper's loss: --quality, --lambda and "
                                "--metric do not apply")
        training_options.refuse_gan_options(config, self.codec_name)
        if config.patch_size != 3 * entry.tile:
            raise TrainingError(f"--patch-size must be {3 * entry.tile} for {self.codec_name} "
                                f"(three {entry.tile}-pixel tiles: a tile and its context), "
                                f"got {config.patch_size}")
        self.widths = config.channels or (entry.predictor_width, entry.coder_width)

    def checkpoint_entries(self) -> dict:
        return {"widths": list(self.widths)}

    def build(self) -> scaffold.Trainables:
        self.network = TiledNetwork(self.entry, *self.widths).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate)
        return scaffold.Trainables({"model": self.network}, {"optimizer": self.optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        entry, network, s = self.entry, self.network, self.entry.tile
        region = batch[:, :, :2 * s, :]
        x = region[:, :, s:, s:2 * s]
        x_hat = network.predict(context_batch(network, region, entry, self.generator))
        errors = [((x - x_hat) ** 2).mean(dim=(1, 2, 3)).detach()]
        loss = (x - x_hat).abs().mean()
        prediction_mse = float(errors[0].mean())
        for t in range(entry.iterations):
            codes = network.encode(x - x_hat, t, stochastic=True, generator=self.generator)
            x_hat = x_hat + network.decode(codes, t)
            loss = loss + (x - x_hat).abs().mean()
            errors.append(((x - x_hat) ** 2).mean(dim=(1, 2, 3)).detach())
        loss = loss / (entry.iterations + 1)
        scaffold.descend(self.optimizer, loss, self.config.clip_norm)
        middle = len(entry.targets_db) // 2
        k = iterations_for(errors, entry.targets_db[middle], entry.caps[middle])
        bpp = float(k.float().mean()) * network.plan.code_channels * (s // 8) ** 2 / s**2
        return {"loss": loss.item(), "bpp": bpp, "distortion": float(errors[-1].mean()),
                "aux_loss": None, "prediction_mse": prediction_mse}

    def export(self) -> tuple[Path, dict]:
        """The two tables and ``minnen2017-tiled.safetensors``."""
        entry, config = self.entry, self.config
        network = TiledNetwork(entry, *self.widths)
        scaffold.loaded_on_cpu(network, self.network.state_dict())  # eval mode, on the CPU
        bit_table, count_table = count_tables(network, entry, [i.cpu() for i in self.images],
                                              config.seed)
        path = self.out / weights_locator.weights_filename("torch", entry.slug)
        save_tiled(network, bit_table, count_table, path,
                   {"model": entry.slug, "steps": str(self.state.step), "codec": self.codec_name},
                   config.half_kernels)
        return path, {
            "predictor_width": self.widths[0], "coder_width": self.widths[1],
            "code_channels": network.plan.code_channels, "tile": entry.tile,
            "iterations": entry.iterations, "targets_db": list(entry.targets_db),
            "caps": list(entry.caps), "context_dropout": entry.context_dropout,
            "parameters": sum(p.numel() for p in network.parameters()),
            "count_tables": {"crops": CONTEXT_CROPS, "crop_size": CONTEXT_CROP_SIZE},
        }


def train(entry: TiledModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) the tiled codec; see the module docstring."""
    return TiledTraining(entry, codec_name, config).run()
