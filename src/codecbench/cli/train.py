"""``codecbench train CODEC``: train a learned codec (see :mod:`codecbench.api.training`)."""

from __future__ import annotations

from pathlib import Path

import click

from codecbench.api.capabilities import Trainable
from codecbench.api.registry import NameConflictError, UnknownNameError, get_registry
from codecbench.api.training import LOSSES, METRICS, PERCEPTUAL_WEIGHT, TrainingConfig
from codecbench.datasets.split import SPLITS


@click.command()
@click.argument("codec_name", metavar="CODEC")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of training images (searched recursively).")
@click.option("--split", type=click.Choice(SPLITS), default="all", show_default=True,
              help="Train on every image of --data, or on its 'train' part only (the "
                   "fixed held-out photos stay unseen: 'codecbench run --split held-out').")
@click.option("--quality", type=click.IntRange(min=1), help="Rate point whose λ to use (model table).")
@click.option("--lambda", "lmbda", type=click.FloatRange(min=0, min_open=True),
              help="λ of the loss (instead of --quality).")
@click.option("--variable-rate", is_flag=True,
              help="CNN models: one network for every rate point of the model table (gain "
                   "units), written as <model>.safetensors, instead of --quality.")
@click.option("--metric", type=click.Choice(METRICS), default="mse", show_default=True,
              help="Distortion: λ·255²·MSE + bpp, or λ·(1−MS-SSIM) + bpp.")
@click.option("--loss", type=click.Choice(LOSSES), default="rate-distortion", show_default=True,
              help="perceptual: the distortion plus k_P·LPIPS-VGG (after Liu et al. 2022; "
                   "CNN models in PyTorch; needs the LPIPS-VGG weights).")
@click.option("--perceptual-weight", type=click.FloatRange(min=0, min_open=True),
              default=PERCEPTUAL_WEIGHT, show_default=True, help="k_P of --loss perceptual.")
@click.option("--steps", type=click.IntRange(min=1), default=10000, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--patch-size", type=click.IntRange(min=16), default=256, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=1e-4, show_default=True)
@click.option("--aux-lr", "aux_learning_rate", type=float, default=1e-3, show_default=True)
@click.option("--lr-milestones", default="0.8,0.95", show_default=True,
              help="Fractions of --steps after which the learning rate is multiplied by --lr-gamma.")
@click.option("--lr-gamma", type=float, default=0.3, show_default=True)
@click.option("--clip-norm", type=float, default=1.0, show_default=True,
              help="Gradient-norm clipping (0: off).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder (default codecbench-training/<codec>-<q or λ>); an existing "
                   "run there is resumed.")
@click.option("--init-from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Start from these weights or this checkpoint (fine-tune another rate point).")
@click.option("--channels", type=(int, int), help="N M overriding the model table (small models).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--log-every", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this many minutes with a checkpoint (run again to continue).")
@click.option("--warmup", type=click.FloatRange(0, 1),
              help="GAN models: fraction of the steps without the adversarial loss "
                   "(default: the model table's).")
@click.option("--half-kernels", is_flag=True,
              help="Store convolution kernels as float16 in the exported weights.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(codec_name, out, lr_milestones, time_limit, no_progress, **options):
    """Train CODEC (e.g. torch/bmshj2018-hyperprior) on a folder of images.

    Checkpoints, resume, CSV training curves; at the end the weights
    (<model>-q<Q>.safetensors) and training.json are written into the run folder.
    """
    registry = get_registry()
    try:
        codec = registry.get("codecs", codec_name)
    except (UnknownNameError, NameConflictError) as exc:
        raise click.ClickException(str(exc)) from None
    if not isinstance(codec, Trainable):
        raise click.ClickException(f"codec {codec_name!r} is not trainable")
    if options["quality"]:
        tag = f"q{options['quality']}"
    elif options["lmbda"]:
        tag = f"lambda{options['lmbda']:g}"
    elif options["variable_rate"]:
        tag = "variable-rate"
    else:
        tag = "run"
    if out is None:
        out = Path("codecbench-training") / f"{codec_name.replace('/', '-')}-{tag}"
    try:
        milestones = tuple(float(part) for part in lr_milestones.split(",") if part.strip())
        config = TrainingConfig(
            out=out, lr_milestones=milestones, progress=not no_progress,
            time_limit_s=time_limit * 60 if time_limit else None, **options,
        )
        result = codec.train(config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if result.finished:
        click.echo(f"finished {result.step} steps; weights: {result.weights}")
    else:
        click.echo(f"stopped at step {result.step} (time limit); run the same command to "
                   f"continue from {result.out / 'checkpoint.pt'}")
