"""``codecbench train torch/klopp2018-codespace``: the code-space predictor's objective.

Per step: random crops, each with a random rate point ``k`` (one network serves every
rate point through its gain vectors), ``(x̂, bits) = model(x, k)`` (:mod:`.network`) and::

    L = mean over the batch of  λ_k · 255² · MSE(x, x̂) + bits / (H · W)
        (--loss perceptual: + λ_k · k_P · LPIPS_VGG(x, x̂))

with ``bits = Σ −log2 P(q̃)`` of the noisy code under the coarsest grid's model and each
level's prediction from the rounded coarser grid (the estimate the codec reports). One
Adam optimises the autoencoder, the predictors, the coarsest grid's model and the gains
together (end to end). At export the coarsest grid's per-channel Laplace (``prior_mean``,
``prior_log_scale``) is refitted by maximum likelihood on the integer codes of every
rate point of deterministic training crops, the rest of the network fixed
(:func:`fit_coarse_prior`: its two vectors move by at most the learning rate per Adam
step in training, too slowly from their initial values). ``curves.csv``: ``bpp`` and ``distortion`` (MSE) averaged over the
batch's mixed rate points. ``--channels N M`` overrides the width and code channels (tiny
test models). At the end ``klopp2018-codespace.safetensors`` is written. Checkpoints,
exact resume, time limit and ``training.json`` are the torch scaffold's
(:mod:`codecbench.codecs.learned.torch.training`); the model trains from scratch.
"""

from __future__ import annotations

from pathlib import Path

import torch

from codecbench.api.training import TrainingConfig, TrainingResult
from codecbench.codecs.learned import training_options, weights_locator
from codecbench.codecs.learned.codespace.torch.codecs import save_codespace
from codecbench.codecs.learned.codespace.torch.network import CodeSpace, laplace_bits
from codecbench.codecs.learned.models import CodeSpaceModel
from codecbench.codecs.learned.torch import training as scaffold
from codecbench.codecs.learned.torch.perceptual_loss import perceptual_term
from codecbench.codecs.learned.training_loop import TrainingError

CHECKPOINT_FORMAT = "codecbench-torch-codespace-checkpoint/1"
FIT_CROPS = 32
FIT_CROP_SIZE = 256
FIT_STEPS = 300
FIT_LEARNING_RATE = 0.02


def fit_coarse_prior(network: CodeSpace, images, seed: int) -> float:
    """Fit ``prior_mean`` and ``prior_log_scale`` to the coarsest grids of the integer
    codes ``round(g_k ⊙ y)`` of every rate point ``k`` on :data:`FIT_CROPS` deterministic
    crops (Adam on their bits, the network fixed); returns the final bits per symbol."""
    entry = network.entry
    stride = 2**entry.levels
    with torch.no_grad():
        codes = torch.cat([network.analysis(crop)[..., ::stride, ::stride]
                           for crop in scaffold.counting_crops(images, seed, FIT_CROPS,
                                                               FIT_CROP_SIZE,
                                                               entry.padding_multiple)])
        gains = network.encode_gain.exp()[:, None, :, None, None]
        q = torch.round(codes[None] * gains)  # rate points × crops × M × a × b
    vectors = [network.prior_mean, network.prior_log_scale]
    optimizer = torch.optim.Adam(vectors, lr=FIT_LEARNING_RATE)
    bits = torch.zeros(())
    for _ in range(FIT_STEPS):
        mean = network.prior_mean[None, None, :, None, None] * gains
        scale = (network.prior_log_scale[None, None, :, None, None].exp() * gains
                 ).clamp_min(entry.scale_bounds[0])
        bits = laplace_bits(q, mean, scale).mean()
        optimizer.zero_grad(set_to_none=True)
        bits.backward()
        optimizer.step()
    return float(bits.detach())


class CodeSpaceTraining(scaffold.TorchTraining):
    """The objective of the module docstring."""

    entry: CodeSpaceModel
    checkpoint_format = CHECKPOINT_FORMAT
    perceptual_loss = True

    def prepare(self) -> None:
        config = self.config
        if config.quality is not None or config.lmbda is not None or config.metric != "mse":
            raise TrainingError(f"{self.codec_name} trains one network for every rate point "
                                "with the model table's λ ladder: --quality, --lambda and "
                                "--metric do not apply")
        training_options.refuse_gan_options(config, self.codec_name)
        training_options.check_patch_size(config, self.entry.padding_multiple, self.codec_name)
        self.width, self.channels = config.channels or (self.entry.width,
                                                        self.entry.code_channels)
        self.lambdas = torch.tensor(self.entry.lambdas, dtype=torch.float32)
        self.perceptual = perceptual_term(config, self.device)
        if self.perceptual is not None:
            self.extra_keys = ("perceptual",)

    def checkpoint_entries(self) -> dict:
        return {"width": self.width, "code_channels": self.channels}

    def build(self) -> scaffold.Trainables:
        self.network = CodeSpace(self.entry, self.width, self.channels).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(),
                                          lr=self.config.learning_rate)
        return scaffold.Trainables({"model": self.network}, {"optimizer": self.optimizer})

    def train_step(self, step: int, batch: torch.Tensor) -> dict:
        qualities = torch.randint(1, len(self.entry.qualities) + 1, (len(batch),),
                                  generator=self.generator).to(self.device)
        x_hat, bits = self.network(batch, qualities)
        mse = (x_hat - batch).pow(2).flatten(1).mean(1)
        bpp = bits / (batch.shape[-2] * batch.shape[-1])
        lambdas = self.lambdas.to(self.device)[qualities - 1]
        loss = (lambdas * 255**2 * mse + bpp).mean()
        extra = {}
        if self.perceptual is not None:  # λ_q · k_P · LPIPS per crop, as λ_q · 255²·MSE
            term = self.perceptual.per_image(x_hat, batch)
            loss = loss + (lambdas * term).mean()
            extra["perceptual"] = term.mean().item()
        scaffold.descend(self.optimizer, loss, self.config.clip_norm)
        return {"loss": loss.item(), "bpp": bpp.mean().item(), "distortion": mse.mean().item(),
                "aux_loss": None, **extra}

    def export(self) -> tuple[Path, dict]:
        """``klopp2018-codespace.safetensors``."""
        entry, network = self.entry, self.network
        cpu_network = CodeSpace(entry, network.width, network.code_channels,
                                network.predictor_width)
        scaffold.loaded_on_cpu(cpu_network, network.state_dict())
        images = [image.cpu() for image in self.images]
        coarse_bits = fit_coarse_prior(cpu_network, images, self.config.seed)
        path = self.out / weights_locator.weights_filename("torch", entry.slug)
        save_codespace(cpu_network, path,
                       {"model": entry.slug, "lambdas": ",".join(map(repr, entry.lambdas)),
                        "steps": str(self.state.step), "codec": self.codec_name,
                        **training_options.loss_metadata(self.config)},
                       self.config.half_kernels)
        gains = network.encode_gain.detach().cpu().exp().mean(1).tolist()
        return path, {
            "width": network.width, "code_channels": network.code_channels,
            "predictor_width": network.predictor_width, "levels": entry.levels,
            "lambdas": list(entry.lambdas), "mean_gains": [round(g, 4) for g in gains],
            "coarse_prior_fit": {"crops": FIT_CROPS, "crop_size": FIT_CROP_SIZE,
                                 "steps": FIT_STEPS, "bits_per_symbol": round(coarse_bits, 4)},
        }


def train(entry: CodeSpaceModel, codec_name: str, config: TrainingConfig) -> TrainingResult:
    """Train (or continue) the code-space predictor network; see the module docstring."""
    return CodeSpaceTraining(entry, codec_name, config).run()
